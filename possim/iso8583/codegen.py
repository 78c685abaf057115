"""Generate the Python source of one field's decoder and encoder.

Each ``FieldSpec`` becomes a few straight-line lines of Python with every
constant (length, prefix width, pad nibble, codec) folded in. The same lines
serve a field on its own (wrapped in a small function, for construct's
interpreted path) and a whole per-bitmap layout (pasted one field after the
other into a single function, see ``layout``), so a field's format is written
down once, in the dialect file, and nowhere else.

Decoding works on a ``bytes`` object and an offset ``pos`` into it: a slice per
read and no stream object, which is what makes a layout cheap. The lines leave
the plain string form (DESIGN.md) in ``v`` and move ``pos`` past the field.
Encoding takes that string in ``v`` and leaves the wire bytes in two names: the
length prefix (``k<n>``, variable fields only) and the content (``w<n>``), so a
layout joins every part of a message once. Error paths call ``_rt``.
"""

from __future__ import annotations

from possim.iso8583.spec import DIGIT_TYPES, PY_CODECS, FieldSpec

SINGLE_BYTE = frozenset({"ascii", "ebcdic", "latin-1"})  # one character, one byte
ASCII_SUPERSETS = frozenset({"gb18030"})  # multi-byte codecs that read and write ASCII as ASCII, but slowly


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


def prologue(spec: FieldSpec) -> list[str]:
    """Module-level lines the field's generated lines rely on (tables and fast helpers from ``_rt``)."""
    lines = ["_unhex = _rt.unhex", "_BCD = _rt.BCD_BYTE"]
    table = _prefix_table(spec)
    if table:
        lines.append(f"{table} = _rt.prefix_table({spec.prefix_encoding!r}, {spec.prefix_digits})")
    return lines


def _prefix_table(spec: FieldSpec) -> str | None:
    """The name of the table of every ready-made length prefix, where one is worth having (up to 3 digits)."""
    if spec.fixed or spec.prefix_encoding not in ("ascii", "bcd") or spec.prefix_digits > 3:
        return None
    return f"_PFX_{spec.prefix_encoding}_{spec.prefix_digits}"


def names(spec: FieldSpec) -> tuple[str, str]:
    return f"_dec_{spec.number}", f"_enc_{spec.number}"


def prefix_name(spec: FieldSpec) -> str | None:
    """The name the encoder leaves the length prefix in (None for a fixed field)."""
    return None if spec.fixed else f"k{spec.number}"


def content_name(spec: FieldSpec) -> str:
    return f"w{spec.number}"


class _Src:
    def __init__(self, depth: int = 0) -> None:
        self.lines: list[str] = []
        self.depth = depth

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


# -- decoding ----------------------------------------------------------------------------------------------
def decoder_lines(spec: FieldSpec, depth: int = 1) -> list[str]:
    """Lines that read the field at ``data[pos:]`` into ``v`` and leave ``pos`` after it.

    Error offsets are where the failing read started, as a stream's position
    would have said: the prefix's start for prefix errors, the content's start
    for content errors.
    """
    f = str(spec.number)
    secret = spec.mask is not None
    s = _Src(depth)
    unit = _unit(spec)
    if spec.fixed:
        n_expr = str(spec.length)
        nb = eval(_wire_len_expr(spec, n_expr))  # constant fold: plain integer arithmetic on literals
        s(f"d = data[pos:pos + {nb}]")
        s(f"if len(d) != {nb}: _rt.short(pos, {f!r}, 'expected {nb} bytes ({spec.label()})', d)")
        n_known: int | None = spec.length
        advance = str(nb)
    else:
        pb = _prefix_bytes(spec)
        k = spec.prefix_digits
        pe = spec.prefix_encoding
        if pe in ("ascii", "ebcdic"):
            got = "p"  # the prefix bytes, for the error paths
            s(f"p = data[pos:pos + {pb}]")
            s(f"if len(p) != {pb}: _rt.short(pos, {f!r}, 'expected a {pb}-byte {spec.prefix} length prefix', p)")
        else:  # BCD and binary prefixes are read byte by byte, without a slice; a missing byte is an IndexError
            got = f"data[pos:pos + {pb}]"
            short = f"_rt.short(pos, {f!r}, 'expected a {pb}-byte {spec.prefix} length prefix', {got})"
        if pe == "ascii":
            s(f"if not p.isdigit(): _rt.bad(pos, {f!r}, 'length prefix is not {k} ASCII digits', p)")
            weights = [10 ** (k - 1 - i) for i in range(k)]
            terms = " + ".join(f"p[{i}] * {w}" if w != 1 else f"p[{i}]" for i, w in enumerate(weights))
            s(f"n = {terms} - {48 * sum(weights)}")
        elif pe == "ebcdic":
            s("t = p.decode('cp500')")
            s(f"if not (t.isascii() and t.isdigit()): "
              f"_rt.bad(pos, {f!r}, 'length prefix is not {k} EBCDIC digits', p)")
            s("n = int(t)")
        elif pe == "bcd":
            # _BCD maps a byte to its two digits' value, or to a negative number that keeps the sum negative
            terms = " + ".join(f"_BCD[data[pos + {i}]] * {100 ** (pb - 1 - i)}" if i < pb - 1
                               else f"_BCD[data[pos + {i}]]" for i in range(pb))
            s("try:")
            s(f"    n = {terms.replace('data[pos + 0]', 'data[pos]')}")
            s("except IndexError:")
            s(f"    {short}")
            s(f"if n < 0: _rt.bad(pos, {f!r}, 'length prefix is not BCD', {got})")
        else:
            terms = " | ".join(f"data[pos + {i}] << {8 * (pb - 1 - i)}" if i < pb - 1 else f"data[pos + {i}]"
                               for i in range(pb))
            s("try:")
            s(f"    n = {terms.replace('data[pos + 0]', 'data[pos]')}")
            s("except IndexError:")
            s(f"    {short}")
        s(f"if n > {spec.length}: _rt.too_long(pos, {f!r}, n, {spec.length}, {unit!r}, {got})")
        s(f"pos += {pb}")
        s(f"nb = {_wire_len_expr(spec, 'n')}")
        s("d = data[pos:pos + nb]")
        s(f"if len(d) != nb: _rt.short(pos, {f!r}, f'length prefix says {{n}} {unit}', d)")
        n_known = None
        advance = "nb"
    _emit_content_decode(s, spec, n_known, secret)
    s(f"pos += {advance}")
    return s.lines


def decoder_source(spec: FieldSpec) -> str:
    """One field on its own: ``_dec_<n>(data, pos) -> (value, pos after the field)``."""
    s = _Src()
    s.lines.extend(prologue(spec))
    s(f"def {names(spec)[0]}(data, pos):")
    s.lines.extend(decoder_lines(spec, 1))
    s.depth = 1
    s("return v, pos")
    return s.text()


def _emit_pad_strip(s: _Src, spec: FieldSpec, f: str, n_known: int | None, var: str) -> None:
    """BCD digit strings: drop the pad nibble of an odd count, checking it is the dialect's."""
    if spec.align == "left":
        strip, where = f"{var} = {var}[:-1]", f"{var}[-1]"
    else:
        strip, where = f"{var} = {var}[1:]", f"{var}[0]"
    if spec.type == "z":
        # Terminals pad track data with 0 or F and hosts accept both; encoding uses the dialect's pad.
        check = f"if {where} not in ('0', 'F'): _rt.bad(pos, {f!r}, 'pad nibble is not 0 or F', d, show=False)"
    else:
        check = f"if {where} != {spec.pad.lower()!r}: _rt.bad(pos, {f!r}, 'pad nibble is not {spec.pad}', d)"
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
        # bytes.isdigit is a plain ASCII scan, far quicker than str.isdigit's Unicode one; v is ASCII hex here
        s(f"if not v.encode().isdigit() and v: _rt.bad(pos, {f!r}, 'BCD digits expected', d, show={show})")
    elif t == "z" and enc == "bcd":
        s("v = d.hex().upper()")
        _emit_pad_strip(s, spec, f, n_known, "v")
        s(f"if not _rt.Z_BCD.issuperset(v): _rt.bad(pos, {f!r}, "
          f"'track data expected (BCD digits, D as separator)', d, show={show})")
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
        s(f"if v[:1] not in _rt.SIGNS or not v[1:].isdigit(): "
          f"_rt.bad(pos, {f!r}, 'C or D then digits expected', d)")
    elif t in ("n", "z", "x+n"):
        codec = "cp500" if enc == "ebcdic" else "ascii"
        if enc == "ascii" and t == "n":
            s(f"if not d.isdigit() and d: _rt.bad(pos, {f!r}, 'ASCII digits expected', d, show={show})")
            s("v = d.decode('ascii')")
        else:
            s("try:")
            s(f"    v = d.decode({codec!r})")
            s("except UnicodeDecodeError:")
            s(f"    _rt.bad(pos, {f!r}, 'undecodable {enc} bytes', d, show={show})")
            if t == "n":
                s(f"if v and not (v.isascii() and v.isdigit()): "
                  f"_rt.bad(pos, {f!r}, 'digits expected', d, show={show})")
            elif t == "z":
                s(f"if not _rt.Z_ASCII.issuperset(v): _rt.bad(pos, {f!r}, 'track data expected', d, show={show})")
            else:
                s(f"if v[:1] not in _rt.SIGNS or not (v[1:].isascii() and v[1:].isdigit()): "
                  f"_rt.bad(pos, {f!r}, 'C or D then digits expected', d)")
    elif t == "b" and enc == "binary":
        s("v = d.hex().upper()")
    elif t == "b":  # hex characters on the wire
        s("try:")
        s("    v = d.decode('ascii').upper()")
        s("    bytes.fromhex(v)")
        s("except ValueError:")
        s(f"    _rt.bad(pos, {f!r}, 'hex characters expected', d, show={show})")
    else:  # text
        codec = PY_CODECS[enc]
        if codec in ASCII_SUPERSETS:  # plain ASCII text reads the same and ASCII's decoder is much quicker
            s("try:")
            s("    v = d.decode('ascii')")
            s("except UnicodeDecodeError:")
            s.depth += 1
        s("try:")
        s(f"    v = d.decode({codec!r})")
        s("except UnicodeDecodeError:")
        s(f"    _rt.bad(pos, {f!r}, 'undecodable {enc} text', d, show={show})")
        if codec in ASCII_SUPERSETS:
            s.depth -= 1


# -- encoding ----------------------------------------------------------------------------------------------
def encoder_lines(spec: FieldSpec, depth: int = 1) -> list[str]:
    """Lines that check the string in ``v`` and leave its wire bytes in ``k<n>`` (prefix) and ``w<n>``."""
    f = str(spec.number)
    secret = spec.mask is not None
    t, enc = spec.type, spec.encoding
    w, k_name = content_name(spec), prefix_name(spec)
    s = _Src(depth)
    s(f"if type(v) is not str: _rt.enc_fail({f!r}, 'expected a string', v, {secret})")
    # 1. the value as wire bytes, and its length in prefix units
    if t == "n":
        s(f"if v and not (v.isascii() and v.encode().isdigit()): "
          f"_rt.enc_fail({f!r}, 'digits expected', v, {secret})")
    elif t == "z":
        zset = "Z_PLAIN" if enc == "bcd" else "Z_ASCII"  # in BCD, '=' *is* the D nibble: a literal D cannot survive
        s(f"if not _rt.{zset}.issuperset(v): "
          f"_rt.enc_fail({f!r}, 'track data expected (digits and =)', v, {secret})")
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
            s(f"{w} = _unhex({body} + {spec.pad!r}) if u & 1 else _unhex({body})")
        else:
            s(f"{w} = _unhex({spec.pad!r} + {body}) if u & 1 else _unhex({body})")
    elif t == "x+n" and enc == "bcd":
        if spec.align == "left":
            s(f"{w} = v[0].encode('ascii') + (bytes.fromhex(v[1:] + {spec.pad!r}) if (u - 1) & 1 "
              f"else bytes.fromhex(v[1:]))")
        else:
            s(f"{w} = v[0].encode('ascii') + (bytes.fromhex({spec.pad!r} + v[1:]) if (u - 1) & 1 "
              f"else bytes.fromhex(v[1:]))")
    elif t == "b" and enc == "binary":
        s(f"{w} = _unhex(v)")
    elif t == "b":
        s(f"{w} = v.upper().encode('ascii')")
    else:
        codec = PY_CODECS.get(enc, "ascii") if t not in DIGIT_TYPES else ("cp500" if enc == "ebcdic" else "ascii")
        if codec in ASCII_SUPERSETS:
            s("try:")
            s(f"    {w} = v.encode('ascii')")
            s("except UnicodeEncodeError:")
            s.depth += 1
        s("try:")
        s(f"    {w} = v.encode({codec!r})")
        s("except UnicodeEncodeError:")
        s(f"    _rt.enc_fail({f!r}, 'not encodable as {enc}', v, {secret})")
        if codec in ASCII_SUPERSETS:
            s.depth -= 1
    if _counts_wire_bytes(spec):
        s(f"u = len({w})")
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
        table = _prefix_table(spec)
        if table:
            s(f"{k_name} = {table}[u]")
        elif pe == "ascii":
            s(f"{k_name} = b'%0{k}d' % u")
        elif pe == "ebcdic":
            s(f"{k_name} = ('%0{k}d' % u).encode('cp500')")
        elif pe == "bcd":
            s(f"{k_name} = bytes.fromhex('%0{((k + 1) // 2) * 2}d' % u)")
        else:
            s(f"{k_name} = u.to_bytes({(k + 1) // 2}, 'big')")
    return s.lines


def encoder_source(spec: FieldSpec) -> str:
    """One field on its own: ``_enc_<n>(v) -> wire bytes`` (prefix and content)."""
    s = _Src()
    s.lines.extend(prologue(spec))
    s(f"def {names(spec)[1]}(v):")
    s.lines.extend(encoder_lines(spec, 1))
    s.depth = 1
    k_name = prefix_name(spec)
    s(f"return {k_name} + {content_name(spec)}" if k_name else f"return {content_name(spec)}")
    return s.text()


# -- runs of fixed fields ----------------------------------------------------------------------------------
# Consecutive fixed fields of one kind are read and written as one piece: one slice, one hex()/decode(), one
# check over the lot, then string slices per field. The checks over the lot are at least as strict as the
# per-field ones; when one fails, the layout runs the fields one by one (the lines above), which either
# raise the exact per-field error or, for a value only the per-field checks accept, give the same result.

def fixed_kind(spec: FieldSpec) -> str | None:
    """How a fixed field can join a run with its neighbours, or None when it must be read on its own."""
    if not spec.fixed:
        return None
    t, enc = spec.type, spec.encoding
    if t == "n" and enc == "bcd" and spec.counts == "units" and (spec.length % 2 == 0 or spec.pad == "0"):
        return "bcd"
    if t == "n" and enc == "ascii":
        return "ascii-digits"
    if t == "b" and enc == "binary":
        return "binary"
    if t not in DIGIT_TYPES and t != "b" and enc in SINGLE_BYTE:
        return "text-" + PY_CODECS[enc]
    return None


def wire_size(spec: FieldSpec) -> int:
    """Wire bytes of a fixed field."""
    return int(eval(_wire_len_expr(spec, str(spec.length))))  # constant fold: integer arithmetic on literals


def run_decode_lines(kind: str, specs: list[FieldSpec], start: str, var: str) -> tuple[list[str], list[str]]:
    """Lines (inside a ``try``) that read a run at ``data[start:...]`` into ``var``, and the per-field values.

    Every check raises ``_rt.Doubt`` (or ``UnicodeDecodeError``) to hand the run to the per-field path.
    """
    size = sum(wire_size(s) for s in specs)
    lines: list[str] = []
    values: list[str] = []
    if kind == "bcd":
        lines.append(f"{var} = data[{start}:{start} + {size}].hex()")
        checks = [f"not {var}.encode().isdigit()"]
        at = 0
        for s in specs:
            nb = wire_size(s)
            lo, hi = 2 * at, 2 * (at + nb)
            if s.length % 2:
                pad_at, lo, hi = (hi - 1, lo, hi - 1) if s.align == "left" else (lo, lo + 1, hi)
                checks.append(f"{var}[{pad_at}] != '0'")
            values.append(f"{var}[{lo}:{hi}]")
            at += nb
        lines.append(f"if {' or '.join(checks)}: raise _rt.Doubt")
        return lines, values
    if kind == "ascii-digits":
        lines.append(f"{var} = data[{start}:{start} + {size}]")
        lines.append(f"if not {var}.isdigit(): raise _rt.Doubt")
        lines.append(f"{var} = {var}.decode('ascii')")
    elif kind == "binary":
        lines.append(f"{var} = data[{start}:{start} + {size}].hex().upper()")
    else:
        lines.append(f"{var} = data[{start}:{start} + {size}].decode({kind[5:]!r})")
    at = 0
    for s in specs:
        nb = wire_size(s)
        lo, hi = (2 * at, 2 * (at + nb)) if kind == "binary" else (at, at + nb)
        values.append(f"{var}[{lo}:{hi}]")
        at += nb
    return lines, values


def run_encode_lines(kind: str, specs: list[FieldSpec], var: str) -> list[str]:
    """Lines (inside a ``try``) that write a run from ``v<n>`` into ``var``; any doubt raises to the per-field path.

    ``v<n>`` are known to be ``str`` of the field's exact length when these lines run.
    """
    if kind == "bcd":
        parts = []
        for s in specs:
            v = f"v{s.number}"
            if s.length % 2:
                v = f"{v} + '0'" if s.align == "left" else f"'0' + {v}"
            parts.append(v)
        return [f"{var} = {' + '.join(parts)}",
                f"if not ({var}.isascii() and {var}.encode().isdigit()): raise _rt.Doubt",
                f"{var} = _unhex({var})"]
    joined = " + ".join(f"v{s.number}" for s in specs)
    if kind == "ascii-digits":
        return [f"{var} = ({joined}).encode()",
                f"if not {var}.isdigit(): raise _rt.Doubt"]
    if kind == "binary":
        return [f"{var} = {joined}",
                f"if not _rt.HEXCHARS.issuperset({var}): raise _rt.Doubt",
                f"{var} = _unhex({var})"]
    return [f"{var} = ({joined}).encode({kind[5:]!r})"]


def run_value_length(spec: FieldSpec) -> int:
    """The exact ``len()`` of a fixed field's string value (hex characters for binary)."""
    return 2 * spec.length if spec.type == "b" else spec.length
