"""An independent model of four jPOS packagers, used to check possim's dialects against jPOS.

jPOS (AGPL) is not copied here. What is reproduced is its *definitions*: for each packager, which jPOS field class
and length every field 0..128 uses (the tables below, transcribed from the constructor arrays of the packager
sources named above each table), plus the documented wire behaviour of each field class:

* prefix: none, 2/3 ASCII digits (``AsciiPrefixer``), or 1/2 BCD bytes (``BcdPrefixer``; LLL takes two bytes).
  It counts characters for string classes (digits for the BCD numerics) and bytes for binary classes.
* content: ASCII text; BCD with an odd count padded by a 0 nibble in front (pad=true) or after the digits
  (pad=false), and every character turned into ``char - '0'`` without any digit check; uppercase hex characters
  (``IFA_BINARY``); or the raw bytes (``IFB_BINARY`` and every LL/LLL binary class, even the ASCII ones).
* padding before packing: numerics are zero-filled on the left, ``IF_CHAR`` space-filled on the right, amounts
  keep their first character as the sign and zero-fill the digits after it; variable fields are not padded.
  A value longer than the field's length is refused. Unpacking never strips padding.
* bitmap: 8 bytes, or 16 with bit 1 set when a field above 64 is present; uppercase hex characters in the A
  packagers, raw in the B ones. With 128 fields, bit 65 is an ordinary field.

Values use possim's plain form: binary fields as uppercase hex, everything else as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Union

Entry = Union[tuple[str, int], tuple[str, int, bool]]


# jpos/src/main/java/org/jpos/iso/packager/ISO87APackager.java (jpos/jPOS @ 3ff2951e): field -> (class, length[, pad])
ISO87A: dict[int, Entry] = {
    0: ("IFA_NUMERIC", 4), 1: ("IFA_BITMAP", 16), 2: ("IFA_LLNUM", 19), 3: ("IFA_NUMERIC", 6),
    4: ("IFA_NUMERIC", 12), 5: ("IFA_NUMERIC", 12), 6: ("IFA_NUMERIC", 12), 7: ("IFA_NUMERIC", 10),
    8: ("IFA_NUMERIC", 8), 9: ("IFA_NUMERIC", 8), 10: ("IFA_NUMERIC", 8), 11: ("IFA_NUMERIC", 6),
    12: ("IFA_NUMERIC", 6), 13: ("IFA_NUMERIC", 4), 14: ("IFA_NUMERIC", 4), 15: ("IFA_NUMERIC", 4),
    16: ("IFA_NUMERIC", 4), 17: ("IFA_NUMERIC", 4), 18: ("IFA_NUMERIC", 4), 19: ("IFA_NUMERIC", 3),
    20: ("IFA_NUMERIC", 3), 21: ("IFA_NUMERIC", 3), 22: ("IFA_NUMERIC", 3), 23: ("IFA_NUMERIC", 3),
    24: ("IFA_NUMERIC", 3), 25: ("IFA_NUMERIC", 2), 26: ("IFA_NUMERIC", 2), 27: ("IFA_NUMERIC", 1),
    28: ("IFA_AMOUNT", 9), 29: ("IFA_AMOUNT", 9), 30: ("IFA_AMOUNT", 9), 31: ("IFA_AMOUNT", 9),
    32: ("IFA_LLNUM", 11), 33: ("IFA_LLNUM", 11), 34: ("IFA_LLCHAR", 28), 35: ("IFA_LLNUM", 37),
    36: ("IFA_LLLCHAR", 104), 37: ("IF_CHAR", 12), 38: ("IF_CHAR", 6), 39: ("IF_CHAR", 2),
    40: ("IF_CHAR", 3), 41: ("IF_CHAR", 8), 42: ("IF_CHAR", 15), 43: ("IF_CHAR", 40),
    44: ("IFA_LLCHAR", 25), 45: ("IFA_LLCHAR", 76), 46: ("IFA_LLLCHAR", 999), 47: ("IFA_LLLCHAR", 999),
    48: ("IFA_LLLCHAR", 999), 49: ("IF_CHAR", 3), 50: ("IF_CHAR", 3), 51: ("IF_CHAR", 3),
    52: ("IFA_BINARY", 8), 53: ("IFA_NUMERIC", 16), 54: ("IFA_LLLCHAR", 120), 55: ("IFA_LLLCHAR", 999),
    56: ("IFA_LLLCHAR", 999), 57: ("IFA_LLLCHAR", 999), 58: ("IFA_LLLCHAR", 999),
    59: ("IFA_LLLCHAR", 999), 60: ("IFA_LLLCHAR", 999), 61: ("IFA_LLLCHAR", 999),
    62: ("IFA_LLLCHAR", 999), 63: ("IFA_LLLCHAR", 999), 64: ("IFA_BINARY", 8), 65: ("IFA_BINARY", 1),
    66: ("IFA_NUMERIC", 1), 67: ("IFA_NUMERIC", 2), 68: ("IFA_NUMERIC", 3), 69: ("IFA_NUMERIC", 3),
    70: ("IFA_NUMERIC", 3), 71: ("IFA_NUMERIC", 4), 72: ("IFA_NUMERIC", 4), 73: ("IFA_NUMERIC", 6),
    74: ("IFA_NUMERIC", 10), 75: ("IFA_NUMERIC", 10), 76: ("IFA_NUMERIC", 10), 77: ("IFA_NUMERIC", 10),
    78: ("IFA_NUMERIC", 10), 79: ("IFA_NUMERIC", 10), 80: ("IFA_NUMERIC", 10), 81: ("IFA_NUMERIC", 10),
    82: ("IFA_NUMERIC", 12), 83: ("IFA_NUMERIC", 12), 84: ("IFA_NUMERIC", 12), 85: ("IFA_NUMERIC", 12),
    86: ("IFA_NUMERIC", 16), 87: ("IFA_NUMERIC", 16), 88: ("IFA_NUMERIC", 16), 89: ("IFA_NUMERIC", 16),
    90: ("IFA_NUMERIC", 42), 91: ("IF_CHAR", 1), 92: ("IF_CHAR", 2), 93: ("IF_CHAR", 6),
    94: ("IF_CHAR", 7), 95: ("IF_CHAR", 42), 96: ("IFA_BINARY", 16), 97: ("IFA_AMOUNT", 17),
    98: ("IF_CHAR", 25), 99: ("IFA_LLNUM", 11), 100: ("IFA_LLNUM", 11), 101: ("IFA_LLCHAR", 17),
    102: ("IFA_LLCHAR", 28), 103: ("IFA_LLCHAR", 28), 104: ("IFA_LLLCHAR", 100),
    105: ("IFA_LLLCHAR", 999), 106: ("IFA_LLLCHAR", 999), 107: ("IFA_LLLCHAR", 999),
    108: ("IFA_LLLCHAR", 999), 109: ("IFA_LLLCHAR", 999), 110: ("IFA_LLLCHAR", 999),
    111: ("IFA_LLLCHAR", 999), 112: ("IFA_LLLCHAR", 999), 113: ("IFA_LLLCHAR", 999),
    114: ("IFA_LLLCHAR", 999), 115: ("IFA_LLLCHAR", 999), 116: ("IFA_LLLCHAR", 999),
    117: ("IFA_LLLCHAR", 999), 118: ("IFA_LLLCHAR", 999), 119: ("IFA_LLLCHAR", 999),
    120: ("IFA_LLLCHAR", 999), 121: ("IFA_LLLCHAR", 999), 122: ("IFA_LLLCHAR", 999),
    123: ("IFA_LLLCHAR", 999), 124: ("IFA_LLLCHAR", 999), 125: ("IFA_LLLCHAR", 999),
    126: ("IFA_LLLCHAR", 999), 127: ("IFA_LLLCHAR", 999), 128: ("IFA_BINARY", 8),
}

# jpos/src/main/java/org/jpos/iso/packager/ISO87BPackager.java (jpos/jPOS @ 3ff2951e): field -> (class, length[, pad])
ISO87B: dict[int, Entry] = {
    0: ("IFB_NUMERIC", 4, True), 1: ("IFB_BITMAP", 16), 2: ("IFB_LLNUM", 19, False),
    3: ("IFB_NUMERIC", 6, True), 4: ("IFB_NUMERIC", 12, True), 5: ("IFB_NUMERIC", 12, True),
    6: ("IFB_NUMERIC", 12, True), 7: ("IFB_NUMERIC", 10, True), 8: ("IFB_NUMERIC", 8, True),
    9: ("IFB_NUMERIC", 8, True), 10: ("IFB_NUMERIC", 8, True), 11: ("IFB_NUMERIC", 6, True),
    12: ("IFB_NUMERIC", 6, True), 13: ("IFB_NUMERIC", 4, True), 14: ("IFB_NUMERIC", 4, True),
    15: ("IFB_NUMERIC", 4, True), 16: ("IFB_NUMERIC", 4, True), 17: ("IFB_NUMERIC", 4, True),
    18: ("IFB_NUMERIC", 4, True), 19: ("IFB_NUMERIC", 3, True), 20: ("IFB_NUMERIC", 3, True),
    21: ("IFB_NUMERIC", 3, True), 22: ("IFB_NUMERIC", 3, True), 23: ("IFB_NUMERIC", 3, True),
    24: ("IFB_NUMERIC", 3, True), 25: ("IFB_NUMERIC", 2, True), 26: ("IFB_NUMERIC", 2, True),
    27: ("IFB_NUMERIC", 1, True), 28: ("IFB_AMOUNT", 9, True), 29: ("IFB_AMOUNT", 9, True),
    30: ("IFB_AMOUNT", 9, True), 31: ("IFB_AMOUNT", 9, True), 32: ("IFB_LLNUM", 11, False),
    33: ("IFB_LLNUM", 11, False), 34: ("IFB_LLCHAR", 28), 35: ("IFB_LLNUM", 37, False),
    36: ("IFB_LLLCHAR", 104), 37: ("IF_CHAR", 12), 38: ("IF_CHAR", 6), 39: ("IF_CHAR", 2),
    40: ("IF_CHAR", 3), 41: ("IF_CHAR", 8), 42: ("IF_CHAR", 15), 43: ("IF_CHAR", 40),
    44: ("IFB_LLCHAR", 25), 45: ("IFB_LLCHAR", 76), 46: ("IFB_LLLCHAR", 999), 47: ("IFB_LLLCHAR", 999),
    48: ("IFB_LLLCHAR", 999), 49: ("IF_CHAR", 3), 50: ("IF_CHAR", 3), 51: ("IF_CHAR", 3),
    52: ("IFB_BINARY", 8), 53: ("IFB_NUMERIC", 16, True), 54: ("IFB_LLLCHAR", 120),
    55: ("IFB_LLLCHAR", 999), 56: ("IFB_LLLCHAR", 999), 57: ("IFB_LLLCHAR", 999),
    58: ("IFB_LLLCHAR", 999), 59: ("IFB_LLLCHAR", 999), 60: ("IFB_LLLCHAR", 999),
    61: ("IFB_LLLCHAR", 999), 62: ("IFB_LLLCHAR", 999), 63: ("IFB_LLLCHAR", 999),
    64: ("IFB_BINARY", 8), 65: ("IFB_BINARY", 1), 66: ("IFB_NUMERIC", 1, True),
    67: ("IFB_NUMERIC", 2, True), 68: ("IFB_NUMERIC", 3, True), 69: ("IFB_NUMERIC", 3, True),
    70: ("IFB_NUMERIC", 3, True), 71: ("IFB_NUMERIC", 4, True), 72: ("IFB_NUMERIC", 4, True),
    73: ("IFB_NUMERIC", 6, True), 74: ("IFB_NUMERIC", 10, True), 75: ("IFB_NUMERIC", 10, True),
    76: ("IFB_NUMERIC", 10, True), 77: ("IFB_NUMERIC", 10, True), 78: ("IFB_NUMERIC", 10, True),
    79: ("IFB_NUMERIC", 10, True), 80: ("IFB_NUMERIC", 10, True), 81: ("IFB_NUMERIC", 10, True),
    82: ("IFB_NUMERIC", 12, True), 83: ("IFB_NUMERIC", 12, True), 84: ("IFB_NUMERIC", 12, True),
    85: ("IFB_NUMERIC", 12, True), 86: ("IFB_NUMERIC", 16, True), 87: ("IFB_NUMERIC", 16, True),
    88: ("IFB_NUMERIC", 16, True), 89: ("IFB_NUMERIC", 16, True), 90: ("IFB_NUMERIC", 42, True),
    91: ("IF_CHAR", 1), 92: ("IF_CHAR", 2), 93: ("IF_CHAR", 6), 94: ("IF_CHAR", 7),
    95: ("IF_CHAR", 42), 96: ("IFB_BINARY", 16), 97: ("IFB_AMOUNT", 17, False), 98: ("IF_CHAR", 25),
    99: ("IFB_LLNUM", 11, False), 100: ("IFB_LLNUM", 11, False), 101: ("IFB_LLCHAR", 17),
    102: ("IFB_LLCHAR", 28), 103: ("IFB_LLCHAR", 28), 104: ("IFB_LLLCHAR", 100),
    105: ("IFB_LLLCHAR", 999), 106: ("IFB_LLLCHAR", 999), 107: ("IFB_LLLCHAR", 999),
    108: ("IFB_LLLCHAR", 999), 109: ("IFB_LLLCHAR", 999), 110: ("IFB_LLLCHAR", 999),
    111: ("IFB_LLLCHAR", 999), 112: ("IFB_LLLCHAR", 999), 113: ("IFB_LLLCHAR", 999),
    114: ("IFB_LLLCHAR", 999), 115: ("IFB_LLLCHAR", 999), 116: ("IFB_LLLCHAR", 999),
    117: ("IFB_LLLCHAR", 999), 118: ("IFB_LLLCHAR", 999), 119: ("IFB_LLLCHAR", 999),
    120: ("IFB_LLLCHAR", 999), 121: ("IFB_LLLCHAR", 999), 122: ("IFB_LLLCHAR", 999),
    123: ("IFB_LLLCHAR", 999), 124: ("IFB_LLLCHAR", 999), 125: ("IFB_LLLCHAR", 999),
    126: ("IFB_LLLCHAR", 999), 127: ("IFB_LLLCHAR", 999), 128: ("IFB_BINARY", 8),
}

# jpos/src/main/java/org/jpos/iso/packager/ISO93APackager.java (jpos/jPOS @ 3ff2951e): field -> (class, length[, pad])
ISO93A: dict[int, Entry] = {
    0: ("IFA_NUMERIC", 4), 1: ("IFA_BITMAP", 16), 2: ("IFA_LLNUM", 19), 3: ("IFA_NUMERIC", 6),
    4: ("IFA_NUMERIC", 12), 5: ("IFA_NUMERIC", 12), 6: ("IFA_NUMERIC", 12), 7: ("IFA_NUMERIC", 10),
    8: ("IFA_NUMERIC", 8), 9: ("IFA_NUMERIC", 8), 10: ("IFA_NUMERIC", 8), 11: ("IFA_NUMERIC", 6),
    12: ("IFA_NUMERIC", 12), 13: ("IFA_NUMERIC", 4), 14: ("IFA_NUMERIC", 4), 15: ("IFA_NUMERIC", 6),
    16: ("IFA_NUMERIC", 4), 17: ("IFA_NUMERIC", 4), 18: ("IFA_NUMERIC", 4), 19: ("IFA_NUMERIC", 3),
    20: ("IFA_NUMERIC", 3), 21: ("IFA_NUMERIC", 3), 22: ("IF_CHAR", 12), 23: ("IFA_NUMERIC", 3),
    24: ("IFA_NUMERIC", 3), 25: ("IFA_NUMERIC", 4), 26: ("IFA_NUMERIC", 4), 27: ("IFA_NUMERIC", 1),
    28: ("IFA_NUMERIC", 6), 29: ("IFA_NUMERIC", 3), 30: ("IFA_NUMERIC", 24), 31: ("IFA_LLCHAR", 99),
    32: ("IFA_LLNUM", 11), 33: ("IFA_LLNUM", 11), 34: ("IFA_LLCHAR", 28), 35: ("IFA_LLCHAR", 37),
    36: ("IFA_LLLCHAR", 104), 37: ("IF_CHAR", 12), 38: ("IF_CHAR", 6), 39: ("IFA_NUMERIC", 3),
    40: ("IFA_NUMERIC", 3), 41: ("IF_CHAR", 8), 42: ("IF_CHAR", 15), 43: ("IFA_LLCHAR", 99),
    44: ("IFA_LLCHAR", 99), 45: ("IFA_LLCHAR", 76), 46: ("IFA_LLLCHAR", 204), 47: ("IFA_LLLCHAR", 999),
    48: ("IFA_LLLCHAR", 999), 49: ("IF_CHAR", 3), 50: ("IF_CHAR", 3), 51: ("IF_CHAR", 3),
    52: ("IFA_BINARY", 8), 53: ("IFA_LLBINARY", 48), 54: ("IFA_LLLCHAR", 120),
    55: ("IFA_LLLBINARY", 255), 56: ("IFA_LLNUM", 35), 57: ("IFA_NUMERIC", 3), 58: ("IFA_LLNUM", 11),
    59: ("IFA_LLLCHAR", 999), 60: ("IFA_LLLCHAR", 999), 61: ("IFA_LLLCHAR", 999),
    62: ("IFA_LLLCHAR", 999), 63: ("IFA_LLLCHAR", 999), 64: ("IFA_BINARY", 8), 65: ("IFA_BINARY", 8),
    66: ("IFA_LLLCHAR", 204), 67: ("IFA_NUMERIC", 2), 68: ("IFA_NUMERIC", 3), 69: ("IFA_NUMERIC", 3),
    70: ("IFA_NUMERIC", 3), 71: ("IFA_NUMERIC", 8), 72: ("IFA_LLLCHAR", 999), 73: ("IFA_NUMERIC", 6),
    74: ("IFA_NUMERIC", 10), 75: ("IFA_NUMERIC", 10), 76: ("IFA_NUMERIC", 10), 77: ("IFA_NUMERIC", 10),
    78: ("IFA_NUMERIC", 10), 79: ("IFA_NUMERIC", 10), 80: ("IFA_NUMERIC", 10), 81: ("IFA_NUMERIC", 10),
    82: ("IFA_NUMERIC", 10), 83: ("IFA_NUMERIC", 10), 84: ("IFA_NUMERIC", 10), 85: ("IFA_NUMERIC", 10),
    86: ("IFA_NUMERIC", 16), 87: ("IFA_NUMERIC", 16), 88: ("IFA_NUMERIC", 16), 89: ("IFA_NUMERIC", 16),
    90: ("IFA_NUMERIC", 10), 91: ("IFA_NUMERIC", 3), 92: ("IFA_NUMERIC", 3), 93: ("IFA_LLNUM", 11),
    94: ("IFA_LLNUM", 11), 95: ("IFA_LLCHAR", 99), 96: ("IFA_LLLBINARY", 999), 97: ("IFA_AMOUNT", 17),
    98: ("IF_CHAR", 25), 99: ("IFA_LLCHAR", 11), 100: ("IFA_LLNUM", 11), 101: ("IFA_LLCHAR", 17),
    102: ("IFA_LLCHAR", 28), 103: ("IFA_LLCHAR", 28), 104: ("IFA_LLLCHAR", 100),
    105: ("IFA_NUMERIC", 16), 106: ("IFA_NUMERIC", 16), 107: ("IFA_NUMERIC", 10),
    108: ("IFA_NUMERIC", 10), 109: ("IFA_LLCHAR", 84), 110: ("IFA_LLCHAR", 84),
    111: ("IFA_LLLCHAR", 999), 112: ("IFA_LLLCHAR", 999), 113: ("IFA_LLLCHAR", 999),
    114: ("IFA_LLLCHAR", 999), 115: ("IFA_LLLCHAR", 999), 116: ("IFA_LLLCHAR", 999),
    117: ("IFA_LLLCHAR", 999), 118: ("IFA_LLLCHAR", 999), 119: ("IFA_LLLCHAR", 999),
    120: ("IFA_LLLCHAR", 999), 121: ("IFA_LLLCHAR", 999), 122: ("IFA_LLLCHAR", 999),
    123: ("IFA_LLLCHAR", 999), 124: ("IFA_LLLCHAR", 999), 125: ("IFA_LLLCHAR", 999),
    126: ("IFA_LLLCHAR", 999), 127: ("IFA_LLLCHAR", 999), 128: ("IFA_BINARY", 8),
}

# jpos/src/main/java/org/jpos/iso/packager/ISO93BPackager.java (jpos/jPOS @ 3ff2951e): field -> (class, length[, pad])
ISO93B: dict[int, Entry] = {
    0: ("IFB_NUMERIC", 4, False), 1: ("IFB_BITMAP", 16), 2: ("IFB_LLNUM", 19, False),
    3: ("IFB_NUMERIC", 6, False), 4: ("IFB_NUMERIC", 12, False), 5: ("IFB_NUMERIC", 12, False),
    6: ("IFB_NUMERIC", 12, False), 7: ("IFB_NUMERIC", 10, False), 8: ("IFB_NUMERIC", 8, False),
    9: ("IFB_NUMERIC", 8, False), 10: ("IFB_NUMERIC", 8, False), 11: ("IFB_NUMERIC", 6, False),
    12: ("IFB_NUMERIC", 12, False), 13: ("IFB_NUMERIC", 4, False), 14: ("IFB_NUMERIC", 4, False),
    15: ("IFB_NUMERIC", 6, False), 16: ("IFB_NUMERIC", 4, False), 17: ("IFB_NUMERIC", 4, False),
    18: ("IFB_NUMERIC", 4, False), 19: ("IFB_NUMERIC", 3, False), 20: ("IFB_NUMERIC", 3, False),
    21: ("IFB_NUMERIC", 3, False), 22: ("IF_CHAR", 12), 23: ("IFB_NUMERIC", 3, False),
    24: ("IFB_NUMERIC", 3, False), 25: ("IFB_NUMERIC", 4, False), 26: ("IFB_NUMERIC", 4, False),
    27: ("IFB_NUMERIC", 1, False), 28: ("IFB_NUMERIC", 6, False), 29: ("IFB_NUMERIC", 3, False),
    30: ("IFB_NUMERIC", 24, False), 31: ("IFB_LLCHAR", 99), 32: ("IFB_LLNUM", 11, False),
    33: ("IFB_LLNUM", 11, False), 34: ("IFB_LLCHAR", 28), 35: ("IFB_LLCHAR", 37),
    36: ("IFB_LLLCHAR", 104), 37: ("IF_CHAR", 12), 38: ("IF_CHAR", 6), 39: ("IFB_NUMERIC", 3, False),
    40: ("IFB_NUMERIC", 3, False), 41: ("IF_CHAR", 8), 42: ("IF_CHAR", 15), 43: ("IFB_LLCHAR", 99),
    44: ("IFB_LLCHAR", 99), 45: ("IFB_LLCHAR", 76), 46: ("IFB_LLLCHAR", 204), 47: ("IFB_LLLCHAR", 999),
    48: ("IFB_LLLCHAR", 999), 49: ("IF_CHAR", 3), 50: ("IF_CHAR", 3), 51: ("IF_CHAR", 3),
    52: ("IFB_BINARY", 8), 53: ("IFB_LLBINARY", 48), 54: ("IFB_LLLCHAR", 120),
    55: ("IFB_LLLBINARY", 255), 56: ("IFB_LLNUM", 35, False), 57: ("IFB_NUMERIC", 3, False),
    58: ("IFB_LLNUM", 11, False), 59: ("IFB_LLLCHAR", 999), 60: ("IFB_LLLCHAR", 999),
    61: ("IFB_LLLCHAR", 999), 62: ("IFB_LLLCHAR", 999), 63: ("IFB_LLLCHAR", 999),
    64: ("IFB_BINARY", 8), 65: ("IFB_BINARY", 8), 66: ("IFB_LLLCHAR", 204),
    67: ("IFB_NUMERIC", 2, False), 68: ("IFB_NUMERIC", 3, False), 69: ("IFB_NUMERIC", 3, False),
    70: ("IFB_NUMERIC", 3, False), 71: ("IFB_NUMERIC", 8, False), 72: ("IFB_LLLCHAR", 999),
    73: ("IFB_NUMERIC", 6, False), 74: ("IFB_NUMERIC", 10, False), 75: ("IFB_NUMERIC", 10, False),
    76: ("IFB_NUMERIC", 10, False), 77: ("IFB_NUMERIC", 10, False), 78: ("IFB_NUMERIC", 10, False),
    79: ("IFB_NUMERIC", 10, False), 80: ("IFB_NUMERIC", 10, False), 81: ("IFB_NUMERIC", 10, False),
    82: ("IFB_NUMERIC", 10, False), 83: ("IFB_NUMERIC", 10, False), 84: ("IFB_NUMERIC", 10, False),
    85: ("IFB_NUMERIC", 10, False), 86: ("IFB_NUMERIC", 16, False), 87: ("IFB_NUMERIC", 16, False),
    88: ("IFB_NUMERIC", 16, False), 89: ("IFB_NUMERIC", 16, False), 90: ("IFB_NUMERIC", 10, False),
    91: ("IFB_NUMERIC", 3, False), 92: ("IFB_NUMERIC", 3, False), 93: ("IFB_LLNUM", 11, False),
    94: ("IFB_LLNUM", 11, False), 95: ("IFB_LLCHAR", 99), 96: ("IFB_LLLBINARY", 999),
    97: ("IFB_AMOUNT", 17, False), 98: ("IF_CHAR", 25), 99: ("IFB_LLCHAR", 11),
    100: ("IFB_LLNUM", 11, False), 101: ("IFB_LLCHAR", 17), 102: ("IFB_LLCHAR", 28),
    103: ("IFB_LLCHAR", 28), 104: ("IFB_LLLCHAR", 100), 105: ("IFB_NUMERIC", 16, False),
    106: ("IFB_NUMERIC", 16, False), 107: ("IFB_NUMERIC", 10, False), 108: ("IFB_NUMERIC", 10, False),
    109: ("IFB_LLCHAR", 84), 110: ("IFB_LLCHAR", 84), 111: ("IFB_LLLCHAR", 999),
    112: ("IFB_LLLCHAR", 999), 113: ("IFB_LLLCHAR", 999), 114: ("IFB_LLLCHAR", 999),
    115: ("IFB_LLLCHAR", 999), 116: ("IFB_LLLCHAR", 999), 117: ("IFB_LLLCHAR", 999),
    118: ("IFB_LLLCHAR", 999), 119: ("IFB_LLLCHAR", 999), 120: ("IFB_LLLCHAR", 999),
    121: ("IFB_LLLCHAR", 999), 122: ("IFB_LLLCHAR", 999), 123: ("IFB_LLLCHAR", 999),
    124: ("IFB_LLLCHAR", 999), 125: ("IFB_LLLCHAR", 999), 126: ("IFB_LLLCHAR", 999),
    127: ("IFB_LLLCHAR", 999), 128: ("IFB_BINARY", 8),
}


class JposModelError(ValueError):
    """A value the modelled jPOS class would refuse (jPOS throws ISOException there)."""


@dataclass(frozen=True)
class FieldClass:
    """One jPOS field class with its length and pad flag, reduced to the behaviour seen on the wire."""

    name: str
    length: int
    prefix_kind: str  # "none", "ascii" or "bcd"
    prefix_digits: int  # 0, 2 (LL) or 3 (LLL)
    content: str  # "text", "bcd", "hex" or "raw"
    fill: str  # "zero-left", "space-right", "amount" or "none"
    left_nibble_pad: bool = False  # BCD only: odd count padded with a 0 nibble in front instead of after

    @property
    def binary(self) -> bool:
        return self.content in ("hex", "raw")

    # -- prefix ------------------------------------------------------------------------------------
    def _prefix_size(self) -> int:
        if self.prefix_kind == "ascii":
            return self.prefix_digits
        if self.prefix_kind == "bcd":
            return (self.prefix_digits + 1) // 2
        return 0

    def _encode_prefix(self, count: int) -> bytes:
        if self.prefix_kind == "ascii":
            return str(count).zfill(self.prefix_digits).encode("ascii")
        if self.prefix_kind == "bcd":
            return bytes.fromhex(str(count).zfill(self._prefix_size() * 2))
        return b""

    def _decode_prefix(self, raw: bytes) -> int:
        return int(raw.decode("ascii")) if self.prefix_kind == "ascii" else int(raw.hex())

    # -- content -------------------------------------------------------------------------------------
    def _packed_size(self, count: int) -> int:
        if self.content == "bcd":
            return (count + 1) // 2
        return count  # text chars, or bytes for both binary kinds (hex doubles them below)

    def pack(self, value: str) -> bytes:
        if self.binary:
            data = bytes.fromhex(value)
            if self.prefix_kind == "none" and len(data) != self.length:
                raise JposModelError(f"{self.name}({self.length}): needs exactly {self.length} bytes, got {len(data)}")
            if len(data) > self.length:
                raise JposModelError(f"{self.name}({self.length}): {len(data)} bytes is too long")
            body = data.hex().upper().encode("ascii") if self.content == "hex" else data
            return self._encode_prefix(len(data)) + body
        if self.fill == "amount":
            return self._pack_amount(value)
        if len(value) > self.length:
            raise JposModelError(f"{self.name}({self.length}): length {len(value)} is too long")
        if self.fill == "zero-left":
            value = value.rjust(self.length, "0")
        elif self.fill == "space-right":
            value = value.ljust(self.length, " ")
        body = str2bcd(value, self.left_nibble_pad) if self.content == "bcd" else value.encode("latin-1")
        return self._encode_prefix(len(value)) + body

    def _pack_amount(self, value: str) -> bytes:
        sign, digits = value[:1], value[1:]
        if len(value) > self.length:
            raise JposModelError(f"{self.name}({self.length}): length {len(value)} is too long")
        digits = digits.rjust(self.length - 1, "0")
        if self.content == "bcd":
            return sign.encode("latin-1") + str2bcd(digits, self.left_nibble_pad)
        return (sign + digits).encode("latin-1")

    def unpack(self, data: bytes, offset: int) -> tuple[str, int]:
        """The value at ``offset`` and the offset after it."""
        size = self._prefix_size()
        if size:
            count = self._decode_prefix(_take(data, offset, size, self.name))
            offset += size
        else:
            count = self.length
        if self.fill == "amount":
            digits = count - 1
            wire = 1 + ((digits + 1) // 2 if self.content == "bcd" else digits)
            raw = _take(data, offset, wire, self.name)
            if self.content == "bcd":
                rest = bcd2str(raw[1:], digits, self.left_nibble_pad)
            else:
                rest = raw[1:].decode("latin-1")
            return raw[:1].decode("latin-1") + rest, offset + wire
        if self.content == "hex":
            raw = _take(data, offset, 2 * count, self.name)
            return raw.decode("ascii").upper(), offset + 2 * count
        wire = self._packed_size(count)
        raw = _take(data, offset, wire, self.name)
        if self.content == "raw":
            value = raw.hex().upper()
        elif self.content == "bcd":
            value = bcd2str(raw, count, self.left_nibble_pad)
        else:
            value = raw.decode("latin-1")
        return value, offset + wire


def _take(data: bytes, offset: int, size: int, what: str) -> bytes:
    chunk = data[offset:offset + size]
    if len(chunk) != size:
        raise JposModelError(f"{what}: {size} bytes needed at offset {offset}, {len(chunk)} left")
    return chunk


def str2bcd(digits: str, pad_in_front: bool) -> bytes:
    """BCD as jPOS builds it: each character becomes ``char - '0'``, unchecked, OR-ed into its nibble.

    So '=' becomes nibble D (track data) and a letter spills garbage ("EF" -> 0x56), which is exactly what
    happens to jPOS's own field-56 test value "EFGH" in ISO93BPackager.
    """
    out = bytearray((len(digits) + 1) // 2)
    start = 1 if len(digits) % 2 and pad_in_front else 0
    for i, ch in enumerate(digits, start):
        shift = 0 if i % 2 else 4
        out[i >> 1] |= ((ord(ch) - ord("0")) << shift) & 0xFF
    return bytes(out)


def bcd2str(raw: bytes, count: int, pad_in_front: bool) -> str:
    """``count`` nibbles back as characters: digits, A-F in uppercase, and D shown as '=' (jPOS does the same)."""
    nibbles = raw.hex().upper()
    start = 1 if count % 2 and pad_in_front else 0
    return nibbles[start:start + count].replace("D", "=")


# jPOS class name -> (prefix kind, prefix digits, content, fill). The BCD pad flag comes from the table entry.
_CLASSES: dict[str, tuple[str, int, str, str]] = {
    "IFA_NUMERIC": ("none", 0, "text", "zero-left"),
    "IFB_NUMERIC": ("none", 0, "bcd", "zero-left"),
    "IF_CHAR": ("none", 0, "text", "space-right"),
    "IFA_AMOUNT": ("none", 0, "text", "amount"),
    "IFB_AMOUNT": ("none", 0, "bcd", "amount"),
    "IFA_BINARY": ("none", 0, "hex", "none"),
    "IFB_BINARY": ("none", 0, "raw", "none"),
    "IFA_LLNUM": ("ascii", 2, "text", "none"),
    "IFB_LLNUM": ("bcd", 2, "bcd", "none"),
    "IFA_LLCHAR": ("ascii", 2, "text", "none"),
    "IFA_LLLCHAR": ("ascii", 3, "text", "none"),
    "IFB_LLCHAR": ("bcd", 2, "text", "none"),
    "IFB_LLLCHAR": ("bcd", 3, "text", "none"),
    "IFA_LLBINARY": ("ascii", 2, "raw", "none"),
    "IFA_LLLBINARY": ("ascii", 3, "raw", "none"),
    "IFB_LLBINARY": ("bcd", 2, "raw", "none"),
    "IFB_LLLBINARY": ("bcd", 3, "raw", "none"),
}


def field_class(entry: Entry) -> FieldClass:
    name, length = entry[0], entry[1]
    pad = entry[2] if len(entry) > 2 else False  # type: ignore[misc]
    if name not in _CLASSES:
        raise JposModelError(f"field class {name} is not modelled")
    kind, digits, content, fill = _CLASSES[name]
    return FieldClass(name, length, kind, digits, content, fill, bool(pad))


class Packager:
    """A whole jPOS packager: MTI, bitmap, then each present field with its class."""

    def __init__(self, name: str, table: Mapping[int, Entry]) -> None:
        self.name = name
        self.table = dict(table)
        self.hex_bitmap = table[1][0] == "IFA_BITMAP"
        self.mti = field_class(table[0])
        self.fields = {n: field_class(e) for n, e in table.items() if n >= 2}

    def pack(self, mti: str, fields: Mapping[str, str]) -> bytes:
        numbers = sorted(int(k) for k in fields)
        for n in numbers:
            if n not in self.fields:
                raise JposModelError(f"{self.name} has no field {n}")
        bitmap = bytearray(16 if numbers and numbers[-1] > 64 else 8)
        for n in numbers:
            bitmap[(n - 1) >> 3] |= 0x80 >> ((n - 1) & 7)
        if len(bitmap) == 16:
            bitmap[0] |= 0x80
        out = [self.mti.pack(mti), bitmap.hex().upper().encode("ascii") if self.hex_bitmap else bytes(bitmap)]
        out += [self.fields[n].pack(fields[str(n)]) for n in numbers]
        return b"".join(out)

    def unpack(self, data: bytes) -> tuple[str, dict[str, str]]:
        mti, offset = self.mti.unpack(data, 0)
        bitmap, offset = self._bitmap(data, offset)
        if bitmap[0] & 0x80:
            more, offset = self._bitmap(data, offset)
            bitmap += more
        fields: dict[str, str] = {}
        for n in range(2, len(bitmap) * 8 + 1):
            if bitmap[(n - 1) >> 3] & (0x80 >> ((n - 1) & 7)):
                fields[str(n)], offset = self.fields[n].unpack(data, offset)
        if offset != len(data):
            raise JposModelError(f"{self.name}: {len(data) - offset} bytes left over at offset {offset}")
        return mti, fields

    def _bitmap(self, data: bytes, offset: int) -> tuple[bytes, int]:
        if self.hex_bitmap:
            return bytes.fromhex(_take(data, offset, 16, "bitmap").decode("ascii")), offset + 16
        return _take(data, offset, 8, "bitmap"), offset + 8


PACKAGERS: dict[str, Packager] = {
    "ISO87APackager": Packager("ISO87APackager", ISO87A),
    "ISO87BPackager": Packager("ISO87BPackager", ISO87B),
    "ISO93APackager": Packager("ISO93APackager", ISO93A),
    "ISO93BPackager": Packager("ISO93BPackager", ISO93B),
}
