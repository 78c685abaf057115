"""The ``possim`` command: parses arguments, wires the pieces, prints.

Each subcommand lives in its own module ``possim.cli.<name>`` exposing
``register(subparsers)``; the handler it sets as ``func`` returns an exit code.
No business logic lives here (DESIGN.md).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

from possim.errors import PossimError

# Order is the order shown in ``possim --help``.
COMMANDS = ["dialects", "decode", "encode", "crypto", "host", "terminal", "run", "tui", "load", "demo"]


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="possim",
        description="POS-terminal simulator and test harness (ISO 8583, China UnionPay POS first).",
        epilog="examples:\n"
               "  possim demo                                  a merchant's whole life, in-process\n"
               "  possim decode - < docs/samples/cup-pos-frames.hex\n"
               "  possim host --listen tcp://127.0.0.1:5000    the acquirer host simulator\n"
               "  possim run scenarios/                        scenario files, PASS/FAIL per scenario",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--unmask", action="store_true",
                        help="debug only: show full PANs, track data, PIN blocks and keys")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"possim.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"possim.cli.{name}":
                continue  # not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
    except PossimError as exc:
        print(f"possim: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `possim decode ... | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return int(code or 0)


def entry() -> None:  # pragma: no cover - console script shim
    sys.exit(main())
