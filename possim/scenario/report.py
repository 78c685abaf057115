"""Failure text a QA engineer can act on without reading Python.

It says where (the scenario file and line of the failing step, and the
include chain that led there), which step, what was expected and what came
back (decoded and masked), and the last frames on the link, because most
surprises are explained by the message just before the one that failed.
"""

from __future__ import annotations

from possim.scenario.runner import FAILED, SKIPPED, XFAILED, XPASSED, Failure, ScenarioResult


def failure_text(failure: Failure) -> str:
    which = f"step {failure.step_number} ({failure.step_label})" if failure.step_number else "the set-up"
    lines = [f"{failure.source}:{failure.line}: scenario {failure.scenario!r}, {which} failed: {failure.problem}"]
    for where in reversed(failure.included_from):
        lines.append(f"  included from {where}")
    for m in failure.mismatches:
        lines.append(f"  {m.source}:{m.line}: {m.path}")
        lines.append(f"    expected: {m.wanted}")
        lines.append(f"    received: {m.received}")
    if failure.observed:
        lines.append("  the step returned:")
        lines.extend(f"    {line}" for line in failure.observed)
    if failure.traffic:
        lines.append(f"  last {len(failure.traffic)} frames on the link (oldest first):")
        lines.extend(f"    {line}" for line in failure.traffic)
    return "\n".join(lines)


def result_line(result: ScenarioResult) -> str:
    """``PASS  1.23s  scenarios/lifecycle.yaml  full lifecycle`` -- one line per scenario."""
    line = f"{result.status:<5} {result.duration:6.2f}s  {result.scenario.source}  {result.scenario.item_name}"
    if result.status in (SKIPPED, XFAILED, XPASSED) and result.reason:
        line += f"  ({result.reason})"
    return line


def result_text(result: ScenarioResult) -> str:
    """The full report of a result that needs one (failed, xpassed), else ''."""
    if result.status == FAILED and result.failure is not None:
        return failure_text(result.failure)
    if result.status == XPASSED:
        return f"{result.scenario.source}:{result.scenario.line}: scenario {result.scenario.item_name!r}: " \
               f"{result.reason}; remove expect_failure"
    return ""
