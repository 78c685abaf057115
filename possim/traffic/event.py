"""One frame seen on a link: the unit everything in ``possim.traffic`` moves.

Building an event never raises for bad bytes: a frame the dialect cannot
decode is still traffic a tester wants to see, so the decode error is kept as
text beside the raw bytes. Time is an argument -- this module reads no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from possim.errors import PossimError
from possim.traffic import masking

Direction = Literal["in", "out"]
Role = Literal["host", "terminal", "tap"]
DIRECTIONS: tuple[str, ...] = ("in", "out")
ROLES: tuple[str, ...] = ("host", "terminal", "tap")


class DialectLike(Protocol):
    """What the traffic layer needs from a ``possim.iso8583`` dialect."""

    name: str

    def decode(self, body: bytes) -> Any: ...

    def encode(self, msg: Any) -> bytes: ...


@dataclass(frozen=True, slots=True)
class TrafficEvent:
    """A frame in or out of one publisher (a host, a terminal or a tap).

    ``direction`` is relative to the publisher named by ``role``; for a tap,
    "out" means toward the host and "in" toward the terminal.

    ``raw`` is the message body without framing (``framing`` names what was
    stripped). ``safe_raw`` is what exports may carry without ``unmask``: the
    same bytes when the message holds no secret, a re-encoding with harmless
    stand-ins when it does, ``None`` when nothing safe could be made (the frame
    did not decode). ``raw`` is ``None`` only for events read back from an
    export that withheld it; ``raw_len`` still tells its size.

    ``seq`` and ``latency_ms`` are stamped by the bus on publish.
    """

    time: float
    link: str
    direction: Direction
    role: Role
    raw: bytes | None
    framing: str | None = None
    message: Any | None = None
    error: str | None = None
    dialect: str | None = None
    safe_raw: bytes | None = None
    raw_len: int = 0
    seq: int = 0
    latency_ms: float | None = None

    @property
    def mti(self) -> str | None:
        return getattr(self.message, "mti", None) if self.message is not None else None

    def field(self, number: str) -> str | None:
        """A top-level field of the decoded message, or None."""
        if self.message is None:
            return None
        fields = getattr(self.message, "fields", None) or {}
        value = fields.get(number)
        return None if value is None else str(value)

    @property
    def stan(self) -> str | None:
        return self.field("11")

    @property
    def tid(self) -> str | None:
        return self.field("41")

    def export_raw(self, unmask: bool = False) -> bytes | None:
        """The bytes an export may carry: the real ones only when unmasked."""
        if unmask:
            return self.raw
        return self.safe_raw


def _check(direction: str, role: str) -> None:
    if direction not in DIRECTIONS:
        raise PossimError(f"traffic direction: expected 'in' or 'out', got {direction!r}")
    if role not in ROLES:
        raise PossimError(f"traffic role: expected one of {', '.join(ROLES)}, got {role!r}")


def safe_bytes(raw: bytes, message: Any | None, dialect: DialectLike | None) -> bytes | None:
    """Bytes safe to export for this frame, or None when none can be made.

    Undecoded frames get None: nothing tells where a PAN might sit in them.
    """
    if message is None or dialect is None:
        return None
    try:
        clear, dialect_masked = masking.message_plains(message)
    except Exception:  # noqa: BLE001 - a message that cannot describe itself is not exportable
        return None
    if not masking.has_secrets(clear, dialect_masked):
        return raw
    try:
        clean = type(message).from_json(masking.sanitize_plain(clear, dialect_masked))
        return bytes(dialect.encode(clean))
    except Exception:  # noqa: BLE001 - any failure to rebuild -> withhold rather than leak
        return None


def make_event(
    direction: Direction,
    payload: bytes,
    link: str,
    *,
    time: float,
    role: Role,
    dialect: DialectLike | None = None,
    framing: str | None = None,
) -> TrafficEvent:
    """Decode ``payload`` with ``dialect`` (if any) and wrap it as an event.

    Decode errors are captured as text, never raised: the event must exist even
    for garbage, since garbage is exactly what a tester is hunting.
    """
    _check(direction, role)
    raw = bytes(payload)
    message: Any | None = None
    error: str | None = None
    if dialect is not None:
        try:
            message = dialect.decode(raw)
        except Exception as exc:  # noqa: BLE001 - any decoder failure becomes event text
            error = str(exc) or type(exc).__name__
    return TrafficEvent(
        time=float(time),
        link=link,
        direction=direction,
        role=role,
        raw=raw,
        framing=framing,
        message=message,
        error=error,
        dialect=getattr(dialect, "name", None),
        safe_raw=safe_bytes(raw, message, dialect),
        raw_len=len(raw),
    )
