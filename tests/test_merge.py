"""``sepprof merge``: results from several machines in one table."""

import json

import pytest


def save_compare(cli, path, hostname: str) -> None:
    run = cli(
        "compare", "--cout", "16", "--size", "8", "--rounds", "2", "--min-time", "0.002", "--json"
    )
    doc = run.json()
    doc["environment"]["hostname"] = hostname
    path.write_text(json.dumps(doc))


def test_merge_lines_up_machines(cli, tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    save_compare(cli, a, "laptop")
    save_compare(cli, b, "server")
    run = cli("merge", a, b, "--json")
    assert run.code == 0, run.err
    doc = run.json()
    (layer,) = doc["layers"]
    machines = {(r["machine"].split()[0], r["variant"]) for r in layer["rows"]}
    assert machines == {
        ("laptop", "standard"),
        ("laptop", "separable"),
        ("server", "standard"),
        ("server", "separable"),
    }
    sep = [r for r in layer["rows"] if r["variant"] == "separable"]
    assert all(r["speedup"] > 0 and r["macs_ratio"] < 0.5 for r in sep)
    page = tmp_path / "merged.md"
    table = cli("merge", a, b, "--out", page)
    assert table.code == 0 and "laptop" in table.out and "server" in table.out
    assert "| laptop" in page.read_text()
    assert cli("merge", a, b, "--out", page).code == 2  # exists, no --force


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"schema": "sepprof.profile/1"}',
            "expected sepprof.compare/1, sepprof.compare-set/1 or sepprof.report/1 results, got 'sepprof.profile/1'",
        ),
        ("not json", "not a JSON results file"),
        ('{"schema": "sepprof.compare/1"}', "malformed sepprof.compare/1 results"),
    ],
)
def test_merge_rejects_other_files(cli, tmp_path, content, message):
    path = tmp_path / "x.json"
    path.write_text(content)
    run = cli("merge", path)
    assert run.code == 2 and message in run.err and run.out == ""


def test_merge_missing_file(cli, tmp_path):
    run = cli("merge", tmp_path / "gone.json")
    assert run.code == 2 and "gone.json: file not found" in run.err


def test_merge_reads_a_compare_set(cli, tmp_path):
    """compare --config --json is one sepprof.compare-set/1 document; merge takes it whole."""
    layers = tmp_path / "layers.yaml"
    layers.write_text("- {name: a, k: 3, cout: 8, size: 8}\n- {name: b, k: 5, cout: 16, size: 8}\n")
    out = tmp_path / "set.json"
    out.write_text(cli("compare", "--config", layers, "--analytic", "--json").out)
    doc = cli("merge", out, "--json").json()
    assert doc["schema"] == "sepprof.merge/1"
    assert [layer["spec"]["k"] for layer in doc["layers"]] == [3, 5]
