"""Markdown for people who read files: the GitHub step summary and the generated reports."""

from __future__ import annotations

from sepprof.budgets import CheckResult
from sepprof.render.formats import VERDICT_WORDS, headroom, metric_value


def table(header: list[str], rows: list[list[str]], align: str = "") -> str:
    """A GitHub-flavoured markdown table; ``align`` gives l/r per column (default: first left)."""
    align = align or "l" + "r" * (len(header) - 1)
    marks = {"l": ":---", "r": "---:", "c": ":---:"}
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(marks[a] for a in align) + " |"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def check_markdown(result: CheckResult) -> str:
    """The budget table for ``$GITHUB_STEP_SUMMARY``."""
    verdict = "all budgets hold" if result.passed else "budget exceeded"
    rows = [
        [
            v.budget,
            v.metric,
            metric_value(v.metric, v.limit),
            metric_value(v.metric, v.actual),
            headroom(v.headroom),
            f"**{VERDICT_WORDS[v.status]}**" if v.status != "pass" else "PASS",
            v.note,
        ]
        for v in result.verdicts
    ]
    return f"### sepprof check: {verdict}\n\n`{result.budget_file}`\n\n" + table(
        ["budget", "metric", "limit", "actual", "headroom", "verdict", "note"], rows, "llrrrcl"
    )
