"""``possim run``: run scenario files and say PASS/FAIL per scenario, with reports and JUnit XML."""

from __future__ import annotations

import argparse
import sys

from possim.scenario.api import driver_factory, load_paths, run_scenarios
from possim.scenario.junit import write_junit
from possim.scenario.report import result_line, result_text
from possim.scenario.runner import ScenarioResult


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run", help="run scenario files",
        description="Run scenario files (YAML, see docs/scenarios.md) against possim's own host and terminal "
                    "(default), a host URL, or a terminal's ECR port.",
        epilog="examples:\n"
               "  possim run scenarios/\n"
               "  possim run scenarios/terminal --terminal /dev/ttyUSB0 --host-listen tcp://127.0.0.1:5000\n"
               "  possim run scenarios/raw --host tcp://127.0.0.1:6000 --junit-xml report.xml",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", metavar="SCENARIO_OR_DIR", help="scenario files or directories")
    p.add_argument("--terminal", metavar="URL", help="drive this terminal through its ECR port (serial URL)")
    p.add_argument("--host-listen", metavar="URL",
                   help="with --terminal: where possim plays the host the terminal calls (tcp://HOST:PORT)")
    p.add_argument("--ecr-protocol", default="ecr-possim", metavar="NAME|FILE",
                   help="with --terminal: the terminal's ECR protocol file (default ecr-possim)")
    p.add_argument("--host", metavar="URL", help="run raw and terminal steps against this host instead of possim's")
    p.add_argument("--junit-xml", metavar="FILE", help="also write a JUnit XML report")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    make_driver = driver_factory(terminal=args.terminal, host_listen=args.host_listen, host=args.host,
                                 ecr_protocol=args.ecr_protocol)
    scenarios = load_paths(args.paths)

    def show(result: ScenarioResult) -> None:
        print(result_line(result), flush=True)
        text = result_text(result)
        if text:
            print(text + "\n", flush=True)

    results = run_scenarios(scenarios, make_driver, unmask=args.unmask, on_result=show)
    if args.junit_xml:
        write_junit(results, args.junit_xml)
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    print(", ".join(f"{n} {s.lower()}" for s, n in sorted(counts.items())) or "no scenarios", file=sys.stderr)
    return 0 if all(r.ok for r in results) else 1
