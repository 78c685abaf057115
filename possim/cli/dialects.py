"""``possim dialects``: list the shipped dialects and the user's own."""

from __future__ import annotations

import argparse

from possim.iso8583 import dialect_files, get_dialect


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dialects", help="list dialects (wire formats) possim knows",
                       description="List the dialect files possim can use, shipped and from POSSIM_PROTOCOLS.",
                       epilog="example: possim dialects")
    p.add_argument("--paths", action="store_true", help="also show each dialect's file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for name, path in sorted(dialect_files().items()):
        d = get_dialect(name)
        line = f"{name:<16} framing={d.default_framing:<5} {d.description}"
        print(f"{line}  [{path}]" if args.paths else line)
    return 0
