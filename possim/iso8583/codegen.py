"""Generate the Python source of one field's decoder and encoder.

Each ``FieldSpec`` becomes two small straight-line functions with every
constant (length, prefix width, pad nibble, codec) folded in. The same source
serves both construct's interpreted path (exec'd once per codec) and its
compiled path (appended to the ``CodeGen`` of a per-bitmap layout), so a
field's format is written down once, in the dialect file, and nowhere else.

Decoders take a binary stream and return the plain string form (DESIGN.md);
encoders take that string and write bytes. Error paths call ``_rt``.
"""

from __future__ import annotations

from possim.iso8583.spec import DIGIT_TYPES, PY_CODECS, FieldSpec

SINGLE_BYTE = frozenset({"ascii", "ebcdic", "latin-1"})  # one character, one byte


def _prefix_bytes(spec: FieldSpec) -> int:
    k = spec.prefix_digits
    return k if spec.prefix_encoding in ("ascii", "ebcdic") else (k + 1) // 2


def _counts_wire_bytes(spec: FieldSpec) -> bool:
    """Multi-byte text (GB18030, UTF-8) can only be counted in bytes."""
    return spec.counts == "bytes" or (spec.type not in DIGIT_TYPES and spec.type != "b"
                                      and spec.encoding not in SINGLE_BYTE)


def _unit(spec: FieldSpec) -> str:
    if _counts_wire_bytes(spec) or spec.type == "b":
        return "bytes"
    return "digits" if spec.type in DIGIT_TYPES else "characters"


def names(spec: FieldSpec) -> tuple[str, str]:
    return f"_dec_{spec.number}", f"_enc_{spec.number}"


class _Src:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 0

    def __call__(self, line: str) -> "_Src":
        self.lines.append("    " * self.depth + line)
        return self

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _wire_len_expr(spec: FieldSpec, units: str) -> str:
    """Expression: how many wire bytes hold ``units`` value units (digits/chars/bytes)."""
    t, enc = spec.type, spec.encoding
    if spec.counts == "bytes":
        return units
    if t in ("n", "z") and enc == "bcd":
        return f"(({units}) + 1) >> 1"
    if t == "x+n" and enc == "bcd":
        return f"1 + (({units}) >> 1)"  # sign byte, then the digits (units includes the sign)
    if t == "b" and enc == "hex":
        return f"2 * ({units})"
    return units


def decoder_source(spec: FieldSpec) -> str:
    f = str(spec.number)
    dname, _ = names(spec)
    secret = spec.mask is not None
    s = _Src()
    s(f"def {dname}(io):")
    s.depth = 1
    unit = _unit(spec)
    if spec.fixed:
        n_expr = str(spec.length)
        nb = eval(_wire_len_expr(spec, n_expr))  # constant fold: plain integer arithmetic on literals
        s(f"d = io.read({nb})")
        s(f"if len(d) != {nb}: _rt.short(io, {f!r}, 'expected {nb} bytes ({spec.label()})', d)")
        n_known: int | None = spec.length
    else:
        pb = _prefix_bytes(spec)
        k = spec.prefix_digits
        s(f"p = io.read({pb})")
        s(f"if len(p) != {pb}: _rt.short(io, {f!r}, 'expected a {pb}-byte {spec.prefix} length prefix', p)")
        pe = spec.prefix_encoding
        if pe == "ascii":
            s(f"if not p.isdigit(): _rt.bad(io, {f!r}, 'length prefix is not {k} ASCII digits', p)")
            s("n = int(p)")
        elif pe == "ebcdic":
            s("t = p.decode('cp500')")
            s(f"if not (t.isascii() and t.isdigit()): _rt.bad(io, {f!r}, 'length prefix is not {k} EBCDIC digits', p)")
            s("n = int(t)")
        elif pe == "bcd":
            s("t = p.hex()")
            s(f"if not t.isdigit(): _rt.bad(io, {f!r}, 'length prefix is not BCD', p)")
            s("n = int(t)")
        else:
            s("n = int.from_bytes(p, 'big')")
        s(f"if n > {spec.length}: _rt.too_long(io, {f!r}, n, {spec.length}, {unit!r}, p)")
        nb_expr = _wire_len_expr(spec, "n")
        s(f"nb = {nb_expr}")
        s("d = io.read(nb)")
        s(f"if len(d) != nb: _rt.short(io, {f!r}, f'length prefix says {{n}} {unit}', d)")
        n_known = None
    _emit_content_decode(s, spec, n_known, secret)
    return s.text()


def _emit_pad_strip(s: _Src, spec: FieldSpec, f: str, n_known: int | None, var: str) -> None:
    """BCD digit strings: drop the pad nibble of an odd count, checking it is the dialect's."""
    if spec.align == "left":
        strip, where = f"{var} = {var}[:-1]", f"{var}[-1]"
    else:
        strip, where = f"{var} = {var}[1:]", f"{var}[0]"
    if spec.type == "z":
        # Terminals pad track data with 0 or F and hosts accept both; encoding uses the dialect's pad.
        check = f"if {where} not in ('0', 'F'): _rt.bad(io, {f!r}, 'pad nibble is not 0 or F', d, show=False)"
    else:
        check = f"if {where} != {spec.pad.lower()!r}: _rt.bad(io, {f!r}, 'pad nibble is not {spec.pad}', d)"
    if n_known is not None:
        if n_known % 2:
            s(check)
            s(strip)
    else:
        s("if n & 1:")
        s.depth += 1
        s(check)
        s(strip)
        s.depth -= 1


def _emit_content_decode(s: _Src, spec: FieldSpec, n_known: int | None, secret: bool) -> None:
    f = str(spec.number)
    t, enc = spec.type, spec.encoding
    show = not secret
    if t == "n" and enc == "bcd":
        s("v = d.hex()")
        _emit_pad_strip(s, spec, f, n_known, "v")
        s(f"if not v.isdigit() and v: _rt.bad(io, {f!r}, 'BCD digits expected', d, show={show})")
    elif t == "z" and enc == "bcd":
        s("v = d.hex().upper()")
        _emit_pad_strip(s, spec, f, n_known, "v")
        s(f"if not _rt.Z_BCD.issuperset(v): _rt.bad(io, {f!r}, 'track data expected (BCD digits, D as separator)', "
          f"d, show={show})")
        s("v = v.replace('D', '=')")
    elif t == "x+n" and enc == "bcd":
        s("v = d[:1].decode('latin-1') + d[1:].hex()")
        if n_known is not None and (n_known - 1) % 2 or n_known is None:
            # odd digit count after the sign: pad nibble as for n
            if n_known is None:
                s("if (n - 1) & 1:")
                s.depth += 1
            s("v = v[0] + v[2:]" if spec.align == "right" else "v = v[:-1]")
            if n_known is None:
                s.depth -= 1
        s(f"if v[:1] not in _rt.SIGNS or not v[1:].isdigit(): _rt.bad(io, {f!r}, 'C or D then digits expected', d)")
    elif t in ("n", "z", "x+n"):
        codec = "cp500" if enc == "ebcdic" else "ascii"
        if enc == "ascii" and t == "n":
            s(f"if not d.isdigit() and d: _rt.bad(io, {f!r}, 'ASCII digits expected', d, show={show})")
            s("v = d.decode('ascii')")
        else:
            s("try:")
            s(f"    v = d.decode({codec!r})")
            s("except UnicodeDecodeError:")
            s(f"    _rt.bad(io, {f!r}, 'undecodable {enc} bytes', d, show={show})")
            if t == "n":
                s(f"if v and not (v.isascii() and v.isdigit()): _rt.bad(io, {f!r}, 'digits expected', d, show={show})")
            elif t == "z":
                s(f"if not _rt.Z_ASCII.issuperset(v): _rt.bad(io, {f!r}, 'track data expected', d, show={show})")
            else:
                s(f"if v[:1] not in _rt.SIGNS or not (v[1:].isascii() and v[1:].isdigit()): "
                  f"_rt.bad(io, {f!r}, 'C or D then digits expected', d)")
    elif t == "b" and enc == "binary":
        s("v = d.hex().upper()")
    elif t == "b":  # hex characters on the wire
        s("try:")
        s("    v = d.decode('ascii').upper()")
        s("    bytes.fromhex(v)")
        s("except ValueError:")
        s(f"    _rt.bad(io, {f!r}, 'hex characters expected', d, show={show})")
    else:  # text
        codec = PY_CODECS[enc]
        s("try:")
        s(f"    v = d.decode({codec!r})")
        s("except UnicodeDecodeError:")
        s(f"    _rt.bad(io, {f!r}, 'undecodable {enc} text', d, show={show})")
    s("return v")


def encoder_source(spec: FieldSpec) -> str:
    f = str(spec.number)
    _, ename = names(spec)
    secret = spec.mask is not None
    t, enc = spec.type, spec.encoding
    s = _Src()
    s(f"def {ename}(v, io):")
    s.depth = 1
    s(f"if type(v) is not str: _rt.enc_fail({f!r}, 'expected a string', v, {secret})")
    # 1. the value as wire bytes, and its length in prefix units
    if t == "n":
        s(f"if v and not (v.isascii() and v.isdigit()): _rt.enc_fail({f!r}, 'digits expected', v, {secret})")
    elif t == "z":
        zset = "Z_PLAIN" if enc == "bcd" else "Z_ASCII"  # in BCD, '=' *is* the D nibble: a literal D cannot survive
        s(f"if not _rt.{zset}.issuperset(v): _rt.enc_fail({f!r}, 'track data expected (digits and =)', v, {secret})")
    elif t == "x+n":
        s(f"if len(v) < 2 or v[0] not in _rt.SIGNS or not (v[1:].isascii() and v[1:].isdigit()): "
          f"_rt.enc_fail({f!r}, 'C or D then digits expected', v, {secret})")
    elif t == "b":
        s("if len(v) & 1 or not _rt.HEXCHARS.issuperset(v):")
        s(f"    _rt.enc_fail({f!r}, 'an even number of hex characters expected', v, {secret})")
    if t == "b":
        s("u = len(v) >> 1")
    else:
        s("u = len(v)")
    if t in ("n", "z") and enc == "bcd":
        body = "v" if t == "n" else "v.replace('=', 'D')"
        if spec.align == "left":
            s(f"w = bytes.fromhex({body} + {spec.pad!r}) if u & 1 else bytes.fromhex({body})")
        else:
            s(f"w = bytes.fromhex({spec.pad!r} + {body}) if u & 1 else bytes.fromhex({body})")
    elif t == "x+n" and enc == "bcd":
        if spec.align == "left":
            s(f"w = v[0].encode('ascii') + (bytes.fromhex(v[1:] + {spec.pad!r}) if (u - 1) & 1 else bytes.fromhex(v[1:]))")
        else:
            s(f"w = v[0].encode('ascii') + (bytes.fromhex({spec.pad!r} + v[1:]) if (u - 1) & 1 else bytes.fromhex(v[1:]))")
    elif t == "b" and enc == "binary":
        s("w = bytes.fromhex(v)")
    elif t == "b":
        s("w = v.upper().encode('ascii')")
    else:
        codec = PY_CODECS.get(enc, "ascii") if t not in DIGIT_TYPES else ("cp500" if enc == "ebcdic" else "ascii")
        s("try:")
        s(f"    w = v.encode({codec!r})")
        s("except UnicodeEncodeError:")
        s(f"    _rt.enc_fail({f!r}, 'not encodable as {enc}', v, {secret})")
    if _counts_wire_bytes(spec):
        s("u = len(w)")
    unit = _unit(spec)
    # 2. length check and prefix
    if spec.fixed:
        s(f"if u != {spec.length}: _rt.enc_fail({f!r}, 'expected exactly {spec.length} {unit} ({spec.label()})', "
          f"v, {secret})")
    else:
        s(f"if u > {spec.length}: _rt.enc_fail({f!r}, 'expected at most {spec.length} {unit} ({spec.label()})', "
          f"v, {secret})")
        k = spec.prefix_digits
        pe = spec.prefix_encoding
        if pe == "ascii":
            s(f"io.write(b'%0{k}d' % u)")
        elif pe == "ebcdic":
            s(f"io.write(('%0{k}d' % u).encode('cp500'))")
        elif pe == "bcd":
            s(f"io.write(bytes.fromhex('%0{((k + 1) // 2) * 2}d' % u))")
        else:
            s(f"io.write(u.to_bytes({(k + 1) // 2}, 'big'))")
    s("io.write(w)")
    return s.text()
