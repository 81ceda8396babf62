"""JSON inputs (merge's results files, check's baselines): schema-checked, bounded in size and
depth, NaN and infinities refused, every error one line naming the file and the key."""

import json
import os

import pytest

from sepprof.errors import UserError
from sepprof.spec.json_inputs import MAX_JSON_DEPTH, load_json, read_baseline, read_results


@pytest.fixture(scope="module")
def compare_doc(tmp_path_factory):
    """A real ``compare --json`` document (analytic, so quick)."""
    from sepprof.commands.compare import compare
    from sepprof.spec.layer import LayerSpec, parse_variants

    layer = LayerSpec(k=3, cout=8, size=8)
    return compare(layer, parse_variants("standard,separable"), trace=False).to_dict()


def write(tmp_path, data, name="in.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def error_of(reader, path) -> str:
    with pytest.raises(UserError) as exc:
        reader(path)
    message = str(exc.value)
    assert message.startswith(str(path)) and "\n" not in message
    return message.removeprefix(f"{path}: ")


def test_a_compare_document_and_a_list_of_them_are_read(tmp_path, compare_doc):
    assert read_results(write(tmp_path, compare_doc)) == [compare_doc]
    assert len(read_results(write(tmp_path, [compare_doc, compare_doc]))) == 2


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d["variants"][0].update(params="576"),
            "malformed sepprof.compare/1 results: variants[0].params: must be an integer "
            "(got '576')",
        ),
        (
            lambda d: d["variants"][1]["stages"][0].update(macs_analytic=-1),
            "variants[1].stages[0].macs_analytic: must be >= 0 (got -1)",
        ),
        (lambda d: d.update(variants=[]), "variants: must not be empty"),
        (lambda d: d.pop("environment"), "environment: is required"),
        (lambda d: d.update(comparisons="all"), "comparisons: must be a list (got 'all')"),
        (
            lambda d: d["variants"][0].update(latency_ms={"cpu": {"median": 1.0}}),
            "variants[0].latency_ms.cpu.iqr: is required",
        ),
    ],
)
def test_wrong_types_name_the_key(tmp_path, compare_doc, edit, message):
    doc = json.loads(json.dumps(compare_doc))
    edit(doc)
    assert message in error_of(read_results, write(tmp_path, doc))


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_nan_and_infinities_are_refused_naming_the_key(tmp_path, compare_doc, constant):
    text = json.dumps(compare_doc).replace('"macs_ratio": 0.', f'"macs_ratio": {constant}, "x": 0.')
    message = error_of(read_results, write(tmp_path, text))
    assert message == "comparisons[0].macs_ratio: must be a finite number (got NaN/Infinity)"


def test_deep_nesting_is_refused_without_recursion(tmp_path):
    deep = write(tmp_path, "[" * 100_000 + "]" * 100_000)
    assert error_of(load_json, deep) == f"nested more than {MAX_JSON_DEPTH} levels deep"
    ok = write(tmp_path, "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH, "ok.json")
    assert load_json(ok) is not None
    brackets_in_strings = write(tmp_path, json.dumps({"s": "[" * 1000}), "s.json")
    assert load_json(brackets_in_strings) == {"s": "[" * 1000}


def test_other_documents_are_named(tmp_path):
    message = error_of(read_results, write(tmp_path, {"schema": "sepprof.profile/1"}))
    assert message == (
        "expected sepprof.compare/1, sepprof.compare-set/1 or sepprof.report/1 results, got 'sepprof.profile/1'"
    )
    assert "got a JSON int" in error_of(read_results, write(tmp_path, [3]))


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        ("fast", "metrics: must be a mapping of keys to values (got 'fast')"),
        ({"net": {"macs": "1M"}}, "metrics.net.macs: must be a number (got '1M')"),
        ({"net": [1, 2]}, "metrics.net: must be a mapping of keys to values (got list)"),
    ],
)
def test_baselines_are_checked(tmp_path, metrics, message):
    path = write(tmp_path, {"schema": "sepprof.check/1", "metrics": metrics})
    assert error_of(read_baseline, path) == message


def test_a_baseline_reads_its_metrics_and_a_missing_one_says_how_to_make_it(tmp_path):
    good = {"schema": "sepprof.check/1", "metrics": {"net": {"macs": 5, "latency_ms.cpu": 1.5}}}
    assert read_baseline(write(tmp_path, good)) == {"net": {"macs": 5.0, "latency_ms.cpu": 1.5}}
    assert error_of(read_baseline, tmp_path / "gone.json") == (
        "file not found (create it with --update-baseline)"
    )


def test_a_fifo_never_blocks(tmp_path):
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    for reader in (read_results, read_baseline):
        assert "is not a regular file (it is a FIFO" in error_of(reader, fifo)


def test_json_output_writes_non_finite_numbers_as_null_and_says_where(capsys):
    from sepprof.render.json import render_json

    class Result:
        def to_dict(self):
            return {"a": float("nan"), "b": [1.5, float("inf")], "c": {"d": -float("inf")}}

    text = render_json(Result())
    assert json.loads(text) == {"a": None, "b": [1.5, None], "c": {"d": None}}
    assert "NaN" not in text and "Infinity" not in text
    assert capsys.readouterr().err == "note: not a finite number, written as null: a, b[1], c.d\n"
