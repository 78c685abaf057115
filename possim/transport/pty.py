"""A virtual serial port: a raw pseudo-terminal pair whose slave path any program can open.

``possim terminal --ecr`` can offer one to a cash-register program the way
``socat -d -d pty,raw,echo=0 ...`` would, and tests use the same pairs to run
the serial link over real termios without hardware.
"""

from __future__ import annotations

import os
import tty

from possim.transport.fdio import FdTransport


def open_pty_pair() -> tuple[int, int, str]:
    """``(master_fd, slave_fd, slave_path)`` with both sides in raw mode (no echo, no line editing)."""
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    return master, slave, os.ttyname(slave)


async def open_pty() -> tuple[FdTransport, str]:
    """A transport on the master side and the slave path to hand to the other program.

    The slave descriptor is kept open by the transport until it closes, so the
    other program may open and close the path without hanging the line up.
    """
    master, slave, path = open_pty_pair()

    def close() -> None:
        os.close(master)
        os.close(slave)

    return FdTransport(master, f"pty:{path}", on_close=close), path
