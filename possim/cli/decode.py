"""``possim decode``: bytes of one frame (or a log of frames, one per line) to fields."""

from __future__ import annotations

import argparse
import json
import sys

from possim import wire
from possim.iso8583 import get_dialect
from possim.iso8583.describe import describe


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "decode", help="decode a frame given as hex (or one frame per line from stdin with '-')",
        description="Decode ISO 8583 frames. HEX is one frame; '-' reads one frame per line from stdin and writes "
                    "one line per frame (JSON Lines with --json); a bad line gives {\"error\": ..., \"line\": N} "
                    "and the run goes on, exiting 2 at the end.",
        epilog="example: possim decode --dialect cup-pos 002E60058100006031000000000800...")
    p.add_argument("hex", nargs="?", metavar="HEX", help="the frame as hex, or '-' for one frame per stdin line")
    p.add_argument("--dialect", default="cup-pos", help="dialect name or file (default: cup-pos)")
    p.add_argument("--framing", help="none, len2, len2i, len4, bcd2 or stx (default: the dialect's)")
    p.add_argument("--json", action="store_true", help="print the plain JSON form instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    dialect = get_dialect(args.dialect)
    if args.hex in (None, "-"):
        result = wire.BulkResult()
        for line in wire.decode_lines(dialect, sys.stdin, framing=args.framing, as_json=args.json,
                                      unmask=args.unmask, result=result):
            print(line)
        if result.failed:
            print(f"possim: {result.failed} of {result.lines} lines failed to decode", file=sys.stderr)
            return 2
        return 0
    data = wire.parse_hex(args.hex, "HEX")
    msg = wire.decode_frame(dialect, data, args.framing)
    if args.json:
        print(json.dumps(msg.to_json(mask=not args.unmask), ensure_ascii=False))
    else:
        print(describe(dialect, msg, unmask=args.unmask, raw=data))
    return 0
