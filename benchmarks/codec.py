"""Codec throughput: possim's iso87-ascii dialect against pyiso8583, side by side, in one run.

Both encode and decode the same ISO 8583:1987 ASCII messages (checked byte-identical before timing). Reported as
messages per second for each and the ratio possim / pyiso8583. The bulk path runs ``possim decode --json -`` and
an equivalent pyiso8583 script (``peer_pyiso8583_bulk.py``) over the same 20,000-line file.

Run: ``python benchmarks/codec.py`` (needs the dev extra: pyiso8583).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import iso8583
from iso8583.specs import default_ascii

from possim.iso8583 import get_dialect

HERE = Path(__file__).resolve().parent

# Typical POS traffic, as fields both libraries encode identically under ISO 8583:1987 ASCII.
MESSAGES: list[tuple[str, dict[str, str]]] = [
    ("0200", {"2": "4761739001010119", "3": "000000", "4": "000000001000", "7": "1122101010", "11": "123456",
              "12": "101010", "13": "1122", "14": "2512", "22": "051", "25": "00",
              "35": "4761739001010119=25122011143804400000", "37": "123456789012", "41": "TERM0001",
              "42": "MERCHANT0000001", "49": "840"}),
    ("0210", {"2": "4761739001010119", "3": "000000", "4": "000000001000", "7": "1122101010", "11": "123456",
              "12": "101010", "13": "1122", "37": "123456789012", "38": "A1B2C3", "39": "00", "41": "TERM0001",
              "42": "MERCHANT0000001", "49": "840", "54": "0002840C000000012345"}),
    ("0800", {"7": "1122101010", "11": "000001", "70": "301"}),
    ("0400", {"2": "6212142000000000012", "3": "000000", "4": "000000000100", "11": "000124", "22": "051",
              "25": "00", "41": "TERM0001", "42": "MERCHANT0000001", "49": "156", "90": "0200000123" + "1122101010"
              + "0000000000000000000000"}),
]


def _best_rate(fn: Callable[[], Any], n: int, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, time.perf_counter() - t0)
    return n / best


def codec_rates(n: int = 20_000) -> dict[str, float]:
    dialect = get_dialect("iso87-ascii")
    msgs = [dialect.message(mti, fields) for mti, fields in MESSAGES]
    raws = [dialect.encode(m) for m in msgs]
    docs = [{"t": mti, **fields} for mti, fields in MESSAGES]
    for doc, raw in zip(docs, raws):
        peer_raw, _ = iso8583.encode(dict(doc), default_ascii)
        if bytes(peer_raw) != raw:
            raise SystemExit(f"messages differ between the two libraries: {raw!r} vs {bytes(peer_raw)!r}")

    k = len(msgs)

    def possim_decode() -> None:
        for raw in raws:
            dialect.decode(raw)

    def peer_decode() -> None:
        for raw in raws:
            iso8583.decode(raw, default_ascii)

    def possim_encode() -> None:
        for m in msgs:
            dialect.encode(m)

    def peer_encode() -> None:
        for doc in docs:
            iso8583.encode(dict(doc), default_ascii)  # pyiso8583 writes into the dict it is given

    rounds = max(n // k, 1)
    return {
        "possim_decode": _best_rate(possim_decode, rounds) * k,
        "pyiso8583_decode": _best_rate(peer_decode, rounds) * k,
        "possim_encode": _best_rate(possim_encode, rounds) * k,
        "pyiso8583_encode": _best_rate(peer_encode, rounds) * k,
    }


def bulk_rates(lines: int = 20_000) -> dict[str, float]:
    dialect = get_dialect("iso87-ascii")
    frames = [dialect.encode(dialect.message(mti, fields)).hex().upper() for mti, fields in MESSAGES]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "frames.hex"
        path.write_text("\n".join(frames[i % len(frames)] for i in range(lines)) + "\n")
        commands = {
            "possim_bulk": [sys.executable, "-m", "possim", "decode", "--dialect", "iso87-ascii", "--json", "-"],
            "pyiso8583_bulk": [sys.executable, str(HERE / "peer_pyiso8583_bulk.py")],
        }
        out: dict[str, float] = {}
        for name, cmd in commands.items():
            best = float("inf")
            for _ in range(3):
                with open(path, "rb") as stdin:
                    t0 = time.perf_counter()
                    done = subprocess.run(cmd, stdin=stdin, stdout=subprocess.PIPE, check=True,
                                          env={**os.environ, "PYTHONHASHSEED": "0"})
                    best = min(best, time.perf_counter() - t0)
                produced = done.stdout.count(b"\n")
                if produced != lines:
                    raise SystemExit(f"{name} wrote {produced} lines for {lines}")
            out[name] = lines / best
        return out


def run() -> dict[str, Any]:
    rates = codec_rates()
    rates.update(bulk_rates())
    return {
        "rates": rates,
        "ratios": {
            "decode": rates["possim_decode"] / rates["pyiso8583_decode"],
            "encode": rates["possim_encode"] / rates["pyiso8583_encode"],
            "bulk_decode_json": rates["possim_bulk"] / rates["pyiso8583_bulk"],
        },
    }


def main() -> None:
    result = run()
    r = result["rates"]
    print(f"{'':<22}{'possim':>14}{'pyiso8583':>14}{'ratio':>8}")
    for label, a, b in [("decode (msg/s)", "possim_decode", "pyiso8583_decode"),
                        ("encode (msg/s)", "possim_encode", "pyiso8583_encode"),
                        ("bulk decode --json", "possim_bulk", "pyiso8583_bulk")]:
        print(f"{label:<22}{r[a]:>14,.0f}{r[b]:>14,.0f}{r[a] / r[b]:>7.2f}x")
    if "--json" in sys.argv:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
