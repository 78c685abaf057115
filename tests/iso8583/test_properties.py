"""Property tests: every dialect and every field type round-trips, and garbage only ever raises DecodeError."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from possim.iso8583 import DecodeError, Dialect, get_dialect, list_dialects
from tests.iso8583.strategies import messages, value_for

DIALECTS = [d.name for d in list_dialects()]
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", DIALECTS)
@FAST
@given(data=st.data())
def test_parse_build_round_trip_every_dialect(name: str, data: st.DataObject) -> None:
    dialect = get_dialect(name)
    msg = data.draw(messages(dialect))
    raw = dialect.encode(msg)
    back = dialect.decode(raw)
    assert back == msg  # parse(build(m)) == m
    assert dialect.encode(back) == raw  # build(parse(x)) == x


# Every combination of field type, content encoding, prefix and prefix encoding that a dialect file can state.
_TYPE_ENCODINGS = {"n": ["bcd", "ascii", "ebcdic"], "z": ["bcd", "ascii"], "x+n": ["bcd", "ascii"],
                   "ans": ["ascii", "ebcdic", "gb18030"], "b": ["binary", "hex"]}
_COMBOS = [
    (t, enc, prefix, penc, align)
    for t, encs in _TYPE_ENCODINGS.items() for enc in encs
    for prefix in ("fixed", "LL", "LLL", "LLLL")
    for penc in (["ascii"] if prefix == "fixed" else ["ascii", "bcd", "binary", "ebcdic"])
    for align in (["left", "right"] if enc == "bcd" else ["left"])
]


def _synthetic(t: str, enc: str, prefix: str, penc: str, align: str, length: int) -> Dialect:
    body: dict = {"type": t, "encoding": enc, "align": align, "pad": "F" if t == "z" else "0"}
    if prefix == "fixed":
        body["length"] = length
    else:
        body.update(max=length, prefix=prefix, prefix_encoding=penc)
    return Dialect({"name": "synthetic", "mti": "ascii", "bitmap": "binary", "fields": {2: body, 3: {"type": "n",
                                                                                                   "length": 6}}})


@pytest.mark.parametrize("t,enc,prefix,penc,align", _COMBOS, ids=["-".join(c) for c in _COMBOS])
@settings(max_examples=15, deadline=None)
@given(data=st.data(), length=st.sampled_from([1, 2, 7, 19, 37]))
def test_every_field_type_round_trips(t: str, enc: str, prefix: str, penc: str, align: str, length: int,
                                      data: st.DataObject) -> None:
    if t == "x+n" and length < 2:
        length = 2
    dialect = _synthetic(t, enc, prefix, penc, align, length)
    value = data.draw(value_for(dialect.specs[2]))
    msg = dialect.message("0200", {"2": value, "3": "123456"})
    raw = dialect.encode(msg)
    assert dialect.decode(raw) == msg
    assert dialect.encode(dialect.decode(raw)) == raw


@pytest.mark.parametrize("name", DIALECTS)
@settings(max_examples=200, deadline=None)
@given(blob=st.binary(max_size=300))
def test_any_bytes_decode_or_raise_decode_error(name: str, blob: bytes) -> None:
    dialect = get_dialect(name)
    try:
        dialect.decode(blob)
    except DecodeError as exc:
        assert "\n" not in str(exc)


@pytest.mark.parametrize("name", DIALECTS)
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_corrupted_valid_messages_raise_only_decode_error(name: str, data: st.DataObject) -> None:
    """Flip, cut or extend a valid message: a result or a DecodeError, nothing else."""
    dialect = get_dialect(name)
    raw = bytearray(dialect.encode(data.draw(messages(dialect))))
    action = data.draw(st.sampled_from(["flip", "cut", "extend"]))
    if action == "flip" and raw:
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] ^= data.draw(st.integers(1, 255))
    elif action == "cut":
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    else:
        raw += data.draw(st.binary(min_size=1, max_size=8))
    try:
        dialect.decode(bytes(raw))
    except DecodeError:
        pass


def test_combination_list_covers_every_type() -> None:
    assert {c[0] for c in _COMBOS} == set(_TYPE_ENCODINGS)
    assert len(list(itertools.product(["x"], _COMBOS))) == len(_COMBOS) > 100


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_mac_input_is_mti_to_before_field_64(data: st.DataObject) -> None:
    dialect = get_dialect("cup-pos")
    msg = data.draw(messages(dialect))
    msg.fields = {k: v for k, v in msg.fields.items() if int(k) < 64}
    msg["64"] = data.draw(st.binary(min_size=8, max_size=8)).hex().upper()
    body = dialect.encode(msg)
    assert dialect.mac_input(body) == body[dialect.tpdu_size + dialect.header_size:-8]


@settings(max_examples=200, deadline=None)
@given(blob=st.binary(max_size=120))
def test_mac_input_of_any_bytes_is_bytes_or_decode_error(blob: bytes) -> None:
    try:
        assert isinstance(get_dialect("cup-pos").mac_input(blob), bytes)
    except DecodeError:
        pass
