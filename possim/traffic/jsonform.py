"""The JSON form of a traffic event: one line of the socket stream and of a recording.

```
{"seq": 7, "time": 1700000000.123456, "link": "tcp://127.0.0.1:5000#3",
 "dir": "in", "role": "host", "framing": "len2", "dialect": "cup-pos",
 "raw": "6005810000...", "raw_len": 87, "masked": true, "unmasked": false,
 "message": {"tpdu": ..., "mti": "0200", "fields": {"2": "621214******0012", ...}},
 "error": null, "mti": "0200", "stan": "000001", "tid": "12345678",
 "latency_ms": null}
```

Safe by default (``unmask=False``):
* ``message`` is the plain form with PAN, track data, PIN block, ICC card
  tags and sign-in keys masked (``masking.mask_plain``);
* ``raw`` is the frame re-encoded with harmless stand-ins for those fields
  (``masked: true``) or, for a frame with no secret, the real bytes
  (``masked: false``); a frame that did not decode has ``raw: null`` because
  nothing tells where a card number might sit in it.
With ``unmask=True`` both are the real thing and ``unmasked: true`` says so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from possim.errors import PossimError
from possim.traffic import masking
from possim.traffic.event import DIRECTIONS, ROLES, TrafficEvent, safe_bytes

MessageFactory = Callable[[dict[str, Any]], Any]
DialectResolver = Callable[[str], Any]


def event_to_json(event: TrafficEvent, unmask: bool = False) -> dict[str, Any]:
    message: dict[str, Any] | None = None
    if event.message is not None:
        try:
            clear, dialect_masked = masking.message_plains(event.message)
            message = clear if unmask else masking.mask_plain(clear, dialect_masked)
        except Exception:  # noqa: BLE001 - an odd message still yields a line
            message = None
    raw = event.export_raw(unmask)
    return {
        "seq": event.seq,
        "time": event.time,
        "link": event.link,
        "dir": event.direction,
        "role": event.role,
        "framing": event.framing,
        "dialect": event.dialect,
        "raw": raw.hex().upper() if raw is not None else None,
        "raw_len": event.raw_len,
        "masked": (not unmask) and raw is not None and raw != event.raw,
        "unmasked": bool(unmask),
        "message": message,
        "error": event.error,
        "mti": event.mti,
        "stan": event.stan,
        "tid": event.tid,
        "latency_ms": event.latency_ms,
    }


def _default_factory(plain: dict[str, Any]) -> Any:
    from possim.iso8583 import Message  # the message layer; imported late so traffic loads alone

    return Message.from_json(plain)


def _default_resolver(name: str) -> Any:
    from possim.iso8583 import get_dialect

    return get_dialect(name)


def event_from_json(
    obj: dict[str, Any],
    *,
    message_factory: MessageFactory | None = None,
    dialect_resolver: DialectResolver | None = None,
) -> TrafficEvent:
    """Rebuild an event from its JSON form.

    The message is taken by decoding ``raw`` with the named dialect when both
    are there (the bytes are the truth; masked exports hold a well-formed
    sanitized frame), else built from the plain ``message`` object. Failing
    both, ``message`` is None and ``error`` says why; it never raises for a
    message problem, only for a line that is not an event at all.
    """
    try:
        direction = obj["dir"]
        role = obj["role"]
        time = float(obj["time"])
        link = str(obj["link"])
    except (KeyError, TypeError, ValueError) as exc:
        raise PossimError(f"traffic event: missing or bad key {exc}") from None
    if direction not in DIRECTIONS or role not in ROLES:
        raise PossimError(f"traffic event: bad dir/role {direction!r}/{role!r}")
    raw_hex = obj.get("raw")
    try:
        raw = bytes.fromhex(raw_hex) if raw_hex is not None else None
    except (TypeError, ValueError):
        raise PossimError("traffic event: 'raw' is not hex") from None
    unmasked = bool(obj.get("unmasked"))
    error = obj.get("error")
    message = None
    dialect = None
    dialect_name = obj.get("dialect")
    if raw is not None and dialect_name:
        try:
            dialect = (dialect_resolver or _default_resolver)(dialect_name)
            message = dialect.decode(raw)
        except Exception:  # noqa: BLE001 - fall back to the plain form below
            message = None
    if message is None and obj.get("message") is not None:
        try:
            message = (message_factory or _default_factory)(obj["message"])
        except Exception as exc:  # noqa: BLE001
            error = error or f"message not restored: {exc}"
    # a file written unmasked holds real bytes: re-exporting it must mask again
    safe_raw = raw
    if unmasked and raw is not None:
        safe_raw = safe_bytes(raw, message, dialect) if message is not None else None
    latency = obj.get("latency_ms")
    return TrafficEvent(
        time=time,
        link=link,
        direction=direction,
        role=role,
        raw=raw,
        framing=obj.get("framing"),
        message=message,
        error=error,
        dialect=dialect_name,
        safe_raw=safe_raw,
        raw_len=int(obj.get("raw_len") or (len(raw) if raw is not None else 0)),
        seq=int(obj.get("seq") or 0),
        latency_ms=float(latency) if latency is not None else None,
    )
