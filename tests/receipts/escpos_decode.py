"""A strict reader of the ESC/POS jobs possim prints, for tests.

It knows only the commands the receipt renderer is meant to send and refuses
anything else, so a stray or malformed command fails a test instead of being
skipped. It gives back the printed lines (GB18030 decoded, with the alignment
and emphasis in force) and the commands in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class EscposDecodeError(ValueError):
    pass


@dataclass(frozen=True)
class Command:
    name: str
    args: bytes
    offset: int


@dataclass(frozen=True)
class Line:
    text: str
    align: str
    bold: bool
    size: int  # GS ! n as sent: 0x00 normal, 0x11 double width and height
    chinese: bool


@dataclass
class Decoded:
    lines: list[Line] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)

    def names(self) -> list[str]:
        return [c.name for c in self.commands]


# prefix -> (name, number of argument bytes, allowed first-argument values or None for any)
_COMMANDS: dict[bytes, tuple[str, int, frozenset[int] | None]] = {
    b"\x1b@": ("ESC @", 0, None),
    b"\x1bR": ("ESC R", 1, frozenset(range(0, 18))),
    b"\x1c&": ("FS &", 0, None),
    b"\x1c.": ("FS .", 0, None),
    b"\x1ba": ("ESC a", 1, frozenset({0, 1, 2, 48, 49, 50})),
    b"\x1bE": ("ESC E", 1, frozenset({0, 1})),
    b"\x1d!": ("GS !", 1, None),
    b"\x1bd": ("ESC d", 1, None),
    b"\x1dV": ("GS V", 1, frozenset({0, 1, 48, 49})),
}
_ALIGN = {0: "left", 48: "left", 1: "center", 49: "center", 2: "right", 50: "right"}


def decode(job: bytes) -> Decoded:
    out = Decoded()
    text = bytearray()
    align, bold, size, chinese = "left", False, 0, False
    i = 0
    while i < len(job):
        byte = job[i]
        if byte == 0x0A:
            out.lines.append(Line(_text(bytes(text), chinese, i), align, bold, size, chinese))
            text.clear()
            i += 1
            continue
        if byte >= 0x20:
            text.append(byte)
            i += 1
            continue
        prefix = job[i:i + 2]
        if prefix not in _COMMANDS:
            raise EscposDecodeError(f"unknown command {prefix.hex(' ')} at offset {i}")
        name, nargs, allowed = _COMMANDS[prefix]
        args = job[i + 2:i + 2 + nargs]
        if len(args) != nargs:
            raise EscposDecodeError(f"{name} at offset {i}: needs {nargs} argument byte(s)")
        if allowed is not None and args[0] not in allowed:
            raise EscposDecodeError(f"{name} at offset {i}: argument {args[0]} not allowed")
        if text:
            raise EscposDecodeError(f"{name} at offset {i}: command inside a line of text")
        out.commands.append(Command(name, bytes(args), i))
        if name == "ESC @":
            align, bold, size, chinese = "left", False, 0, False
        elif name == "FS &":
            chinese = True
        elif name == "FS .":
            chinese = False
        elif name == "ESC a":
            align = _ALIGN[args[0]]
        elif name == "ESC E":
            bold = bool(args[0])
        elif name == "GS !":
            size = args[0]
        i += 2 + nargs
    if text:
        raise EscposDecodeError(f"job ends inside a line: {bytes(text)!r}")
    return out


def _text(raw: bytes, chinese: bool, offset: int) -> str:
    if not chinese and any(b >= 0x80 for b in raw):
        raise EscposDecodeError(f"line ending at offset {offset}: double-byte text outside Chinese mode")
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise EscposDecodeError(f"line ending at offset {offset}: not GB18030 ({exc.reason})") from None
