"""units' constants worked by hand (issue #29: mutmut 3 never changes a module-level constant).

One MAC is two FLOPs; fp32 is 4 bytes, fp16 and bf16 are 2; the suffixes are decimal powers of
ten (K = 1e3 ... T = 1e12), upper or lower case, with an optional space.
"""

import pytest

from sepprof.units import DTYPE_BYTES, FLOPS_PER_MAC, human, parse_quantity


def test_two_flops_per_mac_and_the_dtype_sizes():
    assert FLOPS_PER_MAC == 2
    assert DTYPE_BYTES == {"fp32": 4, "fp16": 2, "bf16": 2}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("7", 7.0),
        ("7K", 7e3),
        ("7k", 7e3),
        ("7M", 7e6),
        ("7m", 7e6),
        ("7G", 7e9),
        ("7g", 7e9),
        ("7T", 7e12),
        ("7t", 7e12),
        (" .5 T ", 0.5e12),
        ("2.5e3", 2500.0),
        ("1E-3", 0.001),
    ],
)
def test_every_suffix_is_a_decimal_power(text, value):
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["7P", "7KB", "K", "7 K K", "-7", "7,5"])
def test_anything_else_is_refused(text):
    with pytest.raises(ValueError, match="optional K/M/G/T suffix"):
        parse_quantity(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (7e3, "7.00K"),
        (7e6, "7.00M"),
        (7e9, "7.00G"),
        (7e12, "7.00T"),
        (7e15, "7000T"),
        (999_999, "1000K"),
    ],
)
def test_human_uses_each_suffix_from_its_power_up(value, text):
    assert human(value) == text
