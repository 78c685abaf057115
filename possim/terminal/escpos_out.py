"""The slip as ESC/POS bytes for the thermal printers Chinese POS counters use.

python-escpos builds the job (its Dummy printer collects the bytes, so the same
bytes can be checked in a test and sent anywhere). Its text path only knows
single-byte code pages, so the lines themselves go out as GB18030 bytes; the
commands around them come from python-escpos where it has one:

    ESC @        1B 40        initialise: a clean state whatever the last job left
    ESC R 15     1B 52 0F     international character set: China
    FS &         1C 26        Chinese character mode on: two-byte GB codes print as hanzi
    ESC a n      1B 61 n      alignment (1 = centre for the title lines, 0 = left)
    ESC E n      1B 45 n      bold on/off (title)
    GS ! n       1D 21 n      character size: 0x11 double width and height, 0x00 normal
    LF           0A           print the line
    ESC d 6      1B 64 06     feed six lines so the last line clears the cutter
    GS V 0       1D 56 00     full cut

GS ! is used for the title rather than ESC ! because ESC ! only enlarges ASCII
characters on these printers (hanzi need FS !); GS ! enlarges both. FS C (code
system) is not sent: its values mean JIS / Shift-JIS on Epson and differ between
Chinese makers, whose printers start in GB mode anyway. GB18030 is safe to mix
with commands: its trail bytes are never below 0x30, so ESC, FS, GS and LF
never occur inside a character.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from possim.terminal.receipt_text import ENCODING, PrintLine, Printable, check_width, display_width

if TYPE_CHECKING:
    from escpos.printer import Dummy

ESC = b"\x1b"
FS = b"\x1c"
INTERNATIONAL_CHINA = ESC + b"R\x0f"
CHINESE_MODE_ON = FS + b"&"


def render_escpos(doc: Printable, width: int = 32) -> bytes:
    """The whole print job for one slip, from initialise to cut."""
    # Imported here: python-escpos loads its printer capability database (a third of a second), which
    # every other possim command would otherwise pay for at start-up.
    from escpos.printer import Dummy

    lines = doc.lines(check_width(width))
    printer = Dummy()
    printer.hw("INIT")
    printer._raw(INTERNATIONAL_CHINA)
    printer._raw(CHINESE_MODE_ON)
    align = "left"
    for line in lines:
        if line.align != align:
            printer.set(align=line.align)
            align = line.align
        if line.emphasis:
            _emphasised(printer, line, width)
        else:
            printer._raw(line.text.encode(ENCODING) + b"\n")
    if align != "left":
        printer.set(align="left")
    printer.cut()
    return printer.output


def _emphasised(printer: Dummy, line: PrintLine, width: int) -> None:
    """Bold, and double size only where the doubled line still fits the roll (else it would wrap)."""
    double = 2 * display_width(line.text) <= width
    if double:
        printer.set(bold=True, custom_size=True, width=2, height=2)
    else:
        printer.set(bold=True)
    printer._raw(line.text.encode(ENCODING) + b"\n")
    if double:
        printer.set(bold=False, custom_size=True, width=1, height=1)
    else:
        printer.set(bold=False)
