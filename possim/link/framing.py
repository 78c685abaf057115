"""Frame delimiters on a POS byte stream, as pure functions and sans-IO parsers.

A POS link carries messages on a stream (TCP, a serial line), so each message
needs a delimiter. Acquirers and terminal vendors use a handful of them; each
has a short name used by the CLI (``--framing``) and by dialect files:

``none``   the bare message (only meaningful when something else delimits it)
``len2``   2-byte binary big-endian length, not counting itself (the CUP default)
``len2i``  2-byte binary big-endian length that counts its own two bytes
``len4``   4 ASCII digits, not counting themselves
``bcd2``   2-byte BCD length (``00 87`` = 87 bytes)
``stx``    STX, 2-byte BCD length, data, ETX, LRC (XOR over length, data and ETX):
           the ECR <-> terminal serial link

A zero-length frame is a keep-alive on every framing but ``none``.

Nothing here reads a clock or touches a socket: :func:`frame` and
:func:`unframe` handle one complete frame, and :meth:`Framer.feed` turns
arbitrary chunks of a stream into :mod:`possim.link.events`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from possim.errors import PossimError
from possim.link.events import (
    ACK,
    EOT,
    ETX,
    NAK,
    STX,
    Control,
    Frame,
    FrameError,
    KeepAlive,
    LinkEvent,
    Noise,
)

__all__ = [
    "FramingError",
    "Framer",
    "LengthPrefixFramer",
    "NoFramer",
    "StxFramer",
    "frame",
    "unframe",
    "get_framer",
    "list_framings",
    "lrc",
]


class FramingError(PossimError):
    """Bytes that do not form the expected frame; the message names offset and expectation."""


# --- parse results -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Complete:
    payload: bytes
    end: int


@dataclass(frozen=True, slots=True)
class _Incomplete:
    expected: str


@dataclass(frozen=True, slots=True)
class _Invalid:
    message: str
    kind: str
    # Where a streaming parser resumes; None means the stream cannot resync.
    resume: int | None


_Parsed = _Complete | _Incomplete | _Invalid


def lrc(data: bytes) -> int:
    """XOR of every byte: the longitudinal redundancy check of the ECR link."""
    value = 0
    for byte in data:
        value ^= byte
    return value


def _bcd_length(raw: bytes) -> int | None:
    """Decode packed BCD digits; None if any nibble is not 0-9."""
    value = 0
    for byte in raw:
        high, low = byte >> 4, byte & 0x0F
        if high > 9 or low > 9:
            return None
        value = value * 100 + high * 10 + low
    return value


def _bcd_bytes(value: int, size: int) -> bytes:
    digits = f"{value:0{size * 2}d}"
    return bytes.fromhex(digits)


# --- framers -----------------------------------------------------------------


class Framer:
    """A streaming frame parser plus its encoder.

    ``feed`` may be called with any split of the stream (a byte at a time, or
    several frames at once); it returns the events completed by that chunk and
    keeps the rest buffered. One instance serves one direction of one link.
    """

    name: str = ""
    max_length: int = 0

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._base = 0  # stream offset of _buffer[0]
        self._failed: FrameError | None = None

    # Subclasses implement these two.
    def encode(self, payload: bytes) -> bytes:
        raise NotImplementedError

    def _parse(self, buf: bytes | bytearray, start: int) -> _Parsed:
        raise NotImplementedError

    def keepalive(self) -> bytes:
        """The bytes of a zero-length frame."""
        return self.encode(b"")

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a reported event."""
        return len(self._buffer)

    @property
    def failed(self) -> FrameError | None:
        """The fatal error that stopped this framer, if any."""
        return self._failed

    def feed(self, data: bytes) -> list[LinkEvent]:
        if self._failed is not None:
            raise FramingError(f"{self.name}: stream already failed at offset {self._failed.offset}; "
                               "open a new connection")
        self._buffer += data
        events: list[LinkEvent] = []
        pos = 0
        while pos < len(self._buffer):
            pos, done = self._step(pos, events)
            if done:
                break
        del self._buffer[:pos]
        self._base += pos
        return events

    def _step(self, pos: int, events: list[LinkEvent]) -> tuple[int, bool]:
        """Parse at ``pos``; return the new position and whether to wait for more bytes."""
        result = self._parse(self._buffer, pos)
        offset = self._base + pos
        if isinstance(result, _Incomplete):
            return pos, True
        if isinstance(result, _Complete):
            if result.payload:
                events.append(Frame(result.payload, offset))
            else:
                events.append(KeepAlive(offset))
            return result.end, False
        if result.resume is None:
            error = FrameError(result.message, offset, result.kind, fatal=True,
                               raw=bytes(self._buffer[pos:]))
            self._failed = error
            events.append(error)
            return len(self._buffer), True
        events.append(FrameError(result.message, offset, result.kind, fatal=False,
                                 raw=bytes(self._buffer[pos:result.resume])))
        return result.resume, False

    def end_of_stream(self) -> list[LinkEvent]:
        """Report a partial frame left when the stream closed (the bytes are dropped)."""
        if not self._buffer or self._failed is not None:
            return []
        result = self._parse(self._buffer, 0)
        expected = result.expected if isinstance(result, _Incomplete) else "a complete frame"
        event = FrameError(f"{self.name}: stream ended inside a frame: expected {expected}",
                           self._base, "truncated", fatal=False, raw=bytes(self._buffer))
        self._base += len(self._buffer)
        self._buffer.clear()
        return [event]

    def abandon_partial(self) -> list[LinkEvent]:
        """Give up on a frame the link's timer says will never be completed (its bytes are dropped).

        A length prefix cannot resynchronise by itself: after a corrupted length on a serial
        line, or a peer that stops half-way, only a silence tells where the next frame starts."""
        if not self._buffer or self._failed is not None:
            return []
        result = self._parse(self._buffer, 0)
        expected = result.expected if isinstance(result, _Incomplete) else "a complete frame"
        event = FrameError(f"{self.name}: frame timed out: expected {expected}", self._base, "truncated",
                           fatal=False, raw=bytes(self._buffer))
        self._base += len(self._buffer)
        self._buffer.clear()
        return [event]

    def unframe(self, data: bytes) -> bytes:
        """Exactly one complete frame -> its payload, else :class:`FramingError`."""
        result = self._parse(data, 0)
        if isinstance(result, _Incomplete):
            raise FramingError(f"{self.name}: {result.expected}")
        if isinstance(result, _Invalid):
            raise FramingError(result.message)
        if result.end != len(data):
            raise FramingError(f"{self.name}: {len(data) - result.end} bytes after the frame at offset "
                               f"{result.end}; expected exactly one frame")
        return result.payload


class NoFramer(Framer):
    """``none``: the message is the bytes as given.

    On a stream there is no delimiter, so each chunk handed to ``feed`` is
    taken as one message. That only holds where the transport keeps message
    boundaries (an in-memory pipe, one write per datagram); on TCP or serial
    choose a real framing.
    """

    name = "none"
    max_length = 1 << 30

    def encode(self, payload: bytes) -> bytes:
        return bytes(payload)

    def unframe(self, data: bytes) -> bytes:
        return bytes(data)

    def _parse(self, buf: bytes | bytearray, start: int) -> _Parsed:
        return _Complete(bytes(buf[start:]), len(buf))

    def keepalive(self) -> bytes:
        raise FramingError("none: a bare stream has no keep-alive frame")

    def feed(self, data: bytes) -> list[LinkEvent]:
        if not data:
            return []
        offset = self._base
        self._base += len(data)
        return [Frame(bytes(data), offset)]


class LengthPrefixFramer(Framer):
    """A length prefix, then that many bytes: ``len2``, ``len2i``, ``len4``, ``bcd2``."""

    def __init__(self, name: str, prefix_size: int, *, kind: str, counts_itself: bool = False,
                 max_length: int | None = None) -> None:
        super().__init__()
        if kind not in ("binary", "ascii", "bcd"):
            raise ValueError(f"unknown length prefix kind {kind!r}")
        self.name = name
        self.prefix_size = prefix_size
        self.kind = kind
        self.counts_itself = counts_itself
        if kind == "binary":
            limit = (1 << (8 * prefix_size)) - 1
        else:
            digits = prefix_size if kind == "ascii" else prefix_size * 2
            limit = 10 ** digits - 1
        if counts_itself:
            limit -= prefix_size
        self.max_length = limit if max_length is None else min(max_length, limit)

    def _encode_prefix(self, value: int) -> bytes:
        if self.kind == "binary":
            return value.to_bytes(self.prefix_size, "big")
        if self.kind == "ascii":
            return f"{value:0{self.prefix_size}d}".encode("ascii")
        return _bcd_bytes(value, self.prefix_size)

    def _decode_prefix(self, raw: bytes) -> int | None:
        if self.kind == "binary":
            return int.from_bytes(raw, "big")
        if self.kind == "ascii":
            return int(raw) if raw.isdigit() else None
        return _bcd_length(raw)

    def encode(self, payload: bytes) -> bytes:
        if len(payload) > self.max_length:
            raise FramingError(f"{self.name}: message of {len(payload)} bytes exceeds the "
                               f"maximum of {self.max_length}")
        size = len(payload) + (self.prefix_size if self.counts_itself else 0)
        return self._encode_prefix(size) + bytes(payload)

    def _parse(self, buf: bytes | bytearray, start: int) -> _Parsed:
        left = len(buf) - start
        if left < self.prefix_size:
            return _Incomplete(f"{self.prefix_size}-byte length prefix, {left} bytes left at offset {start}")
        raw = bytes(buf[start:start + self.prefix_size])
        value = self._decode_prefix(raw)
        if value is None:
            what = "ASCII digits" if self.kind == "ascii" else "BCD digits"
            shown = repr(raw.decode("latin-1")) if self.kind == "ascii" else raw.hex().upper()
            return _Invalid(f"{self.name}: length prefix {shown} at offset {start} is not "
                            f"{self.prefix_size * (1 if self.kind == 'ascii' else 2)} {what}", "length", None)
        size = value
        if self.counts_itself:
            if value < self.prefix_size:
                return _Invalid(f"{self.name}: length prefix says {value} at offset {start}; it counts "
                                f"itself, so at least {self.prefix_size} was expected", "length", None)
            size = value - self.prefix_size
        if size > self.max_length:
            return _Invalid(f"{self.name}: length prefix says {size} bytes at offset {start}, more than "
                            f"the maximum of {self.max_length}", "too-long", None)
        body = start + self.prefix_size
        have = len(buf) - body
        if have < size:
            return _Incomplete(f"length prefix says {size} bytes, {have} left at offset {body}")
        return _Complete(bytes(buf[body:body + size]), body + size)

class StxFramer(Framer):
    """``stx``: STX, 2-byte BCD data length, data, ETX, LRC over length..ETX.

    On a stream, bytes before STX are reported as :class:`Noise` and skipped,
    lone ACK/NAK/EOT bytes between frames are reported as :class:`Control`, a
    frame with a wrong LRC is consumed and reported (so the link can NAK it),
    and a frame whose ETX is not where its length says is treated as noise
    starting at its STX, so the parser resynchronises on the next STX.
    A frame cut short (a lost byte with no more traffic) can only be detected
    by time; the link calls :meth:`abandon_partial` when its inter-byte timer fires.
    """

    name = "stx"

    def __init__(self, max_length: int = 9999) -> None:
        super().__init__()
        self.max_length = min(max_length, 9999)

    def encode(self, payload: bytes) -> bytes:
        if len(payload) > self.max_length:
            raise FramingError(f"stx: message of {len(payload)} bytes exceeds the maximum of {self.max_length}")
        body = _bcd_bytes(len(payload), 2) + bytes(payload) + bytes([ETX])
        return bytes([STX]) + body + bytes([lrc(body)])

    def _parse(self, buf: bytes | bytearray, start: int) -> _Parsed:
        left = len(buf) - start
        if left < 1:
            return _Incomplete(f"STX (02) at offset {start}")
        if buf[start] != STX:
            return _Invalid(f"stx: expected STX (02) at offset {start}, got {buf[start]:02X}", "noise", start + 1)
        if left < 3:
            return _Incomplete(f"2-byte BCD length, {left - 1} bytes left at offset {start + 1}")
        raw = bytes(buf[start + 1:start + 3])
        size = _bcd_length(raw)
        if size is None:
            return _Invalid(f"stx: length {raw.hex().upper()} at offset {start + 1} is not 4 BCD digits",
                            "length", start + 1)
        if size > self.max_length:
            return _Invalid(f"stx: length says {size} bytes at offset {start + 1}, more than the maximum "
                            f"of {self.max_length}", "too-long", start + 1)
        body = start + 3
        etx_at = body + size
        have = len(buf) - body
        if have < size + 2:
            return _Incomplete(f"length says {size} bytes + ETX + LRC, {have} left at offset {body}")
        if buf[etx_at] != ETX:
            return _Invalid(f"stx: expected ETX (03) at offset {etx_at}, got {buf[etx_at]:02X}",
                            "etx", start + 1)
        expected = lrc(bytes(buf[start + 1:etx_at + 1]))
        got = buf[etx_at + 1]
        if got != expected:
            return _Invalid(f"stx: LRC {got:02X} at offset {etx_at + 1}, computed {expected:02X}",
                            "lrc", etx_at + 2)
        return _Complete(bytes(buf[body:etx_at]), etx_at + 2)

    def _step(self, pos: int, events: list[LinkEvent]) -> tuple[int, bool]:
        buf = self._buffer
        byte = buf[pos]
        if byte in (ACK, NAK, EOT):
            events.append(Control(byte, self._base + pos))
            return pos + 1, False
        if byte != STX:
            end = pos
            while end < len(buf) and buf[end] not in (STX, ACK, NAK, EOT):
                end += 1
            events.append(Noise(bytes(buf[pos:end]), self._base + pos))
            return end, False
        result = self._parse(buf, pos)
        if isinstance(result, _Invalid) and result.kind in ("etx", "length", "too-long"):
            # Not a frame after all: the STX was noise. Report it and rescan after it.
            events.append(Noise(bytes(buf[pos:pos + 1]), self._base + pos))
            events.append(FrameError(result.message, self._base + pos, result.kind, fatal=False,
                                     raw=bytes(buf[pos:pos + 1])))
            return pos + 1, False
        return super()._step(pos, events)

    @property
    def in_frame(self) -> bool:
        """True while a frame has started (STX seen) but not yet completed."""
        return bool(self._buffer) and self._buffer[0] == STX

    def abandon_partial(self) -> list[LinkEvent]:
        """Give up on a half-received frame: report it and rescan the bytes after its STX."""
        if not self.in_frame:
            return []
        result = self._parse(self._buffer, 0)
        expected = result.expected if isinstance(result, _Incomplete) else "a complete frame"
        events: list[LinkEvent] = [FrameError(f"stx: frame timed out: expected {expected}", self._base,
                                              "truncated", fatal=False, raw=bytes(self._buffer))]
        rest = bytes(self._buffer[1:])
        self._base += 1
        self._buffer.clear()
        events.extend(self.feed(rest))
        return events


# --- registry ----------------------------------------------------------------

_FACTORIES: dict[str, tuple[Callable[[], Framer], str]] = {
    "none": (NoFramer, "bare message, no delimiter"),
    "len2": (lambda: LengthPrefixFramer("len2", 2, kind="binary"),
             "2-byte binary big-endian length, excluding itself (CUP default)"),
    "len2i": (lambda: LengthPrefixFramer("len2i", 2, kind="binary", counts_itself=True),
              "2-byte binary big-endian length, including itself"),
    "len4": (lambda: LengthPrefixFramer("len4", 4, kind="ascii"), "4 ASCII digits, excluding themselves"),
    "bcd2": (lambda: LengthPrefixFramer("bcd2", 2, kind="bcd"), "2-byte BCD length, excluding itself"),
    "stx": (StxFramer, "STX, 2-byte BCD length, data, ETX, LRC (ECR serial link)"),
}


def list_framings() -> dict[str, str]:
    """Framing names and one-line descriptions, in CLI order."""
    return {name: text for name, (_, text) in _FACTORIES.items()}


def get_framer(name: str) -> Framer:
    """A fresh streaming framer for ``name`` (one per link direction: framers hold state)."""
    try:
        factory = _FACTORIES[name][0]
    except KeyError:
        known = ", ".join(_FACTORIES)
        raise FramingError(f"unknown framing {name!r}; expected one of {known}") from None
    return factory()


def frame(name: str, payload: bytes) -> bytes:
    """Wrap one message in framing ``name``."""
    return get_framer(name).encode(payload)


def unframe(name: str, data: bytes) -> bytes:
    """Strip framing ``name`` from exactly one complete frame; :class:`FramingError` otherwise."""
    return get_framer(name).unframe(data)
