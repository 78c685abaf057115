"""``possim load``: Locust users acting as CUP POS terminals against a host.

    possim load --host URL [--users N] [--duration S] [--workers N] [--spawn-rate R] [--mix MIX]
                [--config FILE] [--csv PREFIX] [--html FILE] [--timeout S] [--ledger-db PATH] [--summary FILE]
    possim load make-config [--terminals N] [--mac-alg ALG]
    possim load reconcile --ledger-db PATH --summary FILE [--config FILE] [--since ID]
    possim load locustfile

The run ends with one line ``N requests, N failures, R req/s, p50 X ms, p99 Y ms``.
Exit 0 when nothing failed (and, with --ledger-db, the ledger agrees), 1 otherwise, 2 bad input.
"""

from __future__ import annotations

import argparse
import sys

from possim.errors import UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "load", help="load a host with Locust users acting as terminals (headless, optionally distributed)",
        description="Run Locust headless: each user is one CUP POS terminal that signs in and then runs a "
                    "mix of purchases, balance inquiries, voids and refunds. --workers N uses Locust's "
                    "distributed mode (a master and N workers). See docs/load.md.",
        epilog="examples:\n"
               "  possim load make-config --terminals 50 > load-host.yaml\n"
               "  possim host --config load-host.yaml --listen tcp://127.0.0.1:5000 --db load.db &\n"
               "  possim load --host tcp://127.0.0.1:5000 --config load-host.yaml --users 50 --duration 60 "
               "--workers 2 --ledger-db load.db",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", metavar="URL", help="the host to load: tcp://HOST:PORT")
    parser.add_argument("--users", type=int, default=1, metavar="N", help="terminals at once (default 1)")
    parser.add_argument("--duration", type=int, default=10, metavar="S", help="seconds (default 10)")
    parser.add_argument("--workers", type=int, default=0, metavar="N",
                        help="Locust workers on this machine, with a master (default 0: one process)")
    parser.add_argument("--spawn-rate", type=float, metavar="R", help="users started per second (default: all "
                                                                     "in the first second)")
    parser.add_argument("--mix", metavar="MIX", help="transaction weights, e.g. "
                                                     "purchase=70,balance=10,void=10,refund=10 (the default)")
    parser.add_argument("--config", metavar="FILE",
                        help="the host's configuration (terminals, TMKs, test cards); default: the terminals "
                             "of `possim load make-config`")
    parser.add_argument("--csv", metavar="PREFIX", help="Locust's CSV reports (PREFIX_stats.csv ...)")
    parser.add_argument("--html", metavar="FILE", help="Locust's HTML report")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="S",
                        help="seconds to wait for an answer before the terminal reverses (default 10)")
    parser.add_argument("--ledger-db", metavar="PATH",
                        help="the host's --db: after the run, check its ledger against Locust's counts")
    parser.add_argument("--summary", metavar="FILE",
                        help="write the final counts per transaction and failure as JSON (exact; Locust's CSV "
                             "can miss the last second)")
    parser.add_argument("-v", "--verbose", action="store_true", help="Locust's INFO messages")
    parser.set_defaults(func=_run)
    sub = parser.add_subparsers(dest="load_command", metavar="COMMAND", parser_class=type(parser))
    p = sub.add_parser("make-config", help="print a host configuration with N terminals for load runs")
    p.add_argument("--terminals", type=int, default=50, metavar="N", help="how many terminals (default 50)")
    p.add_argument("--mac-alg", default="cup-ecb", choices=("x9.9", "x9.19", "cup-ecb"),
                   help="MAC algorithm of every terminal (default cup-ecb)")
    p.set_defaults(func=_make_config)
    p = sub.add_parser("reconcile", help="check a host ledger against the --summary/--possim-summary of a run")
    p.add_argument("--ledger-db", required=True, metavar="PATH", help="the host's --db")
    p.add_argument("--summary", required=True, metavar="FILE", help="the run's summary JSON")
    p.add_argument("--config", metavar="FILE", help="only the terminals of this host configuration")
    p.add_argument("--since", type=int, default=0, metavar="ID", help="only ledger rows after this id")
    p.set_defaults(func=_reconcile)
    p = sub.add_parser("locustfile", help="print the path of the locustfile (for plain `locust -f`)")
    p.set_defaults(func=_locustfile)


def _run(args: argparse.Namespace) -> int:
    from possim.load.mix import DEFAULT_MIX
    from possim.load.runner import LoadPlan, run_load

    if not args.host:
        raise UsageError("--host is required (tcp://HOST:PORT of the host to load)")
    plan = LoadPlan(host=args.host, users=args.users, duration=args.duration, workers=args.workers,
                    spawn_rate=args.spawn_rate, mix=args.mix or DEFAULT_MIX, config=args.config, csv=args.csv,
                    html=args.html, timeout=args.timeout, ledger_db=args.ledger_db, summary=args.summary,
                    loglevel="INFO" if args.verbose else "WARNING")
    sys.stdout.flush()
    result = run_load(plan)
    if result.reconciliation is not None:
        print(result.reconciliation.report())
    print(result.summary.closing_line(), flush=True)
    return 0 if result.ok else 1


def _make_config(args: argparse.Namespace) -> int:
    from possim.load.fleet import make_config

    sys.stdout.write(make_config(args.terminals, mac_algorithm=args.mac_alg))
    return 0


def _reconcile(args: argparse.Namespace) -> int:
    from possim.load.fleet import load_fleet
    from possim.load.reconcile import reconcile
    from possim.load.summary import read_summary

    tids = [t.tid for t in load_fleet(args.config).terminals] if args.config else None
    result = reconcile(args.ledger_db, read_summary(args.summary), since=args.since, tids=tids)
    print(result.report())
    return 0 if result.ok else 1


def _locustfile(args: argparse.Namespace) -> int:
    from possim.load.runner import LOCUSTFILE

    print(LOCUSTFILE)
    return 0
