"""The peer of ``possim decode --json -``: the same job written directly on pyiso8583.

Reads one hex frame per line from stdin, decodes it as ISO 8583:1987 ASCII, masks the PAN and track 2 as possim
does, and prints one JSON line per frame (an error object for a bad line).
"""

from __future__ import annotations

import json
import sys

import iso8583
from iso8583.specs import default_ascii


def mask_pan(pan: str) -> str:
    return pan[:6] + "*" * (len(pan) - 10) + pan[-4:] if len(pan) > 10 else "*" * len(pan)


def main() -> int:
    failed = 0
    out = sys.stdout
    for number, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        try:
            doc, _ = iso8583.decode(bytes.fromhex(line.strip()), default_ascii)
        except (ValueError, iso8583.DecodeError) as exc:
            failed += 1
            out.write(json.dumps({"error": str(exc), "line": number}) + "\n")
            continue
        mti = doc.pop("t")
        doc.pop("p", None)
        doc.pop("1", None)
        if "2" in doc:
            doc["2"] = mask_pan(doc["2"])
        if "35" in doc:
            pan, _, rest = doc["35"].partition("=")
            doc["35"] = mask_pan(pan) + "=" + "*" * len(rest)
        out.write(json.dumps({"mti": mti, "fields": doc}, separators=(",", ":")) + "\n")
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
