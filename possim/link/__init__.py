"""The link layer: framing, TPDU, the STX/ACK/NAK serial link and request matching.

Sans-IO throughout: nothing here opens a socket or reads a clock. Bytes go in,
events and bytes to send come out; time is an argument.
"""

from possim.link.framing import (
    Framer,
    FramingError,
    frame,
    get_framer,
    list_framings,
    lrc,
    unframe,
)

__all__ = ["Framer", "FramingError", "frame", "get_framer", "list_framings", "lrc", "unframe"]
