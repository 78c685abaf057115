"""``possim demo``: the whole lifecycle, in-process, with live progress, receipts and a summary."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo", help="a merchant's whole life, in-process: trading, settlement, return and deregistration",
        description="Run possim's host and terminal in-process (loopback TCP, SQLite files in a temporary folder, "
                    "no hardware) through onboarding, sign-in, sales, a void, a refund, a balance query, "
                    "settlement and the return-and-deregister path, then a sale the deregistered terminal must "
                    "refuse. Exits 0 only if every step behaved as expected.",
        epilog="examples:\n  possim demo\n  possim demo --tui",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tui", action="store_true", help="watch the same run in the traffic TUI")
    p.add_argument("--pace", type=float, default=None, metavar="S",
                   help="pause between steps, seconds (default 0, or 1 with --tui)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.tui:
        from possim.demo.watch import watch_demo

        return watch_demo(unmask=args.unmask, pace=1.0 if args.pace is None else args.pace)
    from possim.demo.run import Pace, run_demo

    outcome = run_demo(sys.stdout, unmask=args.unmask, pace=Pace(args.pace or 0.0))
    return 0 if outcome.ok else 1
