"""A message as a payment engineer reads it: one line per field, subfields under it.

Values of PAN, track data, PIN blocks and keys are masked unless ``unmask``
is asked for; that choice is made here and in ``masking`` and nowhere else.
"""

from __future__ import annotations

from possim.errors import PossimError
from possim.iso8583.dialect import Dialect
from possim.iso8583.masking import SENSITIVE_TAGS, mask_secret
from possim.iso8583.message import Message
from possim.iso8583.tlv import parse_tlv

_KIND = {"0": "request", "1": "response", "2": "advice", "3": "advice response", "4": "notification",
         "5": "notification ack"}


def title(dialect: Dialect, msg: Message) -> str:
    name = dialect.transaction_name(msg) or "Unknown transaction"
    kind = _KIND.get(msg.mti[2:3], "message") if len(msg.mti) == 4 else "message"
    return f"{msg.mti} {name} ({kind})"


def describe(dialect: Dialect, msg: Message, *, unmask: bool = False, raw: bytes | None = None) -> str:
    lines = [f"{dialect.name}  {title(dialect, msg)}"]
    if msg.tpdu is not None:
        t = msg.tpdu
        lines.append(f"  TPDU    {t}  (id {t[:2]}, destination {t[2:6]}, source {t[6:10]})")
    if msg.header is not None:
        lines.append(f"  header  {msg.header}")
    numbers = sorted(int(k) for k in msg.fields)
    lines.append(f"  fields  {' '.join(str(n) for n in numbers)}")
    if raw is not None:
        lines.append(f"  length  {len(raw)} bytes")
    width = max((len(dialect.specs[n].name) for n in numbers if n in dialect.specs), default=10)
    width = min(width, 48)
    for n in numbers:
        spec = dialect.specs.get(n)
        value = msg.fields[str(n)]
        shown = value if unmask else dialect.masked_value(n, value)
        name = (spec.name if spec else f"Field {n}")[:width]
        label = spec.label() if spec else ""
        extra = ""
        if n == 39:
            meaning = dialect.response_text(value)
            extra = f"  ({meaning})" if meaning else "  (unknown response code)"
        lines.append(f"  {n:>3}  {name:<{width}}  {label:<11} {shown}{extra}")
        if spec is None:
            continue
        if spec.subfields:
            subs = dialect.subfields_of(n, value)
            for sub in spec.subfields:
                if sub.id in subs:
                    lines.append(f"       {n}.{sub.id:<4} {sub.name[:width - 5]:<{width - 5}}  {'':<11} {subs[sub.id]}")
        if spec.tlv:
            lines.extend(_tlv_lines(n, value, spec.extra.get("tags", {}), unmask, width))
    return "\n".join(lines)


def _tlv_lines(n: int, value: str, tags: dict[str, str], unmask: bool, width: int) -> list[str]:
    try:
        items = parse_tlv(value)
    except PossimError as exc:
        return [f"       {n}: not BER-TLV: {exc}"]
    out = []
    for item in items:
        v = item.value.hex().upper()
        if item.tag in SENSITIVE_TAGS and not unmask:
            v = mask_secret(v)
        name = str(tags.get(item.tag, ""))
        out.append(f"       {n}.{item.tag:<5}{name[:width - 6]:<{width - 6}}  {'':<11} {v}")
    return out


def summary_line(dialect: Dialect, msg: Message, *, unmask: bool = False) -> str:
    """One line per message, for bulk decoding of logs."""
    parts = [title(dialect, msg)]
    for n in sorted(int(k) for k in msg.fields):
        value = msg.fields[str(n)]
        parts.append(f"{n}={value if unmask else dialect.masked_value(n, value)}")
    return " ".join(parts)
