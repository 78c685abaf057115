"""What a framer or a link state machine reports back to its caller.

Framers and the STX link never act on their own: they return these plain
records and the caller (a transport wrapper, a test, a scenario) decides what
to do. Offsets are positions in the byte stream since the framer was created,
so a report can be matched against a capture of the same stream.
"""

from __future__ import annotations

from dataclasses import dataclass

ACK = 0x06
NAK = 0x15
EOT = 0x04
STX = 0x02
ETX = 0x03

CONTROL_NAMES = {ACK: "ACK", NAK: "NAK", EOT: "EOT"}


@dataclass(frozen=True, slots=True)
class Frame:
    """One complete, valid frame; ``payload`` has the framing removed."""

    payload: bytes
    offset: int


@dataclass(frozen=True, slots=True)
class KeepAlive:
    """A zero-length frame: proof of life, never a message and never answered in kind."""

    offset: int


@dataclass(frozen=True, slots=True)
class Noise:
    """Bytes skipped while hunting for the start of a frame (line noise, a stray banner)."""

    data: bytes
    offset: int


@dataclass(frozen=True, slots=True)
class Control:
    """A single control byte (ACK, NAK or EOT) seen between frames."""

    byte: int
    offset: int

    @property
    def name(self) -> str:
        return CONTROL_NAMES.get(self.byte, f"{self.byte:02X}")


@dataclass(frozen=True, slots=True)
class FrameError:
    """A frame that could not be accepted.

    ``kind`` is one of ``lrc``, ``etx``, ``length``, ``too-long``, ``truncated``.
    ``fatal`` means the stream cannot be resynchronised (a length-prefixed
    stream whose prefix is garbage): the caller should drop the connection.
    """

    message: str
    offset: int
    kind: str
    fatal: bool
    raw: bytes = b""


@dataclass(frozen=True, slots=True)
class Delivered:
    """The peer acknowledged a frame we sent (STX link)."""

    payload: bytes
    attempts: int


@dataclass(frozen=True, slots=True)
class Retrying:
    """A frame is being sent again; ``reason`` is ``nak`` or ``timeout``."""

    payload: bytes
    attempt: int
    reason: str


@dataclass(frozen=True, slots=True)
class SendFailed:
    """A frame was given up on after the allowed retries (STX link)."""

    payload: bytes
    attempts: int
    reason: str


@dataclass(frozen=True, slots=True)
class EndOfTransmission:
    """The peer sent EOT: it has nothing more to say in this exchange."""

    offset: int


LinkEvent = Frame | KeepAlive | Noise | Control | FrameError | Delivered | Retrying | SendFailed | EndOfTransmission
