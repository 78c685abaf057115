"""Column arithmetic for a thermal printer that prints GB18030.

A 58 mm roll prints 32 ASCII columns, an 80 mm roll 48. In Chinese mode a
double-byte GB character takes two columns, so every width here is counted the
way the printer counts it: East Asian wide, full-width and ambiguous
characters are two columns (they are exactly the two-byte GB18030 codes, but
for a handful of Latin letters with tone marks), everything else one.

Text that the printer cannot print is refused when a slip is built, not when
it is printed: control characters would be read as commands, and characters
that need a four-byte GB18030 code are outside the font of the common printers.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal, Protocol

from possim.errors import PossimError

WIDTHS = (32, 48)  # 58 mm and 80 mm rolls
SEPARATOR = "-"
ENCODING = "gb18030"


class ReceiptError(PossimError):
    """A receipt field the printer could not print, or a slip that does not add up."""


@dataclass(frozen=True)
class PrintLine:
    """One printed line: its text and how the printer should place it.

    ``text`` carries no padding for centred lines: the plain-text form pads
    them, the printer centres them itself (ESC a 1), so a double-size title
    is centred correctly on paper.
    """

    text: str
    align: Literal["left", "center"] = "left"
    emphasis: bool = False  # the title: bold, and double size where it fits


class Printable(Protocol):
    def lines(self, width: int) -> list[PrintLine]: ...


def char_width(char: str) -> int:
    return 2 if unicodedata.east_asian_width(char) in ("W", "F", "A") else 1


def display_width(text: str) -> int:
    return sum(char_width(c) for c in text)


def check_width(width: int) -> int:
    if width not in WIDTHS:
        raise ReceiptError(f"receipt width {width}: expected 32 (58 mm) or 48 (80 mm) columns")
    return width


def check_printable(name: str, value: str) -> str:
    """Refuse text the printer would misread or cannot print; the message names the field."""
    if not isinstance(value, str):
        raise ReceiptError(f"{name}: expected text, got {type(value).__name__}")
    for offset, char in enumerate(value):
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            raise ReceiptError(f"{name}: control character U+{ord(char):04X} at offset {offset} cannot be printed")
        if len(char.encode(ENCODING)) > 2:
            raise ReceiptError(f"{name}: {char!r} (U+{ord(char):04X}) at offset {offset} needs a four-byte "
                               "GB18030 code, outside the printer's font")
    return value


def center(text: str, width: int) -> str:
    """How a centred line reads in the plain-text form (left padding only, no trailing spaces)."""
    return " " * max((width - display_width(text)) // 2, 0) + text


def plain(line: PrintLine, width: int) -> str:
    return center(line.text, width) if line.align == "center" else line.text


def right(text: str, width: int) -> str:
    return " " * max(width - display_width(text), 0) + text


_TOKENS = re.compile(r"[!-~]+ *| +|.")


def wrap(text: str, width: int) -> list[str]:
    """Greedy wrap by printed columns: Latin words stay whole, CJK breaks between any two characters."""
    lines: list[str] = []
    line = ""
    for token in _TOKENS.findall(text):
        if display_width(line + token.rstrip()) <= width:
            line += token
            continue
        if line.strip():
            lines.append(line.rstrip())
        line = token.lstrip()
        while display_width(line.rstrip()) > width:  # a word longer than the line: cut it
            cut = 0
            while display_width(line[:cut + 1]) <= width:
                cut += 1
            lines.append(line[:cut])
            line = line[cut:]
    if line.strip() or not lines:
        lines.append(line.rstrip())
    return lines


def pair(label: str, value: str, width: int) -> list[str]:
    """Label left, value right on one line when both fit, else the value right-aligned under its label."""
    if display_width(label) + 1 + display_width(value) <= width:
        return [label + right(value, width - display_width(label))]
    return [*wrap(label, width), *(right(part, width) for part in wrap(value, width))]


def separator(width: int) -> PrintLine:
    return PrintLine(SEPARATOR * width)


def left(texts: list[str]) -> list[PrintLine]:
    return [PrintLine(text) for text in texts]


def render_lines(lines: list[PrintLine], width: int) -> str:
    return "\n".join(plain(line, width) for line in lines) + "\n"


def render_text(doc: Printable, width: int = 32) -> str:
    """The slip as plain text, one printed line per text line: what scenarios assert on."""
    return render_lines(doc.lines(check_width(width)), width)
