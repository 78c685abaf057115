"""The traffic layer on the real CUP POS dialect: masking, recordings and tshark on BCD frames.

Frame layout and field formats: /work/shared/DOMAIN.md ("Frame layout", "Field formats", "Security").
The card data is made up for these tests.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from possim.iso8583 import Message, get_dialect
from possim.link.framing import frame
from possim.traffic import LinkTap, TrafficBus, event_to_json, read_jsonl, read_pcap, record_jsonl, record_pcap

CUP = get_dialect("cup-pos")
PAN = "6212142000000000012"
TRACK2 = PAN + "=30122011234567890"
PIN_BLOCK = "9CA4E8A0FA2C49B3"
ICC = "9F2608A1B2C3D4E5F607185A0862121420000000125F340101"  # 9F26 cryptogram, 5A PAN, 5F34 PSN
KEYS = "0123456789ABCDEF" + "A1B2C3D4" + "FEDCBA9876543210" + "D4C3B2A1"  # PIK+check, MAK+check (24 bytes)


def _purchase() -> bytes:
    return CUP.encode(Message(mti="0200", tpdu="6005810000", header="603100000000", fields={
        "2": PAN, "3": "000000", "4": "000000000100", "11": "000001", "22": "051", "25": "00",
        "35": TRACK2, "41": "12345678", "42": "123456789012345", "49": "156", "52": PIN_BLOCK,
        "53": "2600000000000000", "55": ICC, "60": "22000001000"}))


def _purchase_response() -> bytes:
    return CUP.encode(Message(mti="0210", tpdu="6000000581", header="603100000000", fields={
        "3": "000000", "4": "000000000100", "11": "000001", "37": "123456789012", "39": "00",
        "41": "12345678", "42": "123456789012345", "49": "156", "60": "22000001000"}))


def _sign_in_response() -> bytes:
    return CUP.encode(Message(mti="0810", tpdu="6000000581", header="603100000000", fields={
        "11": "000002", "39": "00", "41": "12345678", "42": "123456789012345", "60": "00000001001",
        "62": KEYS}))


def _hexes(*values: str) -> list[str]:
    return [v.upper() for v in values]


FORBIDDEN_HEX = _hexes(PAN[:18], "D30122011234567890", PIN_BLOCK, KEYS[:16], KEYS[24:40], "5A086212142000000012")
FORBIDDEN_TEXT = [PAN, TRACK2, PIN_BLOCK, KEYS[:16], KEYS[24:40]]


def _run(bus: TrafficBus) -> list:
    times = iter([10.0, 10.3, 11.0, 11.1])
    tap = LinkTap(bus, "tcp://127.0.0.1:5000#1", role="terminal", dialect=CUP, framing=CUP.default_framing,
                  clock=lambda: next(times))
    return [tap.outbound(_purchase()), tap.inbound(_purchase_response()),
            tap.outbound(bytes.fromhex("600581000060310000000008")), tap.inbound(_sign_in_response())]


def test_cup_frames_decode_pair_and_export_without_secrets() -> None:
    bus = TrafficBus()
    sub = bus.subscribe()
    events = _run(bus)
    assert sub.drain() == events
    assert [e.mti for e in events[:2]] == ["0200", "0210"] and events[3].mti == "0810"
    assert events[1].latency_ms == pytest.approx(300.0)
    assert events[2].message is None and "offset" in (events[2].error or "")  # a truncated frame
    text = "\n".join(json.dumps(event_to_json(e)) for e in events)
    for secret in FORBIDDEN_TEXT + FORBIDDEN_HEX:
        assert secret not in text.upper()
    # the masked raw is still a well-formed CUP frame of the same size
    safe = bytes.fromhex(event_to_json(events[0])["raw"])
    assert len(safe) == len(events[0].raw)
    again = CUP.decode(safe)
    assert again.fields["4"] == "000000000100" and again.fields["2"] != PAN
    assert again.get("55.9F26") == "A1B2C3D4E5F60718"


def test_cup_recordings_hold_no_secrets(tmp_path: Path) -> None:
    bus = TrafficBus()
    jsonl, pcap = tmp_path / "t.jsonl", tmp_path / "t.pcap"
    with record_jsonl(bus, jsonl), record_pcap(bus, pcap):
        events = _run(bus)
    text = jsonl.read_text().upper()
    blob = pcap.read_bytes().hex().upper()
    for secret in FORBIDDEN_TEXT + FORBIDDEN_HEX:
        assert secret not in text
        assert secret not in blob
    back = list(read_jsonl(jsonl))
    assert [e.mti for e in back] == [e.mti for e in events]
    assert [len(s.payload) for s in read_pcap(pcap)] == [len(frame("len2", e.raw)) for e in events]


@pytest.mark.skipif(shutil.which("tshark") is None,
                    reason="tshark is not installed (apt-get install tshark) - Wireshark check skipped")
def test_tshark_reads_cup_recording(tmp_path: Path) -> None:
    bus = TrafficBus()
    pcap = tmp_path / "cup.pcap"
    with record_pcap(bus, pcap, unmask=True):
        events = _run(bus)
    out = subprocess.run(["tshark", "-n", "-r", str(pcap), "-T", "fields", "-e", "tcp.payload"],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    payloads = [bytes.fromhex(line.replace(":", "")) for line in out.splitlines() if line.strip()]
    assert payloads == [frame("len2", e.raw) for e in events]
