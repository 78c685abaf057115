"""``possim crypto``: the MAC / PIN block / KCV calculator payment engineers reach for.

Secrets policy: MACs, check values and enciphered PIN blocks are printed (they
travel on the wire anyway); a clear key or PIN is printed only with the global
``--unmask`` flag, and never appears in an error message.
"""

from __future__ import annotations

import argparse
import os
import sys

from possim.errors import PossimError
from possim.security import field53, keys, mac, message, pinblock
from possim.security.keys import KeyCheckError

DEFAULT_DIALECT = "cup-pos"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "crypto", help="MAC, PIN block, key check value and key unwrap calculator",
        description="MAC, PIN block, key check value and key unwrap calculator. "
                    "Clear keys and PINs are never printed unless --unmask is given.")
    sub = parser.add_subparsers(dest="crypto_command", metavar="ACTION", parser_class=type(parser))
    sub.required = True
    _register_mac(sub)
    _register_pinblock(sub)
    _register_kcv(sub)
    _register_unwrap(sub)


# --- mac -------------------------------------------------------------------

def _register_mac(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "mac", help="compute or verify a MAC (field 64)",
        description="Compute the MAC of raw data, or of a whole frame as its dialect defines the MAC block.",
        epilog="examples:\n"
               "  possim crypto mac --alg x9.19 --key 0123456789ABCDEFFEDCBA9876543210 --data 4E6F77\n"
               "  possim crypto mac --alg cup-ecb --key 2222222222222222 --frame 0057600581... --verify",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--alg", required=True, choices=list(mac.ALGORITHMS), help="MAC algorithm")
    p.add_argument("--key", required=True, metavar="HEX", help="MAK, 16/32/48 hex digits (x9.19: 32)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", metavar="HEX", help="the exact bytes to MAC")
    src.add_argument("--frame", metavar="HEX", help="a whole frame; the MAC block is taken per --dialect")
    p.add_argument("--dialect", metavar="D", help=f"dialect of --frame (default {DEFAULT_DIALECT})")
    p.add_argument("--framing", metavar="F", help="framing of --frame (default: the dialect's)")
    p.add_argument("--verify", action="store_true",
                   help="with --frame: compare with the frame's field 64; exit 0 if it matches, 1 if not")
    p.set_defaults(func=_mac)


def _mac(args: argparse.Namespace) -> int:
    algorithm = mac.ALGORITHMS[args.alg]
    key = keys.parse_hex_key(args.key, "--key", algorithm.key_lengths)
    if args.data is not None:
        if args.verify or args.dialect or args.framing:
            raise PossimError("--verify, --dialect and --framing go with --frame, not --data")
        print(_show_mac(args.alg, mac.compute_mac(args.alg, key, _hex(args.data, "--data"))))
        return 0
    from possim.iso8583 import get_dialect
    from possim.link import unframe

    dialect = get_dialect(args.dialect or DEFAULT_DIALECT)
    body = unframe(args.framing or dialect.default_framing, _hex(args.frame, "--frame"))
    result = message.check(dialect, body, args.alg, key)
    if not args.verify:
        print(_show_mac(args.alg, result.expected))
        return 0
    if result.ok:
        print(f"F64 OK: {_show_mac(args.alg, result.found)}")
        return 0
    print(f"F64 mismatch: expected {_show_mac(args.alg, result.expected)}, found {_show_mac(args.alg, result.found)}")
    return 1


def _show_mac(alg: str, value: bytes) -> str:
    """F64 as hex; the CUP algorithm's F64 is ASCII hex digits, so show those too."""
    text = value.hex().upper()
    if alg == "cup-ecb" and value.isascii() and value.decode("ascii").isprintable():
        text += f' ("{value.decode("ascii")}")'
    return text


# --- pinblock --------------------------------------------------------------

def _register_pinblock(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "pinblock", help="encipher a PIN block (field 52), or decipher / check one",
        description="Encipher a PIN as an ISO 9564 PIN block under a PIK; with --decrypt, decipher field 52 "
                    "(the PIN is shown masked unless --unmask) or, with --pin, check it (exit 0 match, 1 not).",
        epilog="examples:\n"
               "  possim crypto pinblock --format iso0 --pin 1234 --pan 4012345678909 --key 0123456789ABCDEF\n"
               "  possim crypto pinblock --decrypt 9CA4E8A0FA2C49B3 --pan 4012345678909 --key ... --pin 1234",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--format", default="iso0", choices=list(pinblock.FORMAT_NAMES), help="PIN block format")
    p.add_argument("--pin", metavar="PIN", help="the PIN (4-12 digits)")
    p.add_argument("--pan", metavar="PAN", help="card number (iso0 and iso3)")
    p.add_argument("--key", required=True, metavar="HEX", help="PIK, 16 or 32 hex digits")
    p.add_argument("--decrypt", metavar="HEX", help="an enciphered PIN block (field 52) to decipher or check")
    p.set_defaults(func=_pinblock)


def _pinblock(args: argparse.Namespace) -> int:
    pik = keys.parse_hex_key(args.key, "--key", (8, 16, 24))
    if args.decrypt is None:
        if args.pin is None:
            raise PossimError("--pin: required unless --decrypt is given")
        fmt = pinblock.FORMAT_NAMES[args.format]
        print(pinblock.encipher(fmt, args.pin, args.pan, pik, os.urandom).hex().upper())
        return 0
    block = _hex(args.decrypt, "--decrypt")
    if len(block) != 8:
        raise PossimError(f"--decrypt: expected 16 hex digits, got {len(block) * 2}")
    if args.pin is not None:
        pinblock.check_pin(args.pin)
        ok = pinblock.verify(block, args.pan, pik, args.pin)
        print("PIN matches" if ok else "PIN does not match")
        return 0 if ok else 1
    decoded = pinblock.decipher(block, args.pan, pik)
    pin = decoded.pin if args.unmask else "*" * len(decoded.pin)
    print(f"format {decoded.format}, PIN length {len(decoded.pin)}, PIN {pin}")
    return 0


# --- kcv -------------------------------------------------------------------

def _register_kcv(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("kcv", help="key check value (encrypt zeros, keep the first bytes)",
                       description="Key check value: the first bytes of encrypting 8 zero bytes with the key.")
    p.add_argument("--key", required=True, metavar="HEX", help="16, 32 or 48 hex digits")
    p.add_argument("--length", type=int, default=keys.KCV_LENGTH, metavar="N",
                   help=f"bytes to show (default {keys.KCV_LENGTH}, as in CUP field 62; 3 is also common)")
    p.set_defaults(func=_kcv)


def _kcv(args: argparse.Namespace) -> int:
    print(keys.kcv(keys.parse_hex_key(args.key, "--key"), args.length).hex().upper())
    return 0


# --- unwrap ----------------------------------------------------------------

def _register_unwrap(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "unwrap", help="decrypt working keys delivered under the TMK and check their check values",
        description="Decrypt sign-in field 62 (or one key) under the TMK and verify check values. "
                    "Prints check values; the clear keys only with --unmask. Exit 1 if a check value fails.",
        epilog="examples:\n"
               "  possim crypto unwrap --tmk 0123456789ABCDEFFEDCBA9876543210 --mode 003 --field62 <80 hex>\n"
               "  possim crypto unwrap --tmk 0123456789ABCDEF --key D5D44FF720683D0D --check 8CA64DE9",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tmk", required=True, metavar="HEX", help="terminal master key")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--field62", metavar="HEX", help="field 62 of a sign-in response")
    src.add_argument("--key", metavar="HEX", help="one encrypted key")
    p.add_argument("--mode", choices=list(keys.LAYOUTS), help="60.3 of the sign-in (with --field62)")
    p.add_argument("--check", metavar="HEX", help="expected check value of --key")
    p.set_defaults(func=_unwrap)


def _unwrap(args: argparse.Namespace) -> int:
    tmk = keys.parse_hex_key(args.tmk, "--tmk")
    try:
        if args.field62 is not None:
            return _unwrap_field62(args, tmk)
        enc = keys.parse_hex_key(args.key, "--key")
        if args.check is None:
            _print_key("key", keys.unwrap(tmk, enc), checked=False, unmask=args.unmask)
        else:
            clear = keys.unwrap_checked(tmk, enc, _hex(args.check, "--check"), "--key")
            _print_key("key", clear, checked=True, unmask=args.unmask)
        return 0
    except KeyCheckError as exc:
        print(f"possim: {exc}", file=sys.stderr)
        return 1


def _unwrap_field62(args: argparse.Namespace, tmk: bytes) -> int:
    if args.mode is None:
        raise PossimError("--mode: required with --field62 (001, 003 or 004)")
    delivered = keys.parse_field62(args.mode, _hex(args.field62, "--field62"), tmk)
    for name in keys.LAYOUTS[args.mode].keys:
        key = getattr(delivered, name)
        assert key is not None  # the layout names only keys it delivers
        _print_key(name, key, checked=True, unmask=args.unmask)
    print(f"field 53 for these keys: {field53.for_keys(delivered.pik, delivered.tdk).to_field()}")
    return 0


def _print_key(name: str, key: bytes, *, checked: bool, unmask: bool) -> None:
    line = f"{name.upper():4} {len(key) * 8}-bit  kcv {keys.kcv(key).hex().upper()}"
    if checked:
        line += "  check value OK"
    if unmask:
        line += f"  clear {key.hex().upper()}"
    print(line)


def _hex(text: str, option: str) -> bytes:
    clean = "".join(text.split())
    try:
        return bytes.fromhex(clean)
    except ValueError:
        raise PossimError(f"{option}: expected an even number of hex digits, got {len(clean)} characters "
                          "that are not all hex") from None
