"""Mutation testing of the modules that decide sepprof's numbers (mutmut 3), one module at a time.

Slow (minutes per module), so not in CI. Each module runs in its own copy of the tree under
/tmp, with only the fast test files that cover it, so a run never touches the working tree:

    pip install -e ".[test,mutation]"
    python benchmarks/mutation.py                      # every module below
    python benchmarks/mutation.py claims roofline      # some of them
    python benchmarks/mutation.py claims --show        # also print each surviving mutant's diff
    python benchmarks/mutation.py --list               # the modules and their test files
    python benchmarks/mutation.py --planted            # the bugs issue #18 planted by hand

Scores and surviving mutants are recorded in reports/mutation.md.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
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

    @property
    def dotted(self) -> str:
        return self.path.removesuffix(".py").replace("/", ".")

    def patterns(self) -> list[str]:
        """mutmut mutant-name globs: every mutant of the module, or of the named functions."""
        if not self.functions:
            return [f"{self.dotted}.*"]
        return [f"{self.dotted}.x{'ǁ' if 'ǁ' in f else '_'}{f}__mutmut_*" for f in self.functions]


# Every rule of the op table; ``_each`` and ``_activations`` only build the table at import,
# before mutmut can switch a mutant on, so their mutants could never run.
HANDLES = ("_shape", "_numel", "_present", "matmul_macs", "attention_macs", "conv", "mm")
HANDLES += ("addmm", "sdpa", "native_mha", "per_output", "per_input", "batch_norm")
HANDLES += ("layer_norm", "pool")
FAST = "not network_counts"  # leave out tracing whole networks (tens of seconds a mutant)
TARGETS = {
    "claims": Target("sepprof/results/claims.py", ("tests/test_claims.py",)),
    "units": Target("sepprof/units.py", ("tests/test_units.py",)),
    "roofline": Target(
        "sepprof/timing/roofline.py", ("tests/test_roofline.py", "tests/test_mutants_roofline.py")
    ),
    "costs": Target(
        "sepprof/count/costs.py",
        ("tests/test_costs.py", "tests/test_costs_independent.py"),
        (),
        FAST,
    ),
    "handles": Target(
        "sepprof/count/handles.py",
        ("tests/test_mutants_handles.py", "tests/test_costs_independent.py"),
        HANDLES,
        FAST,
    ),
    "latency": Target(
        "sepprof/results/latency.py",
        ("tests/test_mutants_latency.py", "tests/test_mutants_budgets.py"),
    ),
    "timing": Target(
        "sepprof/timing/timer.py", ("tests/test_mutants_latency.py",), ("timed_round", "measure")
    ),
    "budgets": Target(
        "sepprof/spec/budgets.py",
        ("tests/test_mutants_budgets.py",),
        ("_judge", "_failed", "judge", "_trust", "regressions"),
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
        "sepprof/timing/roofline.py",
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
)


def run_planted(bug: Planted, work: Path) -> str:
    """Run a planted bug's tests on a copy of the tree, then with the bug applied: "killed"
    when they pass without it and fail with it."""
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(ROOT, work, ignore=shutil.ignore_patterns(*SKIP))
    source = work / bug.path
    text = source.read_text(encoding="utf-8")
    if text.count(bug.old) != 1:
        return "patch no longer applies (code changed): update PLANTED"
    if _pytest(bug.tests, work) != 0:
        return "tests fail without the bug: fix them first"
    source.write_text(text.replace(bug.old, bug.new), encoding="utf-8")
    code = _pytest(bug.tests, work)
    return "killed" if code == 1 else f"SURVIVED (pytest exit {code})"


def _pytest(tests: tuple[str, ...], work: Path) -> int:
    """Exit status of pytest on ``tests`` in ``work``, importing that copy's sepprof."""
    command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:randomly"]
    return subprocess.run(
        [*command, "-p", "no:cacheprovider", *tests],
        cwd=work,
        env={**os.environ, "PYTHONPATH": str(work)},
        capture_output=True,
        check=False,
    ).returncode


def prepare(name: str, target: Target, work: Path) -> None:
    """A fresh copy of the tree in ``work`` with a mutmut config for this one module."""
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(ROOT, work, ignore=shutil.ignore_patterns(*SKIP))
    tests = "\n    ".join([*target.tests, *(["-k", target.select] if target.select else [])])
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
    return {
        k: v
        for k, v in statuses.items()
        if any(fnmatch.fnmatchcase(k, p) for p in target.patterns())
    }


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
        if status not in ("killed", "timeout"):
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
    parser.add_argument("--work", type=Path, default=Path("/tmp/sepprof-mutation"))
    args = parser.parse_args()
    if args.list:
        for name, t in TARGETS.items():
            only = f" (functions: {', '.join(t.functions)})" if t.functions else ""
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
        statuses = run_module(name, TARGETS[name], work, args.children)
        rows.append(score_line(name, statuses))
        if args.show:
            show(work, statuses)
    print("\n| module | killed | score | other |\n| --- | ---: | ---: | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
