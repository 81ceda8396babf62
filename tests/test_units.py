import pytest

from sepprof.units import flops_to_macs, human, macs_to_flops, parse_percent, parse_quantity


def test_one_mac_is_two_flops():
    assert macs_to_flops(1_849_688_064) == 3_699_376_128
    assert flops_to_macs(3_699_376_128) == 1_849_688_064


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (589_824, "590K"),
        (67_840, "67.8K"),
        (1_849_688_064, "1.85G"),
        (12, "12"),
        (0, "0"),
        (None, "n/a"),
        (999, "999"),
        (1000, "1.00K"),
        (0.874, "0.874"),
        (0.0, "0"),
        (-1_849_688_064, "-1.85G"),
        (-0.5, "-0.500"),
        (float("nan"), "nan"),
        (float("inf"), "inf"),
    ],
)
def test_human(value, text):
    assert human(value) == text


@pytest.mark.parametrize(
    ("text", "value"),
    [("600M", 600e6), ("4.5M", 4.5e6), ("1e9", 1e9), (42, 42.0), ("2k", 2000.0), ("1.5 G", 1.5e9)],
)
def test_parse_quantity(text, value):
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["abc", "", "5MB", True, "1.2.3"])
def test_parse_quantity_rejects(text):
    with pytest.raises(ValueError, match="expected a number"):
        parse_quantity(text)


def test_parse_percent():
    assert parse_percent("5%") == pytest.approx(0.05)
    assert parse_percent("12.5%") == pytest.approx(0.125)
    assert parse_percent(" 40 ") == pytest.approx(0.4)
    assert parse_percent(12.5) == pytest.approx(0.125)
    for bad in ("five", True):
        with pytest.raises(ValueError, match="expected a percentage such as 5%"):
            parse_percent(bad)
