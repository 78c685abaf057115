"""``possim host``: run the acquirer host simulator, or work its back office.

    possim host [--config FILE] [--listen URL ...] [--dialect D] [--mak HEX --mac-alg ALG [--pik HEX]]
                [--accept-any-terminal] [--db PATH] [--traffic URL]
    possim host cases list|show|review|decide|settle|unbind|deregister|issue-refund|flag-overdue ...
    possim host ledger | terminals | example-config

Handlers only parse, call the library (possim.host.*) and print. Keys,
PINs and full card numbers are never printed (``--unmask`` shows full PANs
in ``ledger``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sqlite3
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from possim.errors import UsageError

DEFAULT_DB = "possim-host.db"
DEFAULT_LISTEN = "tcp://127.0.0.1:5000"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "host", help="run the acquirer host simulator, or its back office (cases, ledger)",
        description="Serve terminals on TCP and/or serial URLs (CUP POS by default), or, with a sub-command, "
                    "show and work the back office over the same database.",
        epilog="examples:\n"
               "  possim host example-config > host.yaml\n"
               "  possim host --config host.yaml --listen tcp://127.0.0.1:5000\n"
               "  possim host --config host.yaml --mak 313215FDA2C4AB4C --mac-alg cup-ecb\n"
               "  possim host --db possim-host.db cases list",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _common(parser, top=True)
    parser.add_argument("--listen", action="append", metavar="URL",
                        help=f"where terminals connect (repeatable; default {DEFAULT_LISTEN}); tcp://HOST:PORT "
                             "(port 0 picks a free one) or a serial URL")
    parser.add_argument("--dialect", default="cup-pos", metavar="D", help="dialect name or file (default cup-pos)")
    parser.add_argument("--framing", metavar="F", help="framing (default: the dialect's)")
    parser.add_argument("--mak", metavar="HEX", help="pre-install this MAK for every configured terminal")
    parser.add_argument("--mac-alg", metavar="ALG", choices=("x9.9", "x9.19", "cup-ecb"),
                        help="MAC algorithm of --mak")
    parser.add_argument("--pik", metavar="HEX", help="pre-install this PIK too (to check PINs)")
    parser.add_argument("--accept-any-terminal", action="store_true",
                        help="with --mak: serve any TID, registering it to the MID it sends")
    parser.add_argument("--traffic", metavar="URL", help="publish traffic as JSON Lines on tcp://127.0.0.1:PORT")
    parser.add_argument("--sync", choices=("full", "normal"),
                        help="SQLite synchronous: full (default; an answer survives a power cut) or normal "
                             "(survives a kill -9, not an OS crash; for load tests). Overrides database.synchronous")
    parser.add_argument("--clock-start", metavar="ISO",
                        help="run the host's clock from this moment, e.g. 2025-03-03T10:00:00+08:00 (card expiry, "
                             "dates in responses and return-policy day counts follow it)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every refusal and its reason")
    parser.set_defaults(func=_serve)
    sub = parser.add_subparsers(dest="host_command", metavar="COMMAND", parser_class=type(parser))
    _register_cases(sub)
    p = sub.add_parser("ledger", help="the latest transactions (PANs masked)")
    _common(p)
    p.add_argument("--tid", help="only this terminal")
    p.add_argument("--limit", type=int, default=50, help="how many (default 50)")
    p.add_argument("--json", action="store_true", help="JSON Lines")
    p.set_defaults(func=_ledger)
    p = sub.add_parser("terminals", help="terminals: state, merchant, key session (check values only)")
    _common(p)
    p.add_argument("--json", action="store_true", help="JSON Lines")
    p.set_defaults(func=_terminals)
    p = sub.add_parser("example-config", help="print the example configuration file")
    p.set_defaults(func=_example)


def _common(parser: argparse.ArgumentParser, top: bool = False) -> None:
    default = None if top else argparse.SUPPRESS
    parser.add_argument("--config", metavar="FILE", default=default,
                        help="host configuration (YAML; `possim host example-config` prints one)")
    parser.add_argument("--db", metavar="PATH", default=DEFAULT_DB if top else argparse.SUPPRESS,
                        help=f"host database (SQLite; default {DEFAULT_DB})")


# --- serve ---------------------------------------------------------------------

def _serve(args: argparse.Namespace) -> int:
    from possim.host.keys import PreinstalledKeys
    from possim.host.server import HostServer, run_host
    from possim.iso8583 import get_dialect
    from possim.security.keys import parse_hex_key
    from possim.security.mac import ALGORITHMS

    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="possim host: %(levelname)s %(message)s")
    config = _config(args)
    preinstalled = None
    if args.mak is not None or args.mac_alg is not None or args.pik is not None:
        if args.mak is None or args.mac_alg is None:
            raise UsageError("--mak and --mac-alg go together")
        preinstalled = PreinstalledKeys(
            mak=parse_hex_key(args.mak, "--mak", ALGORITHMS[args.mac_alg].key_lengths),
            mac_algorithm=args.mac_alg,
            pik=parse_hex_key(args.pik, "--pik", (8, 16)) if args.pik else None,
            accept_any_terminal=args.accept_any_terminal)
    elif args.accept_any_terminal:
        raise UsageError("--accept-any-terminal needs --mak and --mac-alg (the keys to serve them with)")
    server = HostServer(config, args.db, args.listen or [DEFAULT_LISTEN], get_dialect(args.dialect),
                        clock=_clock(args.clock_start), framing=args.framing, preinstalled=preinstalled,
                        synchronous=args.sync)

    def ready(urls: list[str]) -> None:
        for url in urls:
            print(f"possim host listening on {url}", flush=True)

    def traffic(url: str) -> None:
        print(f"possim host traffic on {url}", flush=True)

    asyncio.run(run_host(server, traffic_url=args.traffic, unmask=args.unmask, on_ready=ready,
                         on_traffic=traffic))
    return 0


def _clock(start: str | None) -> Any:
    if start is None:
        return None
    from possim.host.clock import HOST_TZ, ShiftedClock

    try:
        moment = datetime.fromisoformat(start)
    except ValueError:
        raise UsageError(f"--clock-start: expected an ISO date and time such as 2025-03-03T10:00:00+08:00, "
                         f"got {start!r}") from None
    return ShiftedClock(moment if moment.tzinfo else moment.replace(tzinfo=HOST_TZ))


def _config(args: argparse.Namespace) -> Any:
    from possim.host.config import HostConfig, load_config

    path = getattr(args, "config", None)
    return load_config(path) if path else HostConfig()


def _example(args: argparse.Namespace) -> int:
    from possim.host.example_config import EXAMPLE_CONFIG_YAML

    sys.stdout.write(EXAMPLE_CONFIG_YAML)
    return 0


def _open(args: argparse.Namespace) -> sqlite3.Connection:
    from possim.host.db import open_db

    path = Path(args.db)
    if not path.exists():
        raise UsageError(f"--db {path}: no such host database")
    return open_db(path)


# --- cases -----------------------------------------------------------------------

def _register_cases(sub: argparse._SubParsersAction) -> None:
    cases = sub.add_parser("cases", help="return cases: list, show, and the acquirer's steps")
    csub = cases.add_subparsers(dest="cases_command", metavar="ACTION", parser_class=type(cases))
    csub.required = True

    def action(name: str, help_text: str, needs_id: bool = True, actor: bool = True) -> argparse.ArgumentParser:
        p = csub.add_parser(name, help=help_text)
        _common(p)
        if needs_id:
            p.add_argument("case_id", type=int, metavar="ID")
        if actor:
            p.add_argument("--actor", default="acquirer", help="who takes the step (default acquirer)")
        p.add_argument("--json", action="store_true", help="print JSON")
        p.set_defaults(func=_cases, host_command="cases")
        return p

    p = action("list", "list cases", needs_id=False, actor=False)
    p.add_argument("--state", help="only cases in this state")
    p.add_argument("--mid")
    p.add_argument("--tid")
    action("show", "one case and its timeline", actor=False)
    action("review", "start the review (or the re-review of an appealed case)")
    p = action("decide", "review against the policy and approve or reject (needs --config with return_policy)")
    p.add_argument("--missing", action="append", default=[], metavar="ITEM", help="an accessory not returned")
    p.add_argument("--damaged", action="store_true", help="the device came back damaged")
    p.add_argument("--waive", action="append", default=[], metavar="CODE", help="set a reason aside (re-review)")
    p.add_argument("--note", default="")
    p = action("settle", "record the terminal's last batch as settled")
    p.add_argument("--batch", required=True, metavar="NO")
    action("unbind", "unbind the terminal from the merchant")
    action("deregister", "deregister the terminal")
    p = action("issue-refund", "pay the approved deposit refund")
    p.add_argument("--method", choices=("bank_transfer", "cash", "original_payment"))
    p.add_argument("--reference", default="")
    action("flag-overdue", "record refund_overdue on cases past their due date", needs_id=False)


def _cases(args: argparse.Namespace) -> int:
    from possim.host.cases import CaseDesk, CaseState
    from possim.host.clock import SystemClock
    from possim.host.policy import Inspection

    config = _config(args)
    conn = _open(args)
    try:
        desk = CaseDesk(conn, SystemClock(), config.return_policy)
        command = args.cases_command
        if command == "list":
            cases = desk.list_cases(state=args.state, mid=args.mid, tid=args.tid)
            for case in cases:
                print(json.dumps(case.to_json(), ensure_ascii=False) if args.json else
                      f"{case.id:>5}  {case.tid}  {case.mid}  {case.updated_at:%Y-%m-%d %H:%M}  {case.status_line()}")
            return 0
        if command == "flag-overdue":
            for case in desk.flag_overdue(args.actor):
                print(case.status_line())
            return 0
        case_id = args.case_id
        if command == "review":
            state = desk.get_case(case_id).state
            case = (desk.start_re_review(case_id, args.actor) if state is CaseState.APPEALED
                    else desk.start_review(case_id, args.actor))
        elif command == "decide":
            case = desk.decide(case_id, args.actor, inspection=Inspection(tuple(args.missing), args.damaged),
                               waive=tuple(args.waive), note=args.note)
        elif command == "settle":
            case = desk.record_settlement(case_id, args.actor, args.batch)
        elif command == "unbind":
            case = desk.unbind(case_id, args.actor)
        elif command == "deregister":
            case = desk.deregister(case_id, args.actor)
        elif command == "issue-refund":
            case = desk.issue_refund(case_id, args.actor, method=args.method, reference=args.reference)
        else:  # show
            case = desk.get_case(case_id)
        _print_case(desk, case, args.json, timeline=command == "show")
        return 0
    finally:
        conn.close()


def _print_case(desk: Any, case: Any, as_json: bool, timeline: bool) -> None:
    events = desk.case_timeline(case.id) if timeline else []
    if as_json:
        out = case.to_json()
        if timeline:
            out["timeline"] = [e.to_json() for e in events]
        print(json.dumps(out, ensure_ascii=False))
        return
    print(case.status_line())
    if timeline:
        print(f"terminal {case.tid}  merchant {case.mid}  reason: {case.reason}")
        for reason in (case.decision.reasons if case.decision else ()):
            print(f"  {reason.code}: {reason.text} -- {reason.advice}")
        for e in events:
            frm = e.from_state.value if e.from_state else "-"
            print(f"  {e.at:%Y-%m-%d %H:%M:%S}  {e.actor:<24} {e.action:<16} {frm} -> {e.to_state.value}")


# --- read views ----------------------------------------------------------------------

def _ledger(args: argparse.Namespace) -> int:
    from possim.host.ledger import Ledger
    from possim.host.clock import SystemClock
    from possim.host.policy import SqliteFactsProvider

    if args.limit < 1:
        raise UsageError(f"--limit {args.limit}: expected 1 or more")
    conn = _open(args)
    try:
        ledger = Ledger(conn, SqliteFactsProvider(conn, SystemClock()))
        for txn in ledger.list_txns(args.tid, args.limit):
            row = txn.to_json(unmask=args.unmask)
            if args.json:
                print(json.dumps(row, ensure_ascii=False))
                continue
            state = "voided" if txn.voided_by else "reversed" if txn.reversed_at else ""
            print(f"{txn.id:>6} {txn.at[:19]} {txn.tid} {txn.batch_no}/{txn.stan} {txn.txn_type:<8} "
                  f"{row['pan']:<19} {txn.amount_fen:>10} {txn.response_code} {txn.rrn or '':<12} {state}")
        return 0
    finally:
        conn.close()


def _terminals(args: argparse.Namespace) -> int:
    from possim.host.clock import SystemClock
    from possim.host.merchants import MerchantRegistry

    conn = _open(args)
    try:
        sessions = {row[0]: row[1:] for row in conn.execute(
            "SELECT tid, key_mode, mac_algorithm, signed_in_at, signed_off_at FROM key_sessions")}
        for terminal in MerchantRegistry(conn, SystemClock()).list_terminals():
            mode, alg, signed_in, signed_off = sessions.get(terminal.tid, (None, None, None, None))
            signed = "signed off" if signed_off else f"signed in {signed_in[:19]} ({mode}, {alg})" if signed_in \
                else "never signed in"
            if args.json:
                out = terminal.to_json()
                out.update({"key_mode": mode, "mac_algorithm": alg, "signed_in_at": signed_in,
                            "signed_off_at": signed_off})
                print(json.dumps(out, ensure_ascii=False))
            else:
                print(f"{terminal.tid}  {terminal.state.value:<12} {terminal.mid or '-':<15}  {signed}")
        return 0
    finally:
        conn.close()

