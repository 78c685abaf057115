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
        epilog="examples:\n"
               "  possim decode 007960000001386131003111080810003800010AC00014500211221301072008000855003232313330"
               "31343931333239303039393939393930363030313433303137303131393939390011000005190030004046F161A7434"
               "97B32EAC760DF5EA57DF5900ECCE3977731A7EA402DDF0000000000000000CFF1592A\n"
               "  possim decode --json - < frames.hex\n"
               "  possim decode --dialect iso87-ascii --framing none 30383030...",
        formatter_class=argparse.RawDescriptionHelpFormatter)
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
