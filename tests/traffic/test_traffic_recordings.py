"""Recorders: JSON Lines that read back and replay, PCAP that tshark opens."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from possim.errors import PossimError
from possim.link.framing import frame
from possim.traffic import (
    JsonlWriter,
    LinkTap,
    PcapWriter,
    TrafficBus,
    make_event,
    read_jsonl,
    read_pcap,
    record_jsonl,
    record_pcap,
    replay_frames,
)
from possim.traffic.pcap import checksum16

from .toydialect import PAN, TOY, echo, purchase, purchase_response, toy_resolver

HOST_LINK = "tcp://127.0.0.1:5000#1"


def _conversation(bus: TrafficBus) -> list:
    """A host's view of one terminal: echo, purchase, and their answers."""
    times = iter([100.0, 100.02, 100.5, 100.75])
    tap = LinkTap(bus, HOST_LINK, role="host", dialect=TOY, framing="len2", clock=lambda: next(times))
    return [
        tap.inbound(TOY.encode(echo())),
        tap.outbound(TOY.encode(echo().__class__("0830", {"11": "000002", "39": "00", "41": "12345678"}))),
        tap.inbound(TOY.encode(purchase())),
        tap.outbound(TOY.encode(purchase_response())),
    ]


# --- JSON Lines -------------------------------------------------------------------------------

def test_jsonl_recorder_round_trip(tmp_path: Path) -> None:
    bus = TrafficBus()
    path = tmp_path / "traffic.jsonl"
    with record_jsonl(bus, path) as recorder:
        published = _conversation(bus)
    assert recorder.dropped == 0
    lines = path.read_text().splitlines()
    assert len(lines) == 4
    back = list(read_jsonl(path, dialect_resolver=toy_resolver))
    assert [(e.seq, e.time, e.link, e.direction, e.role, e.framing) for e in back] == \
           [(e.seq, e.time, e.link, e.direction, e.role, e.framing) for e in published]
    # frames without secrets come back byte for byte; the purchase comes back sanitized
    assert [e.raw for e in back[:2]] == [e.raw for e in published[:2]]
    assert back[3].raw == published[3].raw
    assert back[2].raw != published[2].raw and len(back[2].raw) == len(published[2].raw)
    assert back[2].message.fields["4"] == "000000000100"
    assert back[3].latency_ms == pytest.approx(250.0)
    assert PAN not in path.read_text()


def test_jsonl_unmasked_recording_replays_the_exact_frames(tmp_path: Path) -> None:
    bus = TrafficBus()
    path = tmp_path / "traffic.jsonl"
    with record_jsonl(bus, path, unmask=True):
        published = _conversation(bus)
    frames = list(replay_frames(path))
    assert [f.raw for f in frames] == [e.raw for e in published]
    assert [f.seq for f in frames] == [1, 2, 3, 4]
    terminal_side = list(replay_frames(path, direction="in", role="host"))
    assert [f.raw for f in terminal_side] == [TOY.encode(echo()), TOY.encode(purchase())]
    assert all(f.framing == "len2" and not f.masked for f in frames)


def test_replay_of_masked_recording_gives_sanitized_frames(tmp_path: Path) -> None:
    bus = TrafficBus()
    path = tmp_path / "traffic.jsonl"
    with record_jsonl(bus, path):
        _conversation(bus)
    frames = list(replay_frames(path, direction="in"))
    assert [f.masked for f in frames] == [False, True]
    replayed = TOY.decode(frames[1].raw)
    assert replayed.mti == "0200" and replayed.fields["2"] != PAN


def test_replay_refuses_a_withheld_frame_unless_told_to_skip(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with JsonlWriter(path) as writer:
        writer.write(make_event("in", b"\xff\xfe", HOST_LINK, time=1.0, role="host", dialect=TOY))
        writer.write(make_event("in", TOY.encode(echo()), HOST_LINK, time=2.0, role="host", dialect=TOY))
    with pytest.raises(PossimError, match="line 1: .*withheld"):
        list(replay_frames(path))
    assert [f.raw for f in replay_frames(path, skip_withheld=True)] == [TOY.encode(echo())]


def test_bad_recording_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    good = json.dumps({"seq": 1, "time": 1.0, "link": "x", "dir": "in", "role": "host", "raw": "00"})
    path.write_text(good + "\n\n{oops\n")
    with pytest.raises(PossimError, match="line 3: not JSON"):
        list(read_jsonl(path))


# --- PCAP ---------------------------------------------------------------------------------------

def _record_pcap(tmp_path: Path, *, unmask: bool) -> tuple[Path, list]:
    bus = TrafficBus()
    path = tmp_path / "traffic.pcap"
    with record_pcap(bus, path, unmask=unmask):
        published = _conversation(bus)
    return path, published


def test_pcap_parses_back_as_one_tcp_conversation(tmp_path: Path) -> None:
    path, published = _record_pcap(tmp_path, unmask=True)
    data = path.read_bytes()
    magic, major, minor, _zone, _sig, snaplen, linktype = struct.unpack("<IHHiIII", data[:24])
    assert (magic, major, minor, snaplen, linktype) == (0xA1B2C3D4, 2, 4, 65535, 101)

    segments = list(read_pcap(path))
    assert [s.payload for s in segments] == [frame("len2", e.raw) for e in published]
    assert [s.time for s in segments] == pytest.approx([100.0, 100.02, 100.5, 100.75])
    # host role: "in" came from the terminal (client port) to the host's port 5000
    assert [(s.src_port == 5000, s.dst_port == 5000) for s in segments] == \
           [(False, True), (True, False), (False, True), (True, False)]
    # each side's sequence number advances by what it sent; acks track the other side
    term = [s for s in segments if s.dst_port == 5000]
    host = [s for s in segments if s.src_port == 5000]
    assert term[1].seq == term[0].seq + len(term[0].payload)
    assert host[1].seq == host[0].seq + len(host[0].payload)
    assert host[0].ack == term[0].seq + len(term[0].payload)
    assert term[1].ack == host[0].seq + len(host[0].payload)


def test_pcap_checksums_are_valid(tmp_path: Path) -> None:
    path, _ = _record_pcap(tmp_path, unmask=True)
    data = path.read_bytes()
    offset = 24
    while offset < len(data):
        incl = struct.unpack("<I", data[offset + 8:offset + 12])[0]
        packet = data[offset + 16:offset + 16 + incl]
        offset += 16 + incl
        assert checksum16(packet[:20]) == 0
        tcp = packet[20:]
        pseudo = packet[12:20] + struct.pack(">BBH", 0, 6, len(tcp))
        assert checksum16(pseudo + tcp) == 0


def test_masked_pcap_carries_no_pan_and_keeps_frame_sizes(tmp_path: Path) -> None:
    path, published = _record_pcap(tmp_path, unmask=False)
    data = path.read_bytes()
    assert PAN.encode() not in data
    assert [len(s.payload) for s in read_pcap(path)] == [len(frame("len2", e.raw)) for e in published]


def test_serial_link_without_port_uses_default_host_port(tmp_path: Path) -> None:
    path = tmp_path / "serial.pcap"
    with PcapWriter(path) as writer:
        writer.write(make_event("out", TOY.encode(echo()), "pty:/dev/pts/4", time=1.0, role="terminal",
                                dialect=TOY, framing="stx"))
    (segment,) = read_pcap(path)
    assert segment.dst_port == 8583
    assert segment.payload == frame("stx", TOY.encode(echo()))


def test_read_pcap_rejects_other_files(tmp_path: Path) -> None:
    path = tmp_path / "x.pcap"
    path.write_bytes(b"\x0a\x0d\x0d\x0a" + bytes(40))
    with pytest.raises(PossimError, match="magic"):
        list(read_pcap(path))


@pytest.mark.skipif(shutil.which("tshark") is None,
                    reason="tshark is not installed (apt-get install tshark) - Wireshark check skipped")
def test_tshark_reads_the_recording(tmp_path: Path) -> None:
    path, published = _record_pcap(tmp_path, unmask=True)
    result = subprocess.run(
        ["tshark", "-n", "-r", str(path), "-T", "fields",
         "-e", "ip.src", "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "tcp.len", "-e", "tcp.payload"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines() if line.strip()]
    assert len(rows) == len(published)
    expected = [frame("len2", e.raw) for e in published]
    assert [row[0] for row in rows] == ["127.0.0.1"] * 4
    assert [int(row[3]) for row in rows] == [len(b) for b in expected]
    assert [bytes.fromhex(row[4].replace(":", "")) for row in rows] == expected
    # and tshark finds nothing malformed in it
    expert = subprocess.run(["tshark", "-n", "-r", str(path), "-Y", "_ws.malformed || _ws.expert.severity >= warning"],
                            capture_output=True, text=True, timeout=120, check=False)
    assert expert.returncode == 0, expert.stderr
    assert expert.stdout.strip() == ""
