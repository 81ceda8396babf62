"""Fuzzing the spec loaders and the CLI with generated and mutated YAML: the only outcomes
allowed are a valid spec or one located SpecError (exit 2) — never another exception."""

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sepprof.budgets import load_budgets
from sepprof.errors import SpecError
from sepprof.network import load_network
from sepprof.spec import load_layers

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
