"""``possim terminal``: run the terminal simulator, serve its ECR port, or do one function and print the Result."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from possim.errors import UsageError
from possim.terminal.config import KEY_MODES, PROFILES, load_config, config_from_mapping
from possim.terminal.messages import Card

if TYPE_CHECKING:  # the terminal itself is imported when the command runs, not when the CLI starts
    from possim.terminal.functions import Terminal
    from possim.terminal.result import Result

CONFIG_OPTIONS = {"tid": "tid", "mid": "mid", "name": "merchant_name", "tmk": "tmk", "profile": "profile",
                  "key_mode": "key_mode", "mac_alg": "mac_alg", "dialect": "dialect", "operator": "operator",
                  "timeout": "response_timeout"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "terminal", help="run the POS terminal simulator",
        description="A CUP POS terminal: sign-in, sale, void, refund, balance, settlement, reversal, receipts, "
                    "the return-and-deregister steps, and an ECR port a cash register drives.",
        epilog="examples:\n"
               "  possim terminal --config t.yaml --host tcp://127.0.0.1:5000 sign-in\n"
               "  possim terminal --config t.yaml --host tcp://127.0.0.1:5000 sale --amount 12.34 "
               "--card-track2 6212142000000000012=25121010000 --pin 123456\n"
               "  possim terminal --config t.yaml --host tcp://127.0.0.1:5000 --ecr /dev/ttyUSB0",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="terminal YAML file (tid, mid, merchant_name, tmk, profile, ...)")
    p.add_argument("--host", required=True, metavar="URL", help="the acquirer host: tcp://HOST:PORT or a serial URL")
    p.add_argument("--ecr", metavar="URL", help="serve the cash-register port on this serial URL ('pty' makes one)")
    p.add_argument("--ecr-protocol", default="ecr-possim", metavar="NAME|FILE",
                   help="ECR protocol file (default ecr-possim)")
    p.add_argument("--db", default="possim-terminal.db", metavar="PATH", help="the journal (SQLite)")
    p.add_argument("--traffic", metavar="URL", help="publish every frame on this loopback URL")
    p.add_argument("--printer", metavar="URL",
                   help="also send every slip to an ESC/POS printer: tcp://HOST:9100 or a serial URL")
    p.add_argument("--json", action="store_true", help="print the Result as JSON")
    p.add_argument("--tid", help="terminal id (field 41), overrides the config")
    p.add_argument("--mid", help="merchant id (field 42)")
    p.add_argument("--name", help="merchant name (on the receipt)")
    p.add_argument("--tmk", metavar="HEX", help="terminal master key")
    p.add_argument("--profile", choices=sorted(PROFILES), help="handheld (58 mm) or desktop (80 mm)")
    p.add_argument("--key-mode", choices=KEY_MODES, help="60.3 of sign-in: 001, 003 (default), 004")
    p.add_argument("--mac-alg", choices=("cup-ecb", "x9.9", "x9.19"), help="MAC algorithm (default cup-ecb)")
    p.add_argument("--dialect", help="ISO 8583 dialect (default cup-pos)")
    p.add_argument("--operator", help="operator number")
    p.add_argument("--timeout", type=float, help="response timeout, seconds")
    p.set_defaults(func=run, action=None)
    actions = p.add_subparsers(dest="action", metavar="FUNCTION", parser_class=type(p))
    _register_actions(actions)


def _card_options(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--card-track2", metavar="TRACK2", help="track 2 as the reader gives it (PAN=YYMM...)")
    p.add_argument("--card-pan", metavar="PAN", help="card number, keyed in")
    p.add_argument("--card-expiry", metavar="YYMM", help="expiry date with --card-pan")
    p.add_argument("--pin", help="the cardholder's PIN (enciphered into a PIN block)")
    p.set_defaults(card_required=required)


def _register_actions(actions: argparse._SubParsersAction) -> None:
    for name, text in (("sign-in", "sign in: install and check working keys"), ("sign-off", "sign off"),
                       ("echo", "echo test"), ("settle", "settlement (with batch upload when unbalanced)"),
                       ("reprint", "reprint the last receipt"), ("status", "the terminal's standing and counters"),
                       ("reversal", "send the stored reversals now")):
        actions.add_parser(name, help=text)
    sale = actions.add_parser("sale", help="purchase")
    sale.add_argument("--amount", required=True, help="yuan, e.g. 12.34")
    _card_options(sale)
    void = actions.add_parser("void", help="void a purchase of the open batch")
    void.add_argument("--voucher", required=True, help="voucher no. (STAN) of the purchase")
    _card_options(void, required=False)
    refund = actions.add_parser("refund", help="refund against an earlier purchase")
    refund.add_argument("--amount", required=True, help="yuan")
    refund.add_argument("--rrn", required=True, help="reference no. of the purchase")
    refund.add_argument("--date", required=True, help="date of the purchase, MMDD")
    _card_options(refund)
    balance = actions.add_parser("balance", help="balance inquiry")
    _card_options(balance)
    records = actions.add_parser("records", help="transaction records from the journal")
    records.add_argument("--batch", help="only this batch")
    records.add_argument("--limit", type=int, default=50)
    query = actions.add_parser("query", help="one transaction by voucher no.")
    query.add_argument("--voucher", required=True)
    settings = actions.add_parser("settings", help="show or change settings (name=value ...)")
    settings.add_argument("changes", nargs="*", metavar="NAME=VALUE")
    apply = actions.add_parser("return-apply", help="apply to return the terminal (801)")
    apply.add_argument("--reason", required=True)
    apply.add_argument("--contact")
    apply.add_argument("--identity-proof")
    apply.add_argument("--purchase-proof")
    for name, text in (("return-status", "return case status (802)"), ("refund-confirm", "deposit refund arrived (804)"),
                       ("return-withdraw", "withdraw the application (805)"), ("unbind", "unbind (806)"),
                       ("deregister", "deregister (807)")):
        step = actions.add_parser(name, help=text)
        step.add_argument("--case", help="case id (default: the terminal's last case)")
    appeal = actions.add_parser("return-appeal", help="appeal a rejection (803)")
    appeal.add_argument("--statement", required=True)
    appeal.add_argument("--case")


def _config(args: argparse.Namespace) -> Any:
    overrides = {key: getattr(args, opt) for opt, key in CONFIG_OPTIONS.items()}
    if args.config:
        return load_config(args.config, overrides)
    return config_from_mapping({k: v for k, v in overrides.items() if v is not None}, where="options")


def _fen(text: str) -> int:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise UsageError(f"--amount: expected yuan such as 12.34, got {text!r}") from None
    fen = value * 100
    if fen != fen.to_integral_value() or fen <= 0:
        raise UsageError(f"--amount: expected a positive amount with at most 2 decimals, got {text!r}")
    return int(fen)


def _card(args: argparse.Namespace) -> Card | None:
    if args.card_track2:
        return Card.from_track2(args.card_track2)
    if args.card_pan or args.card_expiry:
        if not (args.card_pan and args.card_expiry):
            raise UsageError("--card-pan and --card-expiry go together")
        return Card(args.card_pan, args.card_expiry)
    if args.card_required:
        raise UsageError("a card is needed: --card-track2, or --card-pan with --card-expiry")
    return None


async def _do(terminal: Terminal, args: argparse.Namespace) -> Result:
    action = args.action
    if action in ("sale", "refund", "balance", "void"):
        card = _card(args)
    if action == "sale":
        return await terminal.purchase(_fen(args.amount), card, args.pin)  # type: ignore[arg-type]
    if action == "void":
        return await terminal.void(args.voucher, card, args.pin)
    if action == "refund":
        return await terminal.refund(_fen(args.amount), card, args.rrn, args.date, args.pin)  # type: ignore[arg-type]
    if action == "balance":
        return await terminal.balance(card, args.pin)  # type: ignore[arg-type]
    if action == "records":
        return await terminal.records(args.batch, args.limit)
    if action == "query":
        return await terminal.query(args.voucher)
    if action == "settings":
        pairs = [c.partition("=") for c in args.changes]
        if any(not sep for _, sep, _ in pairs):
            raise UsageError("settings: expected NAME=VALUE")
        return await terminal.settings(**{k: v for k, _, v in pairs})
    if action == "return-apply":
        return await terminal.return_apply(args.reason, args.contact, args.identity_proof, args.purchase_proof)
    if action == "return-appeal":
        return await terminal.return_appeal(args.statement, args.case)
    simple = {"sign-in": terminal.sign_in, "sign-off": terminal.sign_off, "echo": terminal.echo,
              "settle": terminal.settle, "reprint": terminal.reprint, "status": terminal.status,
              "reversal": terminal.send_reversals}
    if action in simple:
        return await simple[action]()
    steps = {"return-status": terminal.return_status, "refund-confirm": terminal.refund_confirm,
             "return-withdraw": terminal.return_withdraw, "unbind": terminal.unbind,
             "deregister": terminal.deregister}
    return await steps[action](args.case)


def _print(result: Result, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
        return
    print(result.summary())
    for key, value in result.data.items():
        print(f"  {key}: {json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value}")
    if result.receipt_text:
        print(result.receipt_text, end="" if result.receipt_text.endswith("\n") else "\n")


def _stop_signal() -> asyncio.Future[None]:
    loop = asyncio.get_running_loop()
    stopped: asyncio.Future[None] = loop.create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: stopped.done() or stopped.set_result(None))
    return stopped


async def _main(args: argparse.Namespace) -> int:
    from possim.terminal.app import TerminalOptions, running_terminal, serve_ecr

    config = _config(args)
    options = TerminalOptions(args.host, args.db, args.ecr, args.ecr_protocol, args.traffic,
                              getattr(args, "unmask", False), args.printer)
    if args.action is None and not args.ecr:
        raise UsageError("nothing to do: give --ecr URL to serve the cash-register port, or a FUNCTION "
                         "(see possim terminal --help)")
    async with running_terminal(config, options, announce=lambda line: print(line, flush=True)) as terminal:
        if args.ecr:
            await serve_ecr(terminal, args.ecr, args.ecr_protocol, announce=lambda line: print(line, flush=True),
                            stop=_stop_signal())
            return 0
        result = await _do(terminal, args)
        _print(result, args.json)
        return 0 if result.approved else 1


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_main(args))
