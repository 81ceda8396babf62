"""Fuzzing the spec loaders, the JSON readers and the CLI with generated and mutated YAML and
JSON and with numeric flags: the only outcomes allowed are a valid input or one located error
(exit 2) — never another exception, never a NaN in --json."""

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sepprof.errors import SpecError
from sepprof.spec.budgets import load_budgets
from sepprof.spec.layer import load_layers
from sepprof.spec.network import load_network

ROOT = Path(__file__).resolve().parents[1]
KEYS = [
    "k",
    "cin",
    "cout",
    "size",
    "stride",
    "padding",
    "groups",
    "t",
    "c",
    "n",
    "s",
    "se",
    "act",
    "bn",
    "bias",
    "repeat",
    "name",
    "kind",
    "global",
    "body",
    "shortcut",
    "input",
    "blocks",
    "layers",
    "budgets",
    "config",
    "max_macs",
    "conv",
    "separable",
    "inverted_residual",
    "residual",
    "pool",
    "fc",
    "inner",
    "defaults",
    "reference",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.integers(-3, 300),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["relu", "silu", "max", "avg", "1M", "5%", "𝛼", "\u202e", "~", "!!"]),
)
TREES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), children, max_size=5)
    ),
    max_leaves=25,
)
LOADERS = (load_network, load_layers, load_budgets)
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def only_spec_errors(path: Path) -> None:
    for loader in LOADERS:
        try:
            result = loader(path)
            if loader is load_network:
                result.plan()
        except SpecError as exc:
            assert str(exc).startswith(str(path)), str(exc)
            assert "\n" not in str(exc)


@FUZZ
@given(tree=TREES)
def test_generated_yaml_is_valid_or_a_spec_error(tmp_path, tree):
    path = tmp_path / "fuzz.yaml"
    path.write_text(
        yaml.safe_dump(
            {"input": [3, 32, 32], "blocks": [tree]} if isinstance(tree, dict) else tree,
            allow_unicode=True,
        )
    )
    only_spec_errors(path)


@FUZZ
@given(tree=TREES)
def test_generated_documents(tmp_path, tree):
    path = tmp_path / "doc.yaml"
    path.write_text(yaml.safe_dump(tree, allow_unicode=True))
    only_spec_errors(path)


def mutate(text: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    data = bytearray(text)
    for op, at, junk in edits:
        at = at % (len(data) + 1)
        if op == 0:
            data[at:at] = junk
        elif op == 1:
            del data[at : at + len(junk)]
        else:
            data[at : at + len(junk)] = junk
    return bytes(data)


@FUZZ
@given(
    name=st.sampled_from(
        [
            "networks/mobilenet_v2.yaml",
            "networks/xception.yaml",
            "layers/mobilenet_v1_layers.yaml",
            "budgets/reference.yaml",
        ]
    ),
    edits=st.lists(
        st.tuples(
            st.integers(0, 2),
            st.integers(0, 10**6),
            st.binary(min_size=1, max_size=6)
            | st.sampled_from(
                [
                    b":",
                    b"- ",
                    b"{",
                    b"]",
                    b"&a",
                    b"*a",
                    b"\t",
                    b"\n  ",
                    b"!!python/object:os.system",
                    b"\xff\xfe",
                    b"999999999999999999999",
                ]
            ),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_mutated_reference_configs(tmp_path, name, edits):
    source = ROOT / "configs" / name
    path = tmp_path / source.name
    path.write_bytes(mutate(source.read_bytes(), edits))
    if name.startswith("budgets/"):
        (tmp_path.parent / "networks").mkdir(exist_ok=True)
    only_spec_errors(path)


def test_python_tags_are_never_executed(tmp_path):
    path = tmp_path / "evil.yaml"
    marker = tmp_path / "pwned"
    path.write_text(f"input: !!python/object/apply:os.system ['touch {marker}']\nblocks: []\n")
    for loader in LOADERS:
        try:
            loader(path)
        except SpecError as exc:
            assert "could not determine a constructor" in str(exc) or "YAML" in str(exc)
    assert not marker.exists()


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tree=TREES)
def test_cli_exits_0_or_2_never_crashes(cli, tmp_path, tree):
    path = tmp_path / "cli.yaml"
    path.write_text(yaml.safe_dump({"input": [3, 16, 16], "blocks": [tree]}, allow_unicode=True))
    for args in (
        ["profile", path, "--analytic"],
        ["compare", "--config", path, "--analytic"],
        ["check", path],
    ):
        run = cli(*args)
        assert run.code in (0, 1, 2), (args, run.err)
        assert "Traceback" not in run.err and "internal error" not in run.err, run.err


# --- JSON inputs (merge's results files, check's baselines) -------------------------------------

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["sepprof.compare/1", "sepprof.report/1", "sepprof.check/1", "cpu"]),
)
JSON_KEYS = st.sampled_from(
    [
        "schema",
        "environment",
        "spec",
        "variants",
        "comparisons",
        "metrics",
        "name",
        "params",
        "macs_analytic",
        "latency_ms",
        "median",
        "iqr",
        "runs",
        "main",
        "layers",
        "speedup",
    ]
) | st.text(max_size=6)
JSON_TREES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(JSON_KEYS, children, max_size=5)
    ),
    max_leaves=30,
)


def only_user_errors(reader, path: Path) -> None:
    from sepprof.errors import UserError

    try:
        reader(path)
    except UserError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc), str(exc)
        assert str(exc).isprintable(), str(exc)


@FUZZ
@given(tree=JSON_TREES, schema=st.sampled_from(["sepprof.compare/1", "sepprof.check/1", None]))
def test_generated_json_is_read_or_one_user_error(tmp_path, tree, schema):
    from sepprof.spec.json_inputs import read_baseline, read_results

    if schema and isinstance(tree, dict):
        tree = {**tree, "schema": schema}
    path = tmp_path / "fuzz.json"
    path.write_text(json.dumps(tree))  # NaN and Infinity written as JSON's bare constants
    only_user_errors(read_results, path)
    only_user_errors(read_baseline, path)


@FUZZ
@given(
    edits=st.lists(
        st.tuples(
            st.integers(0, 2),
            st.integers(0, 10**6),
            st.binary(min_size=1, max_size=6)
            | st.sampled_from([b"NaN", b"-Infinity", b"1e400", b'"x"', b"[[[[", b"{", b"null"]),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_mutated_results_files(tmp_path, compare_json, edits):
    from sepprof.spec.json_inputs import read_baseline, read_results

    path = tmp_path / "mutated.json"
    path.write_bytes(mutate(compare_json, edits))
    only_user_errors(read_results, path)
    only_user_errors(read_baseline, path)


@pytest.fixture(scope="module")
def compare_json() -> bytes:
    from sepprof.commands.compare import compare

    result = compare(k=3, cout=8, size=8, variants=["standard", "separable"], trace=False)
    return json.dumps(result.to_dict()).encode()


# --- numeric flags --------------------------------------------------------------------------------

NUMBERS = st.one_of(
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["nan", "inf", "-inf", "1e400", "-0", "0x10", "1_000", "", " 3", "3.0"]),
)
NUMERIC_FLAGS = [
    ("compare", "--k"),
    ("compare", "--cout"),
    ("compare", "--size"),
    ("compare", "--batch"),
    ("compare", "--stride"),
    ("compare", "--padding"),
    ("compare", "--dilation"),
    ("compare", "--threads"),
    ("compare", "--rounds"),
    ("compare", "--min-time"),
    ("profile", "--width-mult"),
    ("profile", "--resolution"),
    ("profile", "--batch"),
    ("sweep", "--k"),
    ("sweep", "--cout"),
    ("sweep", "--stride"),
]


SMALL = {
    "compare": {"--cout": "8", "--size": "8"},
    "profile": {},
    "sweep": {"--k": "3", "--cout": "8", "--size": "8"},
}


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(flag=st.sampled_from(NUMERIC_FLAGS), value=NUMBERS)
def test_numeric_flags_are_accepted_or_refused_in_one_line(cli, flag, value):
    command, name = flag
    network = [str(ROOT / "configs" / "networks" / "mobilenet_v1.yaml")]
    small = [x for k, v in SMALL[command].items() if k != name for x in (k, v)]
    args = [*(network if command == "profile" else []), *small, name, str(value)]
    run = cli(command, *args, "--analytic", "--json")
    assert run.code in (0, 2), (flag, value, run.err)
    assert "Traceback" not in run.err and "internal error" not in run.err, run.err
    if run.code == 0:
        assert "NaN" not in run.out and "Infinity" not in run.out
        json.loads(run.out)
    else:
        assert run.err.count("\n") == 1 and run.err.startswith("error: "), run.err
