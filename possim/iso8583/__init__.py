"""The message layer: ISO 8583 dialects defined with ``construct``.

No I/O beyond reading dialect files, and no clock: pure parse and build.
"""

from possim.iso8583.dialect import Dialect, Transaction
from possim.iso8583.errors import DecodeError, DialectError, EncodeError
from possim.iso8583.message import Message
from possim.iso8583.registry import dialect_files, get_dialect, list_dialects

__all__ = ["Dialect", "Transaction", "Message", "DecodeError", "EncodeError", "DialectError", "get_dialect",
           "list_dialects", "dialect_files"]
