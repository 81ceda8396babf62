"""Mutation testing of the modules that decide sepprof's numbers (mutmut 3), one module at a time.

Slow (minutes per module), so not in CI. Each module runs in its own copy of the tree under
/tmp, with only the fast test files that cover it, so a run never touches the working tree:

    pip install -e ".[test,mutation]"
    python benchmarks/mutation.py                      # every module below
    python benchmarks/mutation.py claims roofline      # some of them
    python benchmarks/mutation.py claims --show        # also print each surviving mutant's diff
    python benchmarks/mutation.py budgets --constants  # only its constant mutants
    python benchmarks/mutation.py --list               # the modules and their test files
    python benchmarks/mutation.py --planted            # the bugs issues #18 and #29 planted
    python benchmarks/mutation.py rows --source DIR    # copy DIR instead of this checkout

mutmut 3 skips decorated functions and everything outside functions; in its copy the script
turns each ``@property`` of the mutated module into ``f = property(f)`` so that mutmut reaches
it (``unwrap_properties``), and mutates module- and class-level constants itself (``CONSTANTS``).

Scores and surviving mutants are recorded in reports/mutation.md.
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = [ROOT]  # the tree each copy is made from (--source)
SKIP = (
    ".git",
    "mutants",
    "__pycache__",
    ".hypothesis",
    ".pytest_cache",
    ".ruff_cache",
    "*.egg-info",
)


@dataclass(frozen=True)
class Target:
    """A module to mutate, the test files that cover it, and (optionally) only some functions."""

    path: str
    tests: tuple[str, ...]
    functions: tuple[str, ...] = ()
    select: str = ""  # a pytest -k expression that leaves out slow tests
    constants: bool = True  # also mutate module- and class-level constants (see CONSTANTS)

    @property
    def dotted(self) -> str:
        return self.path.removesuffix(".py").replace("/", ".")

    def patterns(self) -> list[str]:
        """mutmut mutant-name globs: every mutant of the module, or of the named functions."""
        if not self.functions:
            return [f"{self.dotted}.*"]
        return [f"{self.dotted}.x{'ǁ' if 'ǁ' in f else '_'}{f}__mutmut_*" for f in self.functions]

    def pytest_args(self) -> tuple[str, ...]:
        return (*self.tests, *(("-k", self.select) if self.select else ()))


# Every rule of the op table; ``_each`` and ``_activations`` only build the table at import,
# before mutmut can switch a mutant on, so their mutants could never run.
HANDLES = ("_shape", "_numel", "_present", "matmul_macs", "attention_macs", "conv", "mm")
HANDLES += ("addmm", "sdpa", "native_mha", "per_output", "per_input", "batch_norm")
HANDLES += ("layer_norm", "pool")
FAST = "not network_counts"  # leave out tracing whole networks (tens of seconds a mutant)
SLOW_MODELS = "not torchvision and not timm"  # models from other packages (skipped without them)
RENDER_TESTS = ("tests/test_render.py", "tests/test_render_results.py")
ROOF_TESTS = ("tests/test_roofline.py", "tests/test_mutants_roofline.py")
MODEL_TESTS = ("tests/test_model.py", "tests/test_cli_model.py", "tests/test_sepify.py")


def methods(cls: str, *names: str) -> tuple[str, ...]:
    """mutmut's names for methods (properties included, see ``unwrap_properties``)."""
    return tuple(f"{cls}ǁ{name}" for name in names)


TARGETS = {
    "claims": Target("sepprof/results/claims.py", ("tests/test_claims.py",), constants=False),
    "units": Target("sepprof/units.py", ("tests/test_units.py", "tests/test_mutants_units.py")),
    "roofline": Target("sepprof/timing/roofline.py", ROOF_TESTS, constants=False),
    "costs": Target(
        "sepprof/count/costs.py",
        ("tests/test_costs.py", "tests/test_costs_independent.py"),
        (),
        FAST,
        constants=False,
    ),
    "handles": Target(
        "sepprof/count/handles.py",
        ("tests/test_mutants_handles.py", "tests/test_costs_independent.py"),
        HANDLES,
        FAST,
        constants=False,
    ),
    "latency": Target(
        "sepprof/results/latency.py",
        ("tests/test_mutants_latency.py", "tests/test_mutants_budgets.py"),
        constants=False,
    ),
    "timing": Target(
        "sepprof/timing/timer.py",
        ("tests/test_mutants_latency.py",),
        ("timed_round", "measure"),
        constants=False,
    ),
    # issue #29: every module of results/ that derives a number, the model counting, the budgets'
    # constants, and the unit conversions of the renderers. to_dict/from_dict are left out where
    # they only copy fields (their keys are the JSON contract, covered by round-trip tests).
    # The small results modules run only the hand-formula tests (test_mutants_results.py) so
    # that a run takes a minute on a busy 2-core machine: a survivor is a gap in those tests.
    "rows": Target(
        "sepprof/results/rows.py",
        (
            *RENDER_TESTS,
            "tests/test_claims.py",
            "tests/test_model.py",
            "tests/test_mutants_rows.py",
        ),
        (
            "_int_or_none",
            *methods("Row", "flops", "macs_train", "intensity", "achieved", "traced_ok"),
            *methods("Row", "part", "stage_shares"),
        ),
        SLOW_MODELS,
    ),
    "compare": Target(
        "sepprof/results/compare.py",
        ("tests/test_mutants_compare.py", "tests/test_claims.py", "tests/test_verdicts.py"),
        (
            *methods("Comparison", "macs_change", "params_change", "theory_change"),
            *methods("Comparison", "speed_change", "realised", "realised_interval"),
            "_speedup",
            "_ratio",
            "comparisons",
        ),
    ),
    "model_count": Target(
        "sepprof/count/model_count.py",
        ("tests/test_model.py", "tests/test_mutants_model_count.py"),
        ("_shape", "op_detail", "_traced", "analytic_row", "_kind", "traced_row", "_leaf"),
        "not resnet and not timing and not factories and not any_square and not torchvision "
        "and not timm",
    ),
    "budgets": Target(
        "sepprof/spec/budgets.py",
        ("tests/test_mutants_budgets.py", "tests/test_mutants_budget_metrics.py"),
        ("metric_of", "_per_device", "Budgetǁneeds_trace", "Budgetǁdevices"),
    ),
    "verdicts": Target(
        "sepprof/spec/verdicts.py",
        (
            "tests/test_mutants_budgets.py",
            "tests/test_mutants_budget_metrics.py",
            "tests/test_verdicts.py",
        ),
        ("_judge", "_failed", "judge", "_trust", "regressions", "_regression", "_by_interval"),
    ),
    "formats": Target("sepprof/render/formats.py", ("tests/test_render.py",)),
    "profile": Target(
        "sepprof/results/profile.py",
        ("tests/test_mutants_results.py",),
        (
            *methods("TypeShare", "part"),
            *methods("ProfileResult", "layer_shares", "type_shares", "reference_deviation"),
            *methods("ProfileResult", "as_change"),
        ),
    ),
    "shares": Target(
        "sepprof/results/shares.py",
        ("tests/test_mutants_rows.py", "tests/test_mutants_results.py"),
    ),
    "ratios": Target(
        "sepprof/results/ratios.py",
        ("tests/test_mutants_results.py", "tests/test_mutants_compare.py"),
    ),
    "sepify": Target(
        "sepprof/results/sepify.py",
        ("tests/test_mutants_results.py",),
        (
            "before_after",
            *methods("SepifyOptions", "check"),
            *methods("SepifyReport", "changes", "params_change", "macs_change"),
            *methods("SepifyReport", "params_before", "params_after", "macs_before", "macs_after"),
        ),
    ),
    "check": Target(
        "sepprof/results/check.py",
        ("tests/test_mutants_results.py",),
        methods("CheckResult", "passed", "failed", "warned", "inconclusive"),
    ),
    "merge": Target(
        "sepprof/results/merge.py",
        ("tests/test_mutants_results.py",),
        methods("MergedRow", "spread", "macs_change", "speed_change"),
    ),
    "report": Target(
        "sepprof/results/report.py",
        ("tests/test_mutants_results.py",),
        (
            "_during",
            *methods("Report", "latencies", "unstable", "speedups", "untrusted", "busy_cores"),
            *methods("Report", "busy"),
        ),
    ),
    "calibration": Target(
        "sepprof/results/calibration.py",
        (*ROOF_TESTS, "tests/test_render.py"),
        methods("Calibration", "roofline", "ridge"),
    ),
    "roof": Target("sepprof/results/roofline.py", ROOF_TESTS),
    "sweep": Target(
        "sepprof/results/sweep.py",
        ("tests/test_sweep.py", "tests/test_render_results.py", "tests/test_render_charts.py"),
    ),
    "recognise": Target("sepprof/count/recognise.py", MODEL_TESTS, (), SLOW_MODELS),
    "render_calibrate": Target(
        "sepprof/render/calibrate.py", ("tests/test_render.py", *ROOF_TESTS), ("calibration_view",)
    ),
    "render_markdown": Target(
        "sepprof/render/markdown.py",
        ("tests/test_render_results.py", "tests/test_report.py"),
        ("_roofline",),
        constants=False,
    ),
    "render_plots": Target(
        "sepprof/render/plots.py",
        ("tests/test_mutants_roofline.py", "tests/test_render_charts.py"),
        ("_roofs", "share_chart", "type_chart"),
        constants=False,
    ),
}


@dataclass(frozen=True)
class Planted:
    """A bug planted by hand (mutmut has no such operator): one exact edit, the tests to run."""

    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


LATENCY_TESTS = ("tests/test_mutants_latency.py",)
PLANTED = (
    Planted(
        "latency = mean of round medians",
        "sepprof/results/latency.py",
        "cls(statistics.median(ordered),",
        "cls(statistics.mean(ordered),",
        LATENCY_TESTS,
    ),
    Planted(
        "round = mean of its blocks",
        "sepprof/timing/timer.py",
        "medians[name].append(statistics.median(times) * 1e3)",
        "medians[name].append(statistics.mean(times) * 1e3)",
        LATENCY_TESTS,
    ),
    Planted(
        "roof curve without min(peak, ...)",
        "sepprof/results/roofline.py",
        "return xs, [self.attainable(x) for x in xs]",
        "return xs, [x * self.bandwidth for x in xs]",
        ("tests/test_mutants_roofline.py",),
    ),
    Planted(
        "chart draws bandwidth x intensity, not its roof",
        "sepprof/render/plots.py",
        '        [f / 1e9 for f in flops],\n        color="k",',
        '        [x * dram.bandwidth / 1e9 for x in grid],\n        color="k",',
        ("tests/test_mutants_roofline.py",),
    ),
    Planted(  # the audit's two handle bugs, kept by hand as well as in mutmut's run
        "traced max pool counts k² per output, not k²-1",
        "sepprof/count/handles.py",
        '(window - 1 if fn == "max" else window)',
        "window",
        ("tests/test_mutants_handles.py",),
    ),
    Planted(
        "traced activations count 1 op per element whatever their kind",
        "sepprof/count/handles.py",
        "_numel(outputs[0]) * ELEMENTWISE_OPS[kind]",
        "_numel(outputs[0])",
        ("tests/test_mutants_handles.py",),
    ),
    Planted(
        "BatchNorm counted as 1 op per element",
        "sepprof/count/costs.py",
        '"batchnorm": 2,',
        '"batchnorm": 1,',
        ("tests/test_costs_independent.py", "-k", FAST),
    ),
    # issue #29: the audit's bugs in modules mutation testing had not covered
    Planted(
        "compare's theory ratio from Cin, not Cout",
        "sepprof/commands/compare.py",
        "r.kind, r.name, spec.cout, spec.k)",
        "r.kind, r.name, spec.cin, spec.k)",
        ("tests/test_audit_planted.py", "-k", "api"),
    ),
    Planted(
        "achieved GB/s in binary gigabytes (2**30)",
        "sepprof/results/rows.py",
        "self.bytes / seconds / 1e9",
        "self.bytes / seconds / 2**30",
        ("tests/test_mutants_rows.py",),
    ),
    Planted(
        "achieved GFLOP/s from MACs, not FLOPs",
        "sepprof/results/rows.py",
        "self.flops / seconds / 1e9",
        "self.macs_analytic / seconds / 1e9",
        ("tests/test_mutants_rows.py",),
    ),
    Planted(
        "a traced row's bytes leave out BatchNorm's weights",
        "sepprof/count/model_count.py",
        "weights = (scope.params + scope.norm_params) * len(scope.calls)",
        "weights = scope.params * len(scope.calls)",
        ("tests/test_mutants_model_count.py",),
    ),
    Planted(  # a module-level constant: mutmut 3 never mutates it (CONSTANTS does)
        "latency regressions judged as higher-is-better",
        "sepprof/spec/budgets.py",
        'Metric("latency_ms", lower_is_better=True',
        'Metric("latency_ms", lower_is_better=False',
        ("tests/test_mutants_budget_metrics.py",),
    ),
    Planted(
        "3 FLOPs per MAC",
        "sepprof/units.py",
        "FLOPS_PER_MAC = 2",
        "FLOPS_PER_MAC = 3",
        ("tests/test_units.py",),
    ),
)


def run_planted(bug: Planted, work: Path) -> str:
    """Run a planted bug's tests on a copy of the tree, then with the bug applied: "killed"
    when they pass without it and fail with it."""
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(SOURCE[0], work, ignore=shutil.ignore_patterns(*SKIP))
    source = work / bug.path
    text = source.read_text(encoding="utf-8")
    if text.count(bug.old) != 1:
        return "patch no longer applies (code changed): update PLANTED"
    if _pytest(bug.tests, work) != 0:
        return "tests fail without the bug: fix them first"
    source.write_text(text.replace(bug.old, bug.new), encoding="utf-8")
    code = _pytest(bug.tests, work)
    return "killed" if code == 1 else f"SURVIVED (pytest exit {code})"


def _pytest(tests: tuple[str, ...], work: Path, timeout: float | None = None) -> int:
    """Exit status of pytest on ``tests`` in ``work``, importing that copy's sepprof (-1: it ran
    past ``timeout`` seconds)."""
    command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:randomly"]
    try:
        return subprocess.run(
            [*command, "-p", "no:cacheprovider", *tests],
            cwd=work,
            env={**os.environ, "PYTHONPATH": str(work)},
            capture_output=True,
            check=False,
            timeout=timeout,
        ).returncode
    except subprocess.TimeoutExpired:
        return -1


def unwrap_properties(path: Path) -> list[str]:
    """Rewrite each ``@property`` method of ``path`` as a plain method followed by ``name =
    property(name)``: the same class, but mutmut 3 skips every decorated function (a property
    included), and most derived numbers of results/ are properties. Returns their names."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    found = []
    for cls in ast.walk(ast.parse(text)):
        for fn in cls.body if isinstance(cls, ast.ClassDef) else ():
            if not isinstance(fn, ast.FunctionDef) or len(fn.decorator_list) != 1:
                continue
            deco = fn.decorator_list[0]
            if isinstance(deco, ast.Name) and deco.id == "property":
                assert lines[deco.lineno - 1].strip() == "@property", (path, fn.name)
                found.append((deco.lineno, fn.end_lineno or fn.lineno, fn.col_offset, fn.name))
    for deco_line, end, col, name in sorted(found, reverse=True):
        lines.insert(end, f"{' ' * col}{name} = property({name})\n")
        del lines[deco_line - 1]
    path.write_text("".join(lines), encoding="utf-8")
    return [name for *_, name in found]


# mutmut 3 mutates only inside functions, so a wrong constant (a metric left out of
# LOWER_IS_BETTER, 2 FLOPs per MAC, a unit suffix) is never tried. CONSTANTS mutates the values
# assigned at module and class level (dataclass defaults included, names starting with "__"
# left out): each number + 1, each bool flipped, each string wrapped in XX..XX, each element of
# a tuple, list, set or dict literal dropped; one test run per mutant, like a planted bug.
@dataclass(frozen=True)
class ConstantMutant:
    """One edit of a constant: bytes ``start:end`` of the file become ``new``."""

    label: str
    start: int
    end: int
    new: str


def _assigned_values(tree: ast.Module) -> list[tuple[str, ast.expr]]:
    """(name, value) of every assignment at module level and in class bodies."""
    out = []
    bodies = [tree.body] + [n.body for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
    for body in bodies:
        for node in body:
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                targets = [node.target]
            else:
                continue
            name = ", ".join(ast.unparse(t) for t in targets)
            if not name.startswith("__"):
                out.append((name, node.value))
    return out


def constant_mutants(source: str) -> list[ConstantMutant]:
    """Every constant mutant of a module's source (offsets in UTF-8 bytes, as ``ast`` gives)."""
    data = source.encode("utf-8")
    starts = [0]
    for line in data.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))

    def span(node: ast.expr) -> tuple[int, int]:
        end_line, end_col = node.end_lineno or node.lineno, node.end_col_offset or 0
        return starts[node.lineno - 1] + node.col_offset, starts[end_line - 1] + end_col

    def text(node: ast.expr) -> str:
        a, b = span(node)
        return data[a:b].decode("utf-8")

    out = []
    for name, value in _assigned_values(ast.parse(source)):
        for node in ast.walk(value):
            if not isinstance(node, ast.expr):
                continue
            a, b = span(node)
            old = text(node)
            new = None
            if isinstance(node, ast.Constant) and isinstance(node.value, bool):
                new = [repr(not node.value)]
            elif isinstance(node, ast.Constant) and isinstance(node.value, int | float):
                new = [repr(node.value + 1)]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                new = [repr(f"XX{node.value}XX")]
            elif isinstance(node, ast.Tuple | ast.List | ast.Set) and node.elts:
                if old[0] not in "([{":  # a bare tuple (``Annotated[float, ...]``): left alone
                    continue
                left, right = old[0], old[-1]
                new = []
                for i in range(len(node.elts)):
                    rest = [text(e) for j, e in enumerate(node.elts) if j != i]
                    one = "," if isinstance(node, ast.Tuple) and len(rest) == 1 else ""
                    if isinstance(node, ast.Set) and not rest:
                        new.append("set()")
                    else:
                        new.append(f"{left}{', '.join(rest)}{one}{right}")
            elif isinstance(node, ast.Dict) and node.keys:
                new = []
                for i in range(len(node.keys)):
                    items = zip(node.keys, node.values, strict=True)
                    rest = [
                        f"{text(k)}: {text(v)}" if k else f"**{text(v)}"
                        for j, (k, v) in enumerate(items)
                        if j != i
                    ]
                    new.append("{" + ", ".join(rest) + "}")
            for replacement in new or ():
                label = f"line {node.lineno} {name}: {_short(old)} -> {_short(replacement)}"
                label = " ".join(label.split())
                same = sum(m.label.startswith(label) for m in out)  # two 1s on one line
                out.append(
                    ConstantMutant(f"{label} #{same + 1}" if same else label, a, b, replacement)
                )
    return out


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def run_constants(target: Target, work: Path) -> dict[str, str]:
    """Each constant mutant of ``target`` against its tests, in a fresh copy of the tree:
    {"constant <label>": killed, timeout or survived}."""
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(SOURCE[0], work, ignore=shutil.ignore_patterns(*SKIP))
    source = work / target.path
    data = source.read_bytes()
    args = target.pytest_args()
    if _pytest(args, work) != 0:
        return {"constant (tests fail unmutated)": "error"}
    statuses = {}
    try:
        for m in constant_mutants(data.decode("utf-8")):
            source.write_bytes(data[: m.start] + m.new.encode("utf-8") + data[m.end :])
            code = _pytest(args, work, timeout=600)
            status = {0: "survived", 1: "killed", 2: "killed", 3: "killed", -1: "timeout"}
            statuses[f"constant {m.label}"] = status.get(code, f"pytest exit {code}")
            print(f"{statuses[f'constant {m.label}']}: {m.label}", flush=True)
    finally:
        source.write_bytes(data)
    return statuses


def prepare(name: str, target: Target, work: Path) -> None:
    """A fresh copy of the tree in ``work`` with a mutmut config for this one module."""
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(SOURCE[0], work, ignore=shutil.ignore_patterns(*SKIP))
    unwrap_properties(work / target.path)
    tests = "\n    ".join(target.pytest_args())
    (work / "setup.cfg").write_text(
        "[mutmut]\n"
        "source_paths = sepprof\n"
        f"only_mutate = {target.path}\n"
        "also_copy =\n    configs\n    examples\n"
        f"pytest_add_cli_args_test_selection =\n    {tests}\n"
        "pytest_add_cli_args =\n    -p\n    no:randomly\n    -p\n    no:cacheprovider\n"
        "use_git_change_detection = false\n"
        "timeout_multiplier = 3\ntimeout_constant = 2\n"
        "process_isolation = forkserver\n",  # torch's thread pool is not fork-safe
        encoding="utf-8",
    )


def run_module(name: str, target: Target, work: Path, children: int) -> dict[str, str]:
    """Run mutmut for one module; returns {mutant name: status} for the selected mutants."""
    prepare(name, target, work)
    mutmut = [sys.executable, "-c", "from mutmut.__main__ import cli; cli()"]
    subprocess.run(
        [*mutmut, "run", "--max-children", str(children), *target.patterns()], cwd=work, check=False
    )
    out = subprocess.run(
        [*mutmut, "results", "--all", "true"], cwd=work, capture_output=True, text=True, check=True
    ).stdout
    statuses = dict(re.findall(r"^\s*(\S+): (.+)$", out, flags=re.M))
    selected = {
        k: v
        for k, v in statuses.items()
        if any(fnmatch.fnmatchcase(k, p) for p in target.patterns())
    }
    if target.constants:
        selected |= run_constants(target, work.with_name(f"{work.name}-constants"))
    return selected


def score_line(name: str, statuses: dict[str, str]) -> str:
    """One markdown row: killed / all mutants, and the counts of every other status."""
    counts: dict[str, int] = {}
    for status in statuses.values():
        counts[status] = counts.get(status, 0) + 1
    done = len(statuses)
    killed = counts.get("killed", 0) + counts.get("timeout", 0)
    others = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if k != "killed")
    pct = f"{killed / done:.1%}" if done else "n/a"
    return f"| {name} | {killed}/{done} | {pct} | {others} |"


def show(work: Path, statuses: dict[str, str]) -> None:
    """Print the diff of every mutant that was not killed."""
    for mutant, status in sorted(statuses.items()):
        if status not in ("killed", "timeout") and mutant.startswith("constant "):
            print(f"{status}: {mutant}")
        elif status not in ("killed", "timeout"):
            subprocess.run(
                [sys.executable, "-c", "from mutmut.__main__ import cli; cli()", "show", mutant],
                cwd=work,
                check=False,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"some of {', '.join(TARGETS)} (default: all)")
    parser.add_argument("--show", action="store_true", help="print surviving mutants' diffs")
    parser.add_argument("--list", action="store_true", help="list modules and test files")
    parser.add_argument("--planted", action="store_true", help="run the hand-planted bugs")
    parser.add_argument("--children", type=int, default=1, help="parallel mutant workers")
    parser.add_argument(
        "--constants", action="store_true", help="only the constant mutants (no mutmut run)"
    )
    parser.add_argument("--work", type=Path, default=Path("/tmp/sepprof-mutation"))
    parser.add_argument(
        "--source",
        type=Path,
        default=ROOT,
        help="tree to copy instead of this checkout (e.g. `git archive HEAD` unpacked, while "
        "others edit the working tree)",
    )
    args = parser.parse_args()
    SOURCE[0] = args.source.resolve()
    if args.list:
        for name, t in TARGETS.items():
            only = f" (functions: {', '.join(t.functions)})" if t.functions else ""
            only += " + constants" if t.constants else ""
            select = f" -k '{t.select}'" if t.select else ""
            print(f"{name}: {t.path}{only} <- {' '.join(t.tests)}{select}")
        return
    if args.planted:
        print("| planted bug | file | result |\n| --- | --- | --- |")
        for i, bug in enumerate(PLANTED):
            result = run_planted(bug, args.work / f"planted-{i}")
            print(f"| {bug.name} | {bug.path} | {result} |", flush=True)
        return
    unknown = set(args.modules) - set(TARGETS)
    if unknown:
        parser.error(f"unknown module(s): {', '.join(sorted(unknown))}")
    rows = []
    for name in args.modules or list(TARGETS):
        work = args.work / name
        if args.constants:
            statuses = run_constants(TARGETS[name], args.work / f"{name}-constants")
        else:
            statuses = run_module(name, TARGETS[name], work, args.children)
        rows.append(score_line(name, statuses))
        if args.show:
            show(work, statuses)
    print("\n| module | killed | score | other |\n| --- | ---: | ---: | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
