"""Spec validation: every bad value becomes one located message."""

import os

import pytest
import yaml

from sepprof.errors import SpecError
from sepprof.spec.layer import LayerSpec, load_layers, parse_variants, read_yaml, validate_flags


def flag_error(**values) -> str:
    with pytest.raises(SpecError) as exc:
        validate_flags(LayerSpec, values)
    return str(exc.value)


def test_defaults_are_the_worked_example():
    layer = LayerSpec()
    assert (layer.k, layer.cin, layer.cout, layer.size, layer.padding) == (3, 256, 256, 56, 1)
    assert LayerSpec(cout=64).cin == 64
    assert LayerSpec(k=5, dilation=2).padding == 4


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"k": 0}, "--k: must be >= 1 (got 0)"),
        ({"cout": -3}, "--cout: must be >= 1 (got -3)"),
        ({"cin": 0}, "--cin: must be >= 1 (got 0)"),
        ({"size": 0}, "--size: must be >= 1 (got 0)"),
        (
            {"k": 9, "size": 3, "padding": 0},
            "--k: a 9x9 kernel (span 9) is larger than the padded input (3 + 2x0 = 3)",
        ),
        ({"act": "gelu"}, "--act: must be one of 'relu', 'relu6', 'silu' or 'none' (got 'gelu')"),
    ],
)
def test_flag_errors_name_the_flag_and_rule(values, message):
    assert flag_error(**values) == message


def test_variant_names():
    layer = LayerSpec(cin=32, cout=64)
    assert [str(v) for v in parse_variants("standard, separable,grouped:8,inverted:6", layer)] == [
        "standard",
        "separable",
        "grouped:8",
        "inverted:6",
    ]
    with pytest.raises(ValueError, match="did you mean 'separable'.*valid: standard, separable"):
        parse_variants("seperable", layer)
    with pytest.raises(ValueError, match="groups must divide cin=32 and cout=64"):
        parse_variants("grouped:3", layer)
    with pytest.raises(ValueError, match="must be written 'grouped:N'"):
        parse_variants("grouped", layer)
    with pytest.raises(ValueError, match="not a positive integer"):
        parse_variants("inverted:0", layer)
    with pytest.raises(ValueError, match="no variant"):
        parse_variants(" , ", layer)


def test_layers_file(tmp_path):
    path = tmp_path / "layers.yaml"
    path.write_text(
        "variants: [standard, separable]\nlayers:\n  - {name: a, k: 3, cout: 64}\n"
        "  - {name: b, k: 5, cin: 32, cout: 128, size: 28, stride: 2}\n"
    )
    layers, variants = load_layers(path)
    assert [layer.name for layer in layers] == ["a", "b"]
    assert layers[1].cin == 32 and variants == ["standard", "separable"]
    path.write_text("- {k: 3, cout: 8}\n")
    assert load_layers(path)[0][0].cout == 8


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("layers:\n  - {k: 3, cout: 64}\n  - {k: 0}\n", "layers.yaml:3: layers[1].k: must be >= 1"),
        (
            "layers:\n  - {k: 3,\n     kout: 64}\n",
            "layers.yaml:3: layers[0].kout: unknown key 'kout'; did you mean 'cout'?",
        ),
        ("layers: [{k: 3}\n", "layers.yaml:2: YAML syntax error, column 1"),
        ("layers: []\n", "layers.yaml:1: layers: must not be empty"),
        (
            "layers:\n  - {k: three}\n",
            "layers.yaml:2: layers[0].k: must be an integer (got 'three')",
        ),
        ("variants: [standard, seperable]\nlayers: [{k: 3}]\n", "unknown variant 'seperable'"),
        ("42\n", "expected a list of layers"),
        ("layers:\n  - [1, 2]\n", "layers[0]: must be a mapping of keys to values"),
    ],
)
def test_layer_file_errors_are_located(tmp_path, text, message):
    path = tmp_path / "layers.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as exc:
        load_layers(path)
    assert message in str(exc.value)
    assert str(path) in str(exc.value)


def test_missing_and_non_files(tmp_path):
    with pytest.raises(SpecError, match="nope.yaml: file not found"):
        read_yaml(tmp_path / "nope.yaml")
    with pytest.raises(SpecError, match="is a directory, not a file"):
        read_yaml(tmp_path)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00junk")
    with pytest.raises(SpecError, match="not UTF-8"):
        read_yaml(binary)


def test_alias_bomb_and_deep_nesting_are_refused_quickly(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [
        f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, "
        f"*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]"
        for i in range(1, 10)
    ]
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\n")
    with pytest.raises(SpecError, match="expands to more than"):
        read_yaml(bomb)
    deep = tmp_path / "deep.yaml"
    deep.write_text("[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(SpecError, match="nest"):
        read_yaml(deep)
    recursive = tmp_path / "recursive.yaml"
    recursive.write_text("a: &a [*a]\n")
    with pytest.raises(SpecError):
        read_yaml(recursive)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "layers:\n  - {k: 3, cout: 8, cout: 16}\n",
            ":2: key 'cout' is given twice (line 2, columns 12 and 21)",
        ),
        ("layers:\n  - k: 3\n    k: 5\n", ":3: key 'k' is given twice (lines 2 and 3)"),
        ("layers: []\nlayers: []\n", ":2: key 'layers' is given twice (lines 1 and 2)"),
    ],
)
def test_duplicate_keys_are_refused_with_both_lines(tmp_path, text, message):
    path = tmp_path / "dup.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as exc:
        read_yaml(path)
    assert str(exc.value) == f"{path}{message}; a key may appear once"


def test_a_merge_key_and_equal_values_under_different_keys_are_fine(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("base: &b {k: 3}\nlayers:\n  - {<<: *b, cout: 8}\n  - {<<: *b, cout: 8}\n")
    assert read_yaml(path).data["layers"][1] == {"k": 3, "cout": 8}


def test_a_fifo_and_a_large_file_are_refused_without_reading(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with pytest.raises(SpecError, match=r"pipe.yaml: is not a regular file \(it is a FIFO"):
        read_yaml(fifo)
    big = tmp_path / "big.yaml"
    with big.open("wb") as f:
        f.truncate((16 << 20) + 1)
    with pytest.raises(SpecError, match="big.yaml: larger than the 16 MiB limit"):
        read_yaml(big)


@pytest.mark.parametrize("name", ["a\x1b]0;pwned\x07", "x\u202eexe.yaml", "two\nlines"])
def test_names_that_would_act_on_a_terminal_are_refused(tmp_path, name):
    path = tmp_path / "names.yaml"
    path.write_text(yaml.safe_dump({"layers": [{"name": name, "cout": 8}]}))
    with pytest.raises(SpecError) as exc:
        load_layers(path)
    assert ":3: layers[0].name: must be printable text on one line" in str(exc.value)
    assert str(exc.value).isprintable()


def test_repeated_layer_names_and_variants_are_refused(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text("layers:\n  - {name: a, cout: 8}\n  - {name: a, cout: 16}\n")
    with pytest.raises(SpecError, match=r":3: layers\[1\].name: two layers are named 'a'"):
        load_layers(path)
    with pytest.raises(ValueError, match="variant 'grouped:2' is given twice"):
        parse_variants("standard,grouped:2,grouped:02")
    for empty in ("", ",", " , "):
        with pytest.raises(ValueError, match="no variant given"):
            parse_variants(empty)
