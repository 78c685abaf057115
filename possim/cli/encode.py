"""``possim encode``: the plain JSON form of a message to the hex of its frame."""

from __future__ import annotations

import argparse
import sys

from possim import wire
from possim.iso8583 import get_dialect


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "encode", help="encode a message from its JSON form; prints hex ('-': one JSON message per stdin line)",
        description="Encode messages given in the plain JSON form of DESIGN.md and print the frame as hex. "
                    "'-' reads one JSON message per line; a bad line gives {\"error\": ..., \"line\": N}, "
                    "the run goes on and exits 2 at the end.",
        epilog='example: possim encode --dialect iso87-ascii \'{"mti": "0800", "fields": {"11": "000001", '
               '"70": "301"}}\'')
    p.add_argument("json", nargs="?", metavar="JSON", help="the message as JSON, or '-' for JSON Lines on stdin")
    p.add_argument("--dialect", default="cup-pos", help="dialect name or file (default: cup-pos)")
    p.add_argument("--framing", help="none, len2, len2i, len4, bcd2 or stx (default: the dialect's)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    dialect = get_dialect(args.dialect)
    if args.json in (None, "-"):
        result = wire.BulkResult()
        for line in wire.encode_lines(dialect, sys.stdin, framing=args.framing, result=result):
            print(line)
        if result.failed:
            print(f"possim: {result.failed} of {result.lines} lines failed to encode", file=sys.stderr)
            return 2
        return 0
    msg = wire.message_from_json_text(dialect, args.json)
    print(wire.encode_frame(dialect, msg, args.framing).hex().upper())
    return 0
