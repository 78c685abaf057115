"""Errors of the message layer.

Decoding untrusted bytes must only ever raise ``DecodeError``; building from a
user's JSON only ``EncodeError``. Both name the field, the offset and what was
expected, so a QA engineer can find the bad byte without a debugger.
"""

from possim.errors import PossimError


class DecodeError(PossimError):
    """Bytes that do not parse under a dialect."""


class EncodeError(PossimError):
    """A message (or plain JSON form) that cannot be built under a dialect."""


class DialectError(PossimError):
    """A dialect file that is malformed or names an unknown dialect."""
