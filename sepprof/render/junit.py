"""JUnit XML for CI systems: one test case per budget metric."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from sepprof.render.formats import headroom, metric_value, printable
from sepprof.results import CheckResult


def junit_xml(result: CheckResult) -> str:
    """A ``testsuites`` document; failed budgets are failures, warnings go to system-out."""
    failures = sum(v.status == "fail" for v in result.verdicts)
    suites = ET.Element(
        "testsuites", name="sepprof check", tests=str(len(result.verdicts)), failures=str(failures)
    )
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=printable(result.budget_file),
        tests=str(len(result.verdicts)),
        failures=str(failures),
        errors="0",
        skipped="0",
    )
    for v in result.verdicts:
        case = ET.SubElement(suite, "testcase", classname=printable(v.budget), name=v.metric)
        text = (
            f"{v.metric}: actual {metric_value(v.metric, v.actual)}, limit "
            f"{metric_value(v.metric, v.limit)}, headroom {headroom(v.headroom)}"
            + (f" ({v.note})" if v.note else "")
        )
        if v.status == "fail":
            ET.SubElement(
                case, "failure", message=f"{v.budget}: {text}", type="BudgetExceeded"
            ).text = text
        else:
            ET.SubElement(case, "system-out").text = f"{v.status.upper()}: {text}"
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode")
