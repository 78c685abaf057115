"""A compiled per-bitmap Layout reads and writes exactly what its fields do one by one, errors included.

The compiled functions read runs of fixed fields as one piece and go field by field only when a check over
the run fails; these properties pin that the shortcut never changes a value, a byte or an error message.
"""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from possim.iso8583 import DecodeError, EncodeError, get_dialect, list_dialects
from possim.iso8583.layout import Layout
from tests.iso8583.strategies import messages

FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NAMES = [d.name for d in list_dialects()]


def _one_by_one_decode(layout: Layout, data: bytes, pos: int) -> tuple[dict[str, str], int] | str:
    out: dict[str, str] = {}
    try:
        for codec in layout.codecs:
            out[codec.name], pos = codec.parse_at(data, pos)
    except DecodeError as exc:
        return str(exc)
    return out, pos


def _compiled_decode(layout: Layout, data: bytes, pos: int) -> tuple[dict[str, str], int] | str:
    try:
        return layout.parse_at(data, pos)
    except DecodeError as exc:
        return str(exc)


def _one_by_one_encode(layout: Layout, fields: dict[str, object]) -> bytes | str:
    try:
        return b"".join(codec.build_bytes(fields[codec.name]) for codec in layout.codecs)  # type: ignore[arg-type]
    except EncodeError as exc:
        return str(exc)


def _compiled_encode(layout: Layout, fields: dict[str, object]) -> bytes | str:
    try:
        return layout.build_bytes(fields)  # type: ignore[arg-type]
    except EncodeError as exc:
        return str(exc)


def _split(name: str, data: st.DataObject) -> tuple[Layout, bytes, int, dict[str, str]]:
    dialect = get_dialect(name)
    msg = data.draw(messages(dialect))
    raw = dialect.encode(msg)
    (_, _, _, bitmap, _), fields_at = dialect._head.parse_at(raw, 0)
    layout = dialect._layout_for_bitmap(bitmap, 0).fields
    return layout, raw, fields_at, msg.fields


@pytest.mark.parametrize("name", NAMES)
@FAST
@given(data=st.data())
def test_corrupted_fields_decode_as_field_by_field(name: str, data: st.DataObject) -> None:
    layout, raw, fields_at, fields = _split(name, data)
    assert _compiled_decode(layout, raw, fields_at) == (fields, len(raw))
    if len(raw) == fields_at:
        return
    at = data.draw(st.integers(fields_at, len(raw) - 1))
    corrupt = bytearray(raw)
    corrupt[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(fields_at, len(raw)))
    for blob in (bytes(corrupt), raw[:cut], bytes(corrupt)[:cut]):
        assert _compiled_decode(layout, blob, fields_at) == _one_by_one_decode(layout, blob, fields_at)


@pytest.mark.parametrize("name", NAMES)
@FAST
@given(data=st.data())
def test_bad_values_encode_as_field_by_field(name: str, data: st.DataObject) -> None:
    layout, raw, fields_at, fields = _split(name, data)
    assert _compiled_encode(layout, fields) == raw[fields_at:]
    if not fields:
        return
    key = data.draw(st.sampled_from(sorted(fields)))
    bad = data.draw(st.one_of(st.text(max_size=30), st.text("0123456789ABCDEF=D", max_size=30), st.integers(),
                              st.binary(max_size=8), st.just(fields[key] + "0"), st.just(fields[key][:-1])))
    broken: dict[str, object] = {**fields, key: bad}
    assert _compiled_encode(layout, broken) == _one_by_one_encode(layout, broken)


def test_layout_is_a_construct_on_both_of_its_paths() -> None:
    dialect = get_dialect("cup-pos")
    msg = dialect.message("0200", {"2": "6212142000000000012", "3": "000000", "4": "000000000100",
                                   "11": "000123", "22": "051", "41": "12345678", "42": "123456789012345",
                                   "49": "156", "60": "22000001000", "64": "0011223344556677"},
                          tpdu="6005810000", header="603100000000")
    raw = dialect.encode(msg)
    layout = Layout([dialect.codecs[int(k)] for k in sorted(msg.fields, key=int)])
    body = raw[21:]
    assert layout.parse(body) == msg.fields  # interpreted: codec after codec on a stream
    assert layout.compile().parse(body) == msg.fields  # construct's own compiler, our emitted function
    assert layout.build(msg.fields) == body == layout.compile().build(msg.fields)
    stream = io.BytesIO(raw)
    stream.seek(21)
    assert layout.parse_stream(stream) == msg.fields
    # offsets count from where the layout starts reading: here the start of the fields
    with pytest.raises(DecodeError, match=r"^field 60: length prefix says 11 digits, 1 bytes left at offset 53$"):
        layout.parse(body[:-13])  # 2 (11 bytes) ... 49 end at 51; 60: prefix, then 1 of 6 bytes
    with pytest.raises(DecodeError, match=r"^field 60: length prefix says 11 digits, 1 bytes left at offset 53$"):
        layout.compile().parse(body[:-13])
