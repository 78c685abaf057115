"""PCAP recordings that Wireshark and tshark open as ordinary TCP traffic.

Traffic may come from a serial port or an in-memory pipe, yet the tool every
payment engineer already has for looking at frames is Wireshark. So each
link is drawn as one synthetic TCP connection on 127.0.0.1 -- terminal on an
ephemeral port, host on the link's port (or 8583) -- in classic libpcap
format with LINKTYPE_RAW (bare IPv4). Sequence and acknowledgement numbers
advance with the bytes sent, so "Follow TCP Stream" shows the conversation.
The framing (length prefix, STX..ETX) is put back so the segments carry
exactly what a real wire would.

Secrets follow the JSON rule: without ``unmask`` a frame is written with its
sanitized bytes, and a frame with nothing safe to show becomes zero bytes of
the same length, so the stream keeps its shape.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from possim.errors import PossimError
from possim.link.framing import frame as link_frame
from possim.traffic.event import TrafficEvent

PCAP_MAGIC = 0xA1B2C3D4  # microsecond timestamps
LINKTYPE_RAW = 101  # raw IPv4/IPv6, version from the first nibble
SNAPLEN = 65535
DEFAULT_HOST_PORT = 8583
FIRST_CLIENT_PORT = 49152
MAX_SEGMENT = 65535 - 40  # what fits in one IPv4 packet with a bare TCP header
LOOPBACK = bytes([127, 0, 0, 1])
TCP_PSH_ACK = 0x18


def frame_bytes(body: bytes, framing: str | None) -> bytes:
    """Put back the link framing the transport stripped (``possim.link`` owns the formats)."""
    if framing in (None, ""):
        return body
    return link_frame(framing, body)


def checksum16(data: bytes) -> int:
    """The ones' complement sum used by IPv4 and TCP (RFC 1071)."""
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f">{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4_tcp_packet(
    src_port: int, dst_port: int, seq: int, ack: int, payload: bytes, ip_id: int,
    src: bytes = LOOPBACK, dst: bytes = LOOPBACK, flags: int = TCP_PSH_ACK,
) -> bytes:
    tcp_len = 20 + len(payload)
    tcp_header = struct.pack(">HHIIBBHHH", src_port, dst_port, seq, ack, 5 << 4, flags, 65535, 0, 0)
    pseudo = src + dst + struct.pack(">BBH", 0, 6, tcp_len)
    tcp_sum = checksum16(pseudo + tcp_header + payload)
    tcp_header = tcp_header[:16] + struct.pack(">H", tcp_sum) + tcp_header[18:]
    ip_header = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + tcp_len, ip_id & 0xFFFF, 0x4000, 64, 6, 0, src, dst)
    ip_header = ip_header[:10] + struct.pack(">H", checksum16(ip_header)) + ip_header[12:]
    return ip_header + tcp_header + payload


_PORT_IN_LINK = re.compile(r"^tcp://[^/#]*:(\d{1,5})")


@dataclass
class _Connection:
    client_port: int
    host_port: int
    client_seq: int
    host_seq: int


def _from_terminal(event: TrafficEvent) -> bool:
    """Whether the frame travelled terminal -> host on the real link."""
    if event.role == "host":
        return event.direction == "in"
    return event.direction == "out"  # terminal sends out; a tap's "out" is toward the host


class PcapWriter:
    """Writes events as TCP segments of a libpcap file (path or binary stream)."""

    def __init__(
        self,
        target: str | Path | IO[bytes],
        *,
        unmask: bool = False,
        framer: Callable[[bytes, str | None], bytes] = frame_bytes,
    ) -> None:
        if isinstance(target, (str, Path)):
            self._stream: IO[bytes] = open(target, "wb")
            self._owns = True
        else:
            self._stream = target
            self._owns = False
        self.unmask = unmask
        self._framer = framer
        self._conns: dict[str, _Connection] = {}
        self._ip_id = 0
        self.packets = 0
        self._stream.write(struct.pack("<IHHiIII", PCAP_MAGIC, 2, 4, 0, 0, SNAPLEN, LINKTYPE_RAW))
        self._stream.flush()

    def _connection(self, link: str) -> _Connection:
        conn = self._conns.get(link)
        if conn is None:
            match = _PORT_IN_LINK.match(link)
            host_port = int(match.group(1)) if match and 0 < int(match.group(1)) < 65536 else DEFAULT_HOST_PORT
            client_port = FIRST_CLIENT_PORT + len(self._conns) % (65536 - FIRST_CLIENT_PORT)
            conn = _Connection(client_port, host_port, client_seq=1_000_000, host_seq=2_000_000)
            self._conns[link] = conn
        return conn

    def write(self, event: TrafficEvent) -> None:
        body = event.export_raw(self.unmask)
        if body is None:
            body = bytes(event.raw_len)  # withheld: keep the shape, not the content
        wire = self._framer(body, event.framing)
        conn = self._connection(event.link)
        seconds = int(event.time)
        micros = int(round((event.time - seconds) * 1_000_000))
        if micros >= 1_000_000:
            seconds, micros = seconds + 1, micros - 1_000_000
        for start in range(0, max(len(wire), 1), MAX_SEGMENT):
            chunk = wire[start:start + MAX_SEGMENT]
            if _from_terminal(event):
                packet = ipv4_tcp_packet(conn.client_port, conn.host_port, conn.client_seq, conn.host_seq,
                                         chunk, self._ip_id)
                conn.client_seq = (conn.client_seq + len(chunk)) & 0xFFFFFFFF
            else:
                packet = ipv4_tcp_packet(conn.host_port, conn.client_port, conn.host_seq, conn.client_seq,
                                         chunk, self._ip_id)
                conn.host_seq = (conn.host_seq + len(chunk)) & 0xFFFFFFFF
            self._ip_id += 1
            self._stream.write(struct.pack("<IIII", seconds, micros, len(packet), len(packet)) + packet)
            self.packets += 1
        self._stream.flush()

    def close(self) -> None:
        if self._owns:
            self._stream.close()

    def __enter__(self) -> PcapWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class PcapSegment:
    """One TCP segment read back from a PCAP file."""

    time: float
    src_port: int
    dst_port: int
    seq: int
    ack: int
    flags: int
    payload: bytes


def read_pcap(path: str | Path) -> Iterator[PcapSegment]:
    """TCP segments of a little- or big-endian microsecond pcap with LINKTYPE_RAW.

    Enough to check what ``PcapWriter`` wrote and to pull frames back out of
    a recording; not a general capture reader.
    """
    data = Path(path).read_bytes()
    if len(data) < 24:
        raise PossimError(f"pcap {path}: {len(data)} bytes, too short for a global header (24)")
    magic_le = struct.unpack("<I", data[:4])[0]
    if magic_le == PCAP_MAGIC:
        endian = "<"
    elif struct.unpack(">I", data[:4])[0] == PCAP_MAGIC:
        endian = ">"
    else:
        raise PossimError(f"pcap {path}: magic {data[:4].hex()} is not a microsecond libpcap file")
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    if linktype not in (LINKTYPE_RAW, 228):
        raise PossimError(f"pcap {path}: link type {linktype}, expected {LINKTYPE_RAW} (raw IPv4)")
    offset = 24
    while offset < len(data):
        if offset + 16 > len(data):
            raise PossimError(f"pcap {path}: truncated record header at offset {offset}")
        sec, usec, incl, _orig = struct.unpack(endian + "IIII", data[offset:offset + 16])
        offset += 16
        packet = data[offset:offset + incl]
        if len(packet) != incl:
            raise PossimError(f"pcap {path}: record says {incl} bytes, {len(packet)} left at offset {offset}")
        offset += incl
        if len(packet) < 20 or packet[0] >> 4 != 4 or packet[9] != 6:
            continue  # not IPv4/TCP
        ihl = (packet[0] & 0x0F) * 4
        total = struct.unpack(">H", packet[2:4])[0]
        tcp = packet[ihl:total]
        sport, dport, seq, ack, off, flags = struct.unpack(">HHIIBB", tcp[:14])
        yield PcapSegment(sec + usec / 1_000_000, sport, dport, seq, ack, flags, tcp[(off >> 4) * 4:])
