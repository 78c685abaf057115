"""Hypothesis strategies: valid plain values for any FieldSpec, and whole messages for any dialect."""

from __future__ import annotations

from hypothesis import strategies as st

from possim.iso8583 import Dialect, Message
from possim.iso8583.spec import FieldSpec

DIGITS = "0123456789"
PRINTABLE = "".join(chr(c) for c in range(0x20, 0x7F))
CHINESE = "签购单消费撤销退货银联商户名称终端号"


def _size(spec: FieldSpec) -> st.SearchStrategy[int]:
    return st.just(spec.length) if spec.fixed else st.integers(0, min(spec.length, 60))


def value_for(spec: FieldSpec) -> st.SearchStrategy[str]:
    t, enc = spec.type, spec.encoding
    if t == "n":
        return _size(spec).flatmap(lambda n: st.text(DIGITS, min_size=n, max_size=n))
    if t == "z":
        return _size(spec).flatmap(lambda n: st.text(DIGITS + "=", min_size=n, max_size=n))
    if t == "x+n":
        return _size(spec).filter(lambda n: n >= 2).flatmap(
            lambda n: st.builds(lambda s, d: s + d, st.sampled_from("CD"), st.text(DIGITS, min_size=n - 1,
                                                                                  max_size=n - 1)))
    if t == "b":
        return _size(spec).flatmap(lambda n: st.binary(min_size=n, max_size=n)).map(lambda b: b.hex().upper())
    if enc in ("gb18030", "utf-8"):
        # counted in bytes: draw text, keep the prefix that fits
        def fit(text: str) -> str:
            out = ""
            for ch in text:
                if len((out + ch).encode(enc)) > spec.length:
                    break
                out += ch
            return out
        if spec.fixed:
            return st.text(PRINTABLE, min_size=spec.length, max_size=spec.length)
        return st.text(PRINTABLE + CHINESE, max_size=min(spec.length, 40)).map(fit)
    return _size(spec).flatmap(lambda n: st.text(PRINTABLE, min_size=n, max_size=n))


@st.composite
def messages(draw: st.DrawFn, dialect: Dialect) -> Message:
    numbers = draw(st.lists(st.sampled_from(sorted(dialect.specs)), min_size=0, max_size=20, unique=True))
    fields = {str(n): draw(value_for(dialect.specs[n])) for n in numbers}
    mti = draw(st.text(DIGITS, min_size=4, max_size=4))
    tpdu = draw(st.binary(min_size=5, max_size=5)).hex().upper() if dialect.tpdu_size else None
    header = draw(st.binary(min_size=dialect.header_size, max_size=dialect.header_size)).hex().upper() \
        if dialect.header_size else None
    return dialect.message(mti, fields, tpdu=tpdu, header=header)
