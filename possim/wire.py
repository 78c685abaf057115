"""A message on the wire: a dialect plus a framing, and the bulk form of both.

This is where the message layer meets the link layer for one-shot work (the
``decode``/``encode`` commands, log files of frames). Streams use the framers
in ``possim.link`` directly.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Iterable, Iterator

from possim.errors import PossimError, UsageError
from possim.iso8583 import Dialect, Message
from possim.iso8583.describe import describe, summary_line
from possim.link.framing import FramingError, frame, list_framings, unframe

_SEPARATORS = re.compile(r"[\s:]+")
_JSON_LINE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def parse_hex(text: str, what: str = "input") -> bytes:
    """Hex as people paste it: any case, optional 0x, spaces or colons between bytes."""
    try:  # the common case: a clean line of hex
        return bytes.fromhex(text)
    except ValueError:
        pass
    cleaned = _SEPARATORS.sub("", text.strip())
    if cleaned[:2] in ("0x", "0X"):
        cleaned = cleaned[2:]
    if not cleaned:
        raise UsageError(f"{what}: empty, expected hex")
    for i, ch in enumerate(cleaned):
        if ch not in "0123456789abcdefABCDEF":
            raise UsageError(f"{what}: {ch!r} at character {i} is not a hex digit")
    if len(cleaned) % 2:
        raise UsageError(f"{what}: odd number of hex digits ({len(cleaned)})")
    return bytes.fromhex(cleaned)  # e.g. "0x" in front, or colons between bytes


def resolve_framing(dialect: Dialect, framing: str | None) -> str:
    name = framing or dialect.default_framing
    if name not in list_framings():
        raise UsageError(f"--framing: unknown framing {name!r}; known: {', '.join(list_framings())}")
    return name


def decode_frame(dialect: Dialect, data: bytes, framing: str | None = None) -> Message:
    """Unframe (with the dialect's framing unless told otherwise) and decode one message."""
    name = resolve_framing(dialect, framing)
    try:
        body = unframe(name, data)
    except FramingError as exc:
        hint = " (a bare message? try --framing none)" if framing is None and name != "none" else ""
        raise FramingError(f"{exc}{hint}") from None
    return dialect.decode(body)


def encode_frame(dialect: Dialect, msg: Message, framing: str | None = None) -> bytes:
    return frame(resolve_framing(dialect, framing), dialect.encode(msg))


def message_from_json_text(dialect: Dialect, text: str) -> Message:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    return dialect.from_json(obj)


@dataclass
class BulkResult:
    lines: int = 0
    failed: int = 0


def decode_lines(dialect: Dialect, lines: Iterable[str], *, framing: str | None, as_json: bool, unmask: bool,
                 result: BulkResult) -> Iterator[str]:
    """One output line per input line; a bad line becomes ``{"error": ..., "line": N}`` and the run goes on."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        result.lines += 1
        try:
            msg = decode_frame(dialect, parse_hex(line, f"line {number}"), framing)
        except PossimError as exc:
            result.failed += 1
            yield json.dumps({"error": str(exc), "line": number}, ensure_ascii=False)
            continue
        if as_json:
            yield _JSON_LINE(msg.to_json(mask=not unmask))
        else:
            yield summary_line(dialect, msg, unmask=unmask)


def encode_lines(dialect: Dialect, lines: Iterable[str], *, framing: str | None, result: BulkResult) -> Iterator[str]:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        result.lines += 1
        try:
            msg = message_from_json_text(dialect, line)
            yield encode_frame(dialect, msg, framing).hex().upper()
        except PossimError as exc:
            result.failed += 1
            yield json.dumps({"error": f"line {number}: {exc}", "line": number}, ensure_ascii=False)


def describe_frame(dialect: Dialect, data: bytes, framing: str | None, *, unmask: bool) -> str:
    msg = decode_frame(dialect, data, framing)
    return describe(dialect, msg, unmask=unmask, raw=data)
