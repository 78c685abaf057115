"""A hex dump with one byte range picked out, as Rich text for the hex pane.

Sixteen bytes a line, offset, hex and a printable column, the layout of
``xxd`` and Wireshark's bytes pane, so the selected field reads the same way
an engineer is used to.
"""

from __future__ import annotations

from rich.text import Text

Span = tuple[int, int]

BYTES_PER_LINE = 16
HIGHLIGHT = "bold black on yellow"
OFFSET_STYLE = "dim"


def _printable(byte: int) -> str:
    return chr(byte) if 0x20 <= byte < 0x7F else "."


def hex_dump(data: bytes, highlight: Span | None = None, *, per_line: int = BYTES_PER_LINE) -> Text:
    """``data`` as hex lines; bytes inside ``highlight`` ([start, end)) are styled."""
    text = Text(no_wrap=True, overflow="ignore")
    start, end = highlight if highlight else (-1, -1)
    for line_at in range(0, len(data), per_line):
        chunk = data[line_at:line_at + per_line]
        text.append(f"{line_at:04X}  ", OFFSET_STYLE)
        for i in range(per_line):
            at = line_at + i
            if i == per_line // 2:
                text.append(" ")
            if i >= len(chunk):
                text.append("   ")
                continue
            style = HIGHLIGHT if start <= at < end else ""
            # the space after a byte is highlighted only inside the range, so the range reads as one block
            text.append(f"{chunk[i]:02X}", style)
            text.append(" ", HIGHLIGHT if start <= at < end - 1 and i != per_line - 1 else "")
        text.append(" ")
        for i, byte in enumerate(chunk):
            text.append(_printable(byte), HIGHLIGHT if start <= line_at + i < end else "")
        if line_at + per_line < len(data):
            text.append("\n")
    return text


def line_of(offset: int, per_line: int = BYTES_PER_LINE) -> int:
    """The dump line holding byte ``offset`` (for scrolling the pane to a highlight)."""
    return offset // per_line
