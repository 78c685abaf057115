"""JUnit XML, the report every CI system reads: one testsuite, one testcase per scenario."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from possim.scenario.report import result_text
from possim.scenario.runner import FAILED, SKIPPED, XFAILED, XPASSED, ScenarioResult


def junit_tree(results: list[ScenarioResult], suite: str = "possim scenarios") -> ET.ElementTree:
    failures = sum(r.status in (FAILED, XPASSED) for r in results)
    skipped = sum(r.status in (SKIPPED, XFAILED) for r in results)
    root = ET.Element("testsuites")
    node = ET.SubElement(root, "testsuite", name=suite, tests=str(len(results)), failures=str(failures),
                         errors="0", skipped=str(skipped), time=f"{sum(r.duration for r in results):.3f}")
    for r in results:
        case = ET.SubElement(node, "testcase", classname=r.scenario.source.replace("/", ".").rsplit(".", 1)[0],
                             name=r.scenario.item_name, file=r.scenario.source, line=str(r.scenario.line),
                             time=f"{r.duration:.3f}")
        if r.status == FAILED:
            problem = r.failure.problem if r.failure else "failed"
            where = f"{r.failure.source}:{r.failure.line}: " if r.failure else ""
            ET.SubElement(case, "failure", message=f"{where}{problem}", type="ScenarioFailure").text = result_text(r)
        elif r.status == XPASSED:
            ET.SubElement(case, "failure", message=r.reason or "XPASS", type="UnexpectedPass").text = result_text(r)
        elif r.status in (SKIPPED, XFAILED):
            ET.SubElement(case, "skipped", message=f"{r.status}: {r.reason or ''}")
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(results: list[ScenarioResult], path: str | Path) -> None:
    junit_tree(results).write(str(path), encoding="utf-8", xml_declaration=True)
