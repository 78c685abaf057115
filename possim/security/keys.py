"""Terminal keys: the TMK, the working keys delivered under it, check values.

A CUP terminal signs in (0800, 60.3 = 001 / 003 / 004) and the host answers
with field 62: each working key encrypted under the terminal master key (TMK),
each followed by its 4-byte check value (the first 4 bytes of encrypting 8
zero bytes with the *clear* key). The terminal decrypts and refuses keys whose
check value does not match: a wrong TMK shows up here, not as a MAC error later.

Layouts (key bytes + check bytes, in this order):
    001  PIK 8+4, MAK 8+4                     = 24 bytes  (single length)
    003  PIK 16+4, MAK 16+4                   = 40 bytes  (double length)
    004  PIK 16+4, MAK 16+4, TDK 16+4         = 60 bytes  (double length + track key)

Real CUP hosts answering 003 send a *single-length* MAK in its 16-byte slot:
the encrypted key, then 8 zero bytes, and the check value of the 8-byte key
(public captures in /work/notes/cup_frames.md, e.g. yangyongzhen/Easy8583Ans).
A double-length slot whose second half is all zero is read that way here, and
the host side can send it that way (``mak_length=8``).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field, replace
from typing import Callable

from possim.errors import PossimError
from possim.security import cipher

RandomBytes = Callable[[int], bytes]


class KeyCheckError(PossimError):
    """A delivered key whose check value does not match (usually: wrong TMK)."""


@dataclass(frozen=True)
class Field62Layout:
    mode: str
    key_length: int
    keys: tuple[str, ...]
    description: str

    @property
    def size(self) -> int:
        return len(self.keys) * (self.key_length + KCV_LENGTH)


KCV_LENGTH = 4

LAYOUTS: dict[str, Field62Layout] = {
    "001": Field62Layout("001", 8, ("pik", "mak"), "single-length PIK and MAK"),
    "003": Field62Layout("003", 16, ("pik", "mak"), "double-length PIK and MAK"),
    "004": Field62Layout("004", 16, ("pik", "mak", "tdk"), "double-length PIK, MAK and TDK"),
}


def parse_hex_key(text: str, option: str = "key", lengths: tuple[int, ...] = cipher.KEY_LENGTHS) -> bytes:
    """Hex text -> key bytes; the error names the option and never echoes the key."""
    clean = text.replace(" ", "")
    want = ", ".join(str(n * 2) for n in lengths[:-1]) + (" or " if len(lengths) > 1 else "") + str(lengths[-1] * 2)
    try:
        key = bytes.fromhex(clean)
    except ValueError:
        raise PossimError(f"{option}: expected {want} hex digits, got {len(clean)} characters that are not all hex") from None
    if len(key) not in lengths or len(clean) % 2:
        raise PossimError(f"{option}: expected {want} hex digits, got {len(clean)}")
    return key


def kcv(key: bytes, length: int = KCV_LENGTH) -> bytes:
    """Key check value: the first ``length`` bytes of encrypting 8 zero bytes with ``key``."""
    if not 1 <= length <= 8:
        raise PossimError(f"kcv length: expected 1 to 8 bytes, got {length}")
    return cipher.encrypt_ecb(key, bytes(8))[:length]


def wrap(kek: bytes, clear_key: bytes) -> bytes:
    """Encrypt a key under a key-encrypting key (ECB, as CUP field 62 does)."""
    return cipher.encrypt_ecb(kek, clear_key)


def unwrap(kek: bytes, encrypted_key: bytes) -> bytes:
    if len(encrypted_key) not in cipher.KEY_LENGTHS:
        raise PossimError(f"encrypted key: expected 8, 16 or 24 bytes, got {len(encrypted_key)}")
    return cipher.decrypt_ecb(kek, encrypted_key)


def unwrap_checked(kek: bytes, encrypted_key: bytes, check_value: bytes, name: str = "key") -> bytes:
    clear = unwrap(kek, encrypted_key)
    if not hmac.compare_digest(kcv(clear, len(check_value)), check_value):
        raise KeyCheckError(
            f"{name}: check value {check_value.hex().upper()} does not match the decrypted key "
            f"({kcv(clear, len(check_value)).hex().upper()}); wrong TMK?")
    return clear


@dataclass(frozen=True)
class WorkingKeys:
    """Clear working keys; repr shows check values only."""

    pik: bytes = field(repr=False)
    mak: bytes = field(repr=False)
    tdk: bytes | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"WorkingKeys({_describe_keys(pik=self.pik, mak=self.mak, tdk=self.tdk)})"

    __str__ = __repr__


def layout(mode: str) -> Field62Layout:
    try:
        return LAYOUTS[mode]
    except KeyError:
        raise PossimError(f"60.3 key mode: expected one of {', '.join(LAYOUTS)}, got {mode!r}") from None


def parse_field62(mode: str, data: bytes, tmk: bytes) -> WorkingKeys:
    """Terminal side: decrypt the sign-in response's field 62 and verify each check value."""
    lay = layout(mode)
    if len(data) != lay.size:
        raise PossimError(f"field 62: 60.3 = {mode} expects {lay.size} bytes ({lay.description}), got {len(data)}")
    clear: dict[str, bytes] = {}
    step = lay.key_length + KCV_LENGTH
    for i, name in enumerate(lay.keys):
        chunk = data[i * step:(i + 1) * step]
        encrypted, check_value = chunk[:lay.key_length], chunk[lay.key_length:]
        if lay.key_length == 16 and encrypted[8:] == _ZERO_HALF:
            encrypted = encrypted[:8]  # a single-length key in a double-length slot
        clear[name] = unwrap_checked(tmk, encrypted, check_value, name.upper())
    return WorkingKeys(**clear)


_ZERO_HALF = bytes(8)


def build_field62(mode: str, tmk: bytes, keys: WorkingKeys) -> bytes:
    """Host side: field 62 of the sign-in response."""
    lay = layout(mode)
    out = b""
    for name in lay.keys:
        key = getattr(keys, name)
        if key is None or len(key) not in (8, lay.key_length):
            got = "none" if key is None else f"{len(key)} bytes"
            raise PossimError(f"{name}: 60.3 = {mode} needs a {lay.key_length}-byte key, got {got}")
        out += wrap(tmk, key) + bytes(lay.key_length - len(key)) + kcv(key)
    return out


def generate_working_keys(mode: str, random_bytes: RandomBytes, *, mak_length: int | None = None) -> WorkingKeys:
    """Fresh keys of the lengths the mode needs; randomness comes from the caller.

    ``mak_length=8`` gives a single-length MAK even under 003/004, as real CUP hosts send it.
    """
    lay = layout(mode)
    lengths = {name: lay.key_length for name in lay.keys}
    if mak_length is not None:
        allowed = sorted({8, lay.key_length})
        if mak_length not in allowed:
            raise PossimError(f"mak length: 60.3 = {mode} allows {' or '.join(map(str, allowed))} bytes, "
                              f"got {mak_length}")
        lengths["mak"] = mak_length
    return WorkingKeys(**{name: _random_key(n, random_bytes) for name, n in lengths.items()})


def _random_key(length: int, random_bytes: RandomBytes) -> bytes:
    """A random key with odd parity whose halves differ (a real double-length key)."""
    for _ in range(16):
        raw = random_bytes(length)
        if len(raw) != length:
            raise ValueError(f"random_bytes({length}) returned {len(raw)} bytes")
        key = bytes(b & 0xFE | (bin(b & 0xFE).count("1") + 1) % 2 for b in raw)
        if cipher.effective_key(key) == key:
            return key
    raise ValueError("random_bytes did not give a usable key")


@dataclass(frozen=True)
class KeyStore:
    """The keys one terminal holds. Immutable: a sign-in gives a new store.

    Nothing here ever prints a key: repr/str show check values only.
    """

    terminal_id: str
    tmk: bytes = field(repr=False)
    pik: bytes | None = field(default=None, repr=False)
    mak: bytes | None = field(default=None, repr=False)
    tdk: bytes | None = field(default=None, repr=False)
    key_mode: str | None = None

    def __repr__(self) -> str:
        keys = _describe_keys(tmk=self.tmk, pik=self.pik, mak=self.mak, tdk=self.tdk)
        return f"KeyStore(terminal_id={self.terminal_id!r}, key_mode={self.key_mode!r}, {keys})"

    __str__ = __repr__

    @property
    def signed_in(self) -> bool:
        return self.pik is not None and self.mak is not None

    def with_working_keys(self, mode: str, keys: WorkingKeys) -> "KeyStore":
        return replace(self, pik=keys.pik, mak=keys.mak, tdk=keys.tdk, key_mode=mode)

    def apply_field62(self, mode: str, data: bytes) -> "KeyStore":
        """Terminal side of sign-in: verify and install the delivered keys."""
        return self.with_working_keys(mode, parse_field62(mode, data, self.tmk))

    def issue_field62(self, mode: str, random_bytes: RandomBytes,
                      mak_length: int | None = None) -> tuple["KeyStore", bytes]:
        """Host side of sign-in: new keys for this terminal and the field 62 that delivers them."""
        keys = generate_working_keys(mode, random_bytes, mak_length=mak_length)
        return self.with_working_keys(mode, keys), build_field62(mode, self.tmk, keys)

    def require(self, name: str) -> bytes:
        key = getattr(self, name)
        if key is None:
            raise PossimError(f"terminal {self.terminal_id}: no {name.upper()} (not signed in)")
        return key


def _describe_keys(**keys: bytes | None) -> str:
    parts = []
    for name, key in keys.items():
        if key is not None:
            parts.append(f"{name}=<{len(key) * 8}-bit kcv {kcv(key).hex().upper()}>")
    return ", ".join(parts)
