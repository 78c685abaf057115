"""Where each field of a message sits in its bytes, and what the field tree shows.

The hex pane highlights the selected field, so the screen needs byte ranges.
``possim.iso8583`` decodes whole messages and exposes no offsets; the dialect
does expose one codec per field, so the ranges come from re-encoding the
message field by field with those codecs -- the dialect stays the only place
that knows a field's format. Subfield ranges follow from the field's content
encoding (BCD nibbles, one byte per ASCII character, the text codec for
GB18030); BER-TLV items in field 55 from their tag/length/value sizes.

Display values are masked here unless the caller asks for ``unmask``: the
dialect's masks first, then the traffic layer's safety net
(``possim.traffic.masking``), the same rule as every export.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from possim.errors import PossimError
from possim.iso8583 import Dialect, Message
from possim.iso8583.describe import title
from possim.iso8583.masking import SENSITIVE_TAGS, mask_emv, mask_secret
from possim.iso8583.spec import PY_CODECS, FieldSpec
from possim.iso8583.tlv import encode_length, parse_tlv
from possim.traffic import masking

Span = tuple[int, int]  # [start, end) byte offsets in the message body
NAME_WIDTH = 28  # dialect names are long ("System trace audit number (voucher no.)"); the value matters more


@dataclass
class FieldNode:
    """One line of the field tree; ``span`` is where its bytes are (None if unknown)."""

    key: str  # "tpdu", "header", "mti", "bitmap", "2", "60.3", "55.9F26"
    name: str
    value: str
    fmt: str = ""
    note: str = ""
    span: Span | None = None
    children: list[FieldNode] = field(default_factory=list)

    def label(self) -> str:
        """The tree line: key, name, format, value and a note such as a response code's meaning."""
        name = self.name if len(self.name) <= NAME_WIDTH else self.name[:NAME_WIDTH - 1] + "…"
        text = f"{self.key:<7} {name}"
        if self.value:
            text += f" = {self.value}"
        if self.note:
            text += f"  ({self.note})"
        if self.fmt:
            text += f"  [{self.fmt}]"
        return text

    def walk(self) -> list[FieldNode]:
        out = [self]
        for child in self.children:
            out.extend(child.walk())
        return out


def field_sizes(dialect: Dialect, msg: Message) -> dict[int, int]:
    """Wire size of each present field, from the dialect's own codec for it."""
    sizes: dict[int, int] = {}
    for key, value in msg.fields.items():
        number = int(key)
        codec = dialect.codecs.get(number)
        if codec is None:
            raise PossimError(f"field {number}: {dialect.name} does not define it")
        sizes[number] = len(codec.build(value))
    return sizes


def field_spans(dialect: Dialect, msg: Message, body_len: int) -> dict[str, Span]:
    """Byte ranges of the message head parts and of each field in a body of ``body_len`` bytes.

    The head (TPDU, header, MTI, bitmap) is what precedes the fields, so its
    size is the body length less the fields' sizes; a mismatch means the bytes
    do not match the message and no ranges are given.
    """
    sizes = field_sizes(dialect, msg)
    head = body_len - sum(sizes.values())
    mti_size = 2 if dialect.mti_encoding == "bcd" else 4
    fixed_head = dialect.tpdu_size + dialect.header_size + mti_size
    if head < fixed_head + 8:
        raise PossimError(f"{dialect.name}: {body_len} bytes cannot hold this message's fields "
                          f"({sum(sizes.values())} bytes) and head ({fixed_head + 8}+ bytes)")
    spans: dict[str, Span] = {}
    pos = 0
    if dialect.tpdu_size:
        spans["tpdu"] = (0, dialect.tpdu_size)
        pos = dialect.tpdu_size
    if dialect.header_size:
        spans["header"] = (pos, pos + dialect.header_size)
        pos += dialect.header_size
    spans["mti"] = (pos, pos + mti_size)
    spans["bitmap"] = (pos + mti_size, head)
    pos = head
    for number in sorted(sizes):
        spans[str(number)] = (pos, pos + sizes[number])
        pos += sizes[number]
    return spans


def _content_bytes(spec: FieldSpec, value: str) -> int:
    """Bytes the value itself takes on the wire (the field less its length prefix)."""
    if spec.encoding == "bcd":
        return math.ceil(len(value) / 2)
    if spec.encoding == "hex":
        return len(value)
    if spec.encoding == "binary":
        return len(value) // 2
    return len(value.encode(PY_CODECS.get(spec.encoding, "latin-1"), errors="replace"))


def _sub_span(spec: FieldSpec, value: str, start: int, end: int, content_at: int) -> Span:
    """Bytes of characters ``value[start:end]`` of a positional subfield."""
    if spec.encoding == "bcd":
        shift = len(value) % 2 if spec.align == "right" else 0  # right-aligned odd values pad first
        return (content_at + (start + shift) // 2, content_at + math.ceil((end + shift) / 2))
    codec = PY_CODECS.get(spec.encoding, "latin-1")
    before = len(value[:start].encode(codec, errors="replace"))
    inside = len(value[start:end].encode(codec, errors="replace"))
    return (content_at + before, content_at + before + inside)


def _tlv_children(number: int, spec: FieldSpec, value: str, content_at: int, unmask: bool) -> list[FieldNode]:
    try:
        items = parse_tlv(value)
    except PossimError as exc:
        return [FieldNode(f"{number}", "not BER-TLV", "", note=str(exc))]
    tags = spec.extra.get("tags", {})
    out = []
    pos = content_at
    for item in items:
        length = item.length_bytes or encode_length(len(item.value))
        size = len(bytes.fromhex(item.tag)) + len(length) + len(item.value)
        shown = item.value.hex().upper()
        if not unmask:
            if item.tag in SENSITIVE_TAGS:
                shown = mask_secret(shown)
            elif item.constructed:
                shown = mask_emv(shown)
        out.append(FieldNode(f"{number}.{item.tag}", str(tags.get(item.tag, "")) or "tag " + item.tag, shown,
                             fmt=f"{len(item.value)} bytes", span=(pos, pos + size)))
        pos += size
    return out


def message_tree(dialect: Dialect, msg: Message, body_len: int | None = None, *,
                 unmask: bool = False) -> list[FieldNode]:
    """The field tree of one message: head parts, then fields with subfields or TLV items.

    ``body_len`` is the length of the bytes shown in the hex pane; when the
    ranges cannot be worked out the tree is still given, without spans.
    """
    clear = msg.to_json()
    shown_fields = clear["fields"] if unmask else masking.mask_plain(clear, msg.to_json(mask=True))["fields"]
    try:
        spans = field_spans(dialect, msg, body_len if body_len is not None else len(dialect.encode(msg)))
    except PossimError:
        spans = {}
    nodes: list[FieldNode] = []
    if msg.tpdu is not None:
        t = msg.tpdu
        nodes.append(FieldNode("tpdu", "TPDU", t, note=f"id {t[:2]}, destination {t[2:6]}, source {t[6:10]}",
                               span=spans.get("tpdu")))
    if msg.header is not None:
        nodes.append(FieldNode("header", "Message header", msg.header, span=spans.get("header")))
    nodes.append(FieldNode("mti", "Message type", msg.mti, note=title(dialect, msg), span=spans.get("mti")))
    present = sorted(int(k) for k in msg.fields)
    nodes.append(FieldNode("bitmap", "Bitmap", " ".join(str(n) for n in present), span=spans.get("bitmap")))
    for number in present:
        key = str(number)
        value = msg.fields[key]
        spec = dialect.specs.get(number)
        shown = str(shown_fields.get(key, value))
        secret = shown != value
        note = ""
        if number == 39:
            note = dialect.response_text(value) or "unknown response code"
        node = FieldNode(key, spec.name if spec else f"Field {number}", shown, fmt=spec.label() if spec else "",
                         note=note, span=spans.get(key))
        if spec is not None and node.span is not None:
            content_at = node.span[1] - _content_bytes(spec, value)
        else:
            content_at = None
        if spec is not None and spec.subfields:
            pos = 0
            for sub in spec.subfields:
                if pos >= len(value):
                    break
                end = len(value) if sub.length is None else min(pos + sub.length, len(value))
                text = value[pos:end]
                sub_span = _sub_span(spec, value, pos, end, content_at) if content_at is not None else None
                node.children.append(FieldNode(f"{number}.{sub.id}", sub.name,
                                               mask_secret(text) if secret else text, span=sub_span))
                pos = end
        elif spec is not None and spec.tlv and content_at is not None:
            node.children.extend(_tlv_children(number, spec, value, content_at, unmask))
        nodes.append(node)
    return nodes
