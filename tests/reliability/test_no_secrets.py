"""After a full lifecycle, no full PAN, track 2, clear PIN block or clear key appears in anything possim wrote.

The run: a real HostServer (loopback TCP, real SQLite, a traffic bus recorded to JSON Lines and PCAP,
every logger at DEBUG into a file) and `possim terminal` driven through the CLI entry point (its
stdout and stderr captured): sign-in, purchase with PIN (track 2), a second purchase keyed in,
void, refund, balance with PIN, reprint, records, settlement, return application, status and
withdrawal; then the host's back-office views (`possim host ledger / terminals / cases`), the
describe output (`possim decode`) of every frame that crossed the wire, and every receipt's text and
ESC/POS bytes from the journal.

Everything is then searched for each test PAN (also in every text with whitespace removed, and as
packed BCD in the binary files), each track 2 (`=` and `D` separators), each clear ISO 9564 format-0
PIN block and each clear key -- TMK, PIK, MAK as delivered in field 62 -- as hex in both cases (and
as raw bytes in the binary files).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import sqlite3
from pathlib import Path

from possim.cli import main
from possim.host.clock import SimulatedClock
from possim.host.example_config import example_config
from possim.iso8583 import get_dialect
from possim.iso8583.describe import describe
from possim.security import keys, pinblock
from possim.traffic import TrafficBus, record_jsonl, record_pcap

from tests.host.conftest import START, HostThread

CUP = get_dialect("cup-pos")
TMK = "0123456789ABCDEFFEDCBA9876543210"
TID, MID = "10000001", "898310048120001"
DEBIT, DEBIT_PIN, DEBIT_TRACK2 = "6222021234567890123", "123456", "6222021234567890123=30122201234500000"
CREDIT, CREDIT_PIN = "6225881234567890", "654321"


class Run:
    def __init__(self, tmp: Path, port: int) -> None:
        self.tmp = tmp
        self.port = port
        self.outputs: list[str] = []
        self.results: list[dict] = []

    def cli(self, *argv: str) -> tuple[int, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(argv))
        self.outputs += [out.getvalue(), err.getvalue()]
        return code, out.getvalue()

    def terminal(self, *argv: str, json_out: bool = True) -> dict:
        base = ["terminal", "--host", f"tcp://127.0.0.1:{self.port}", "--db", str(self.tmp / "terminal.db"),
                "--tid", TID, "--mid", MID, "--name", "上海浦东测试便利店", "--tmk", TMK]
        if not json_out:
            code, _ = self.cli(*base, *argv)
            assert code in (0, 1), argv
            return {}
        code, out = self.cli(*base, "--json", *argv)
        result = json.loads(out.strip().splitlines()[-1])
        self.results.append(result)
        assert code in (0, 1), (argv, out)
        return result


def _lifecycle(run: Run) -> None:
    assert run.terminal("sign-in")["approved"]
    sale = run.terminal("sale", "--amount", "12.34", "--card-track2", DEBIT_TRACK2, "--pin", DEBIT_PIN)
    assert sale["approved"], sale
    run.terminal("sale", "--amount", "8.00", "--card-pan", CREDIT, "--card-expiry", "2912", "--pin", CREDIT_PIN,
                 json_out=False)  # the human form, slip and all
    keyed = run.terminal("sale", "--amount", "20.00", "--card-pan", DEBIT, "--card-expiry", "3012",
                         "--pin", DEBIT_PIN)
    assert keyed["approved"], keyed
    assert run.terminal("void", "--voucher", sale["stan"])["approved"]
    refund = run.terminal("refund", "--amount", "5.00", "--rrn", keyed["rrn"], "--date", keyed["host_date"],
                          "--card-pan", DEBIT, "--card-expiry", "3012")
    assert refund["approved"], refund
    assert run.terminal("balance", "--card-track2", DEBIT_TRACK2, "--pin", DEBIT_PIN)["approved"]
    run.terminal("balance", "--card-pan", DEBIT, "--card-expiry", "3012", "--pin", "000000")  # a wrong PIN
    run.terminal("reprint")
    run.terminal("records")
    run.terminal("query", "--voucher", keyed["stan"])
    run.terminal("status")
    assert run.terminal("settle")["approved"]
    applied = run.terminal("return-apply", "--reason", "店铺停业", "--contact", "张三 13800000000",
                           "--identity-proof", "ID-310101199001011234", "--purchase-proof", "INV-2024-0001")
    assert applied["code"] == "00", applied.get("detail")
    run.terminal("return-status")
    run.terminal("return-withdraw")
    db = str(run.tmp / "host.db")
    for view in (["ledger"], ["ledger", "--json"], ["terminals"], ["terminals", "--json"], ["cases", "list"],
                 ["cases", "show", "1", "--json"]):
        code, _ = run.cli("host", "--db", db, *view)
        assert code == 0, (view, run.outputs[-1])


def _secrets(frames: list[bytes]) -> dict[str, bytes]:
    """name -> the text form to look for (bytes, ASCII)."""
    found: dict[str, bytes] = {}
    for pan, pin in ((DEBIT, DEBIT_PIN), (CREDIT, CREDIT_PIN), (DEBIT, "000000")):
        found[f"PAN {pan[-4:]}"] = pan.encode()
        block = pinblock.build(0, pin, pan).hex().upper()
        found[f"clear PIN block {pan[-4:]}/{len(pin)}"] = block.encode()
    found["track 2"] = DEBIT_TRACK2.encode()
    found["track 2 (D)"] = DEBIT_TRACK2.replace("=", "D").encode()
    found["track 2 after the PAN"] = DEBIT_TRACK2.split("=", 1)[1].encode()
    found["TMK"] = TMK.encode()
    sign_ins = [CUP.decode(f) for f in frames if f[11:13] == b"\x08\x10"]
    assert sign_ins, "no 0810 seen"
    for n, answer in enumerate(m for m in sign_ins if m.get("62") and m.get("60.3") == "003"):
        working = keys.parse_field62("003", bytes.fromhex(answer["62"]), bytes.fromhex(TMK))
        for name in ("pik", "mak"):
            key = getattr(working, name)
            found[f"{name.upper()} #{n}"] = key.hex().upper().encode()
            found[f"{name.upper()} #{n} half"] = key[:8].hex().upper().encode()
    return found


def _bcd(digits: str) -> bytes:
    return bytes.fromhex(digits + ("0" if len(digits) % 2 else ""))[: (len(digits) + 1) // 2]


def test_no_secret_in_logs_exports_describe_output_or_receipts(tmp_path: Path) -> None:
    log_file = tmp_path / "debug.log"
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)

    bus = TrafficBus()
    frames_sub = bus.subscribe(maxsize=10_000)
    host = HostThread(example_config(), tmp_path / "host.db", SimulatedClock(START), traffic_bus=bus)
    try:
        with record_jsonl(bus, tmp_path / "traffic.jsonl"), record_pcap(bus, tmp_path / "traffic.pcap"):
            host.start()
            run = Run(tmp_path, host.port)
            _lifecycle(run)
            host.stop()
    finally:
        host.stop()
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()

    frames = []
    while (event := frames_sub.get_nowait()) is not None:
        if event.raw:
            frames.append(event.raw)
    assert len(frames) >= 24, len(frames)  # 12 exchanges, each way

    texts: dict[str, str] = {"debug log": log_file.read_text(encoding="utf-8"),
                             "traffic.jsonl": (tmp_path / "traffic.jsonl").read_text(encoding="utf-8"),
                             "CLI output": "\n".join(run.outputs)}
    described = []
    for frame in frames:
        described.append(describe(CUP, CUP.decode(frame), raw=frame))
        run.cli("decode", "--dialect", "cup-pos", "--framing", "none", frame.hex().upper())
        run.cli("decode", "--dialect", "cup-pos", "--framing", "none", "--json", frame.hex().upper())
    texts["describe"] = "\n".join(described)
    texts["possim decode"] = "\n".join(run.outputs[-4 * len(frames):])
    with sqlite3.connect(tmp_path / "terminal.db") as conn:
        receipts = conn.execute("SELECT text, escpos FROM receipts").fetchall()
    assert receipts
    texts["receipt text"] = "\n".join(text for text, _ in receipts) + "\n".join(
        r.get("receipt_text") or "" for r in run.results)
    binaries = {"traffic.pcap": (tmp_path / "traffic.pcap").read_bytes(),
                "ESC/POS": b"".join(bytes(escpos) for _, escpos in receipts)}
    for name, blob in binaries.items():
        assert blob, name

    secrets = _secrets(frames)
    leaks = []
    for where, text in texts.items():
        assert text, where
        squeezed = re.sub(r"\s+", "", text)
        for what, needle in secrets.items():
            for haystack in (text, squeezed, text.upper(), text.lower()):
                if needle.decode().upper() in haystack.upper():
                    leaks.append(f"{what} in {where}")
                    break
    for where, blob in binaries.items():
        for what, needle in secrets.items():
            raw_forms = [needle, needle.lower()]
            if what.startswith("PAN"):
                raw_forms.append(_bcd(needle.decode()))
            elif not what.startswith("track"):
                raw_forms.append(bytes.fromhex(needle.decode()))
            if any(form in blob for form in raw_forms):
                leaks.append(f"{what} in {where}")
    assert not leaks, sorted(set(leaks))
    # the scan can see what it looks for: the frames themselves carry the PAN in BCD, and the same
    # decode run with the global --unmask shows the PAN and track 2 it hid above
    assert any(_bcd(DEBIT) in f for f in frames)
    unmasked = io.StringIO()
    with contextlib.redirect_stdout(unmasked):
        for frame in frames:
            main(["--unmask", "decode", "--dialect", "cup-pos", "--framing", "none", frame.hex().upper()])
    assert DEBIT in unmasked.getvalue() and DEBIT_TRACK2 in unmasked.getvalue()
