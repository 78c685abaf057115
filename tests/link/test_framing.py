"""Framers: one-shot frame/unframe, and streaming over arbitrary splits of the stream."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from possim.errors import PossimError
from possim.link.events import Control, Frame, FrameError, KeepAlive, Noise
from possim.link.framing import FramingError, frame, get_framer, list_framings, lrc, unframe

LENGTH_FRAMINGS = ["len2", "len2i", "len4", "bcd2"]
ALL_FRAMINGS = LENGTH_FRAMINGS + ["stx"]


def test_registry_names_match_the_cli_contract() -> None:
    assert list(list_framings()) == ["none", "len2", "len2i", "len4", "bcd2", "stx"]
    with pytest.raises(FramingError, match="unknown framing 'len3'"):
        get_framer("len3")


@pytest.mark.parametrize(
    "name, payload, expected",
    [
        # Hand-worked: 87 = 0x57 binary, "0087" ASCII, 00 87 BCD; len2i adds the prefix's own 2 bytes.
        ("len2", b"A" * 87, "0057" + "41" * 87),
        ("len2i", b"A" * 87, "0059" + "41" * 87),
        ("len4", b"A" * 87, "30303837" + "41" * 87),
        ("bcd2", b"A" * 87, "0087" + "41" * 87),
        ("len2", b"A" * 300, "012C" + "41" * 300),
        ("bcd2", b"A" * 300, "0300" + "41" * 300),
        # STX 00 01 | 01 | ETX, LRC = 00^01^01^03 = 03 (DOMAIN.md "ECR <-> terminal serial link").
        ("stx", b"\x01", "020001010303"),
        # STX 00 03 "ABC" ETX, LRC = 00^03^41^42^43^03 = 40.
        ("stx", b"ABC", "0200034142430340"),
        ("none", b"\x60\x05\x81", "600581"),
    ],
)
def test_frame_bytes_match_hand_worked_examples(name: str, payload: bytes, expected: str) -> None:
    assert frame(name, payload).hex().upper() == expected.upper()
    assert unframe(name, bytes.fromhex(expected)) == payload


def test_lrc_is_xor_of_all_bytes() -> None:
    assert lrc(b"") == 0
    assert lrc(bytes([0x00, 0x03, 0x41, 0x42, 0x43, 0x03])) == 0x40


@pytest.mark.parametrize("name", ALL_FRAMINGS + ["none"])
@given(payload=st.binary(max_size=600))
def test_unframe_inverts_frame(name: str, payload: bytes) -> None:
    assert unframe(name, frame(name, payload)) == payload


def test_short_frame_names_offset_and_expectation() -> None:
    data = bytes.fromhex("0057") + b"x" * 40
    with pytest.raises(FramingError) as info:
        unframe("len2", data)
    assert str(info.value) == "len2: length prefix says 87 bytes, 40 left at offset 2"
    assert isinstance(info.value, PossimError)


@pytest.mark.parametrize(
    "name, hexdata, message",
    [
        ("len2", "00", "len2: 2-byte length prefix, 1 bytes left at offset 0"),
        ("len4", "31326134", "len4: length prefix '12a4' at offset 0 is not 4 ASCII digits"),
        ("bcd2", "0A00", "bcd2: length prefix 0A00 at offset 0 is not 4 BCD digits"),
        ("len2i", "0001", "len2i: length prefix says 1 at offset 0; it counts itself, so at least 2 was expected"),
        ("len2", "0001414243", "len2: 2 bytes after the frame at offset 3; expected exactly one frame"),
        ("stx", "41", "stx: expected STX (02) at offset 0, got 41"),
        ("stx", "0200034142430341", "stx: LRC 41 at offset 7, computed 40"),
        ("stx", "0200034142434140", "stx: expected ETX (03) at offset 6, got 41"),
        ("stx", "02000341", "stx: length says 3 bytes + ETX + LRC, 1 left at offset 3"),
    ],
)
def test_bad_frames_raise_with_offset(name: str, hexdata: str, message: str) -> None:
    with pytest.raises(FramingError) as info:
        unframe(name, bytes.fromhex(hexdata))
    assert str(info.value) == message


def test_oversize_payload_is_refused() -> None:
    with pytest.raises(FramingError, match="exceeds the maximum of 9999"):
        frame("len4", b"x" * 10000)
    with pytest.raises(FramingError, match="exceeds the maximum of 65533"):
        frame("len2i", b"x" * 65534)
    assert len(frame("len2", b"x" * 65535)) == 65537


def _frames(events: list) -> list[bytes]:
    return [e.payload for e in events if isinstance(e, Frame)]


@pytest.mark.parametrize("name", ALL_FRAMINGS)
@settings(max_examples=60)
@given(payloads=st.lists(st.binary(min_size=1, max_size=200), max_size=6), data=st.data())
def test_streaming_reassembles_any_split(name: str, payloads: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(frame(name, p) for p in payloads)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    framer = get_framer(name)
    events = []
    start = 0
    for cut in cuts + [len(stream)]:
        events += framer.feed(stream[start:cut])
        start = cut
    assert _frames(events) == payloads
    assert framer.buffered == 0
    assert all(isinstance(e, Frame) for e in events)


@pytest.mark.parametrize("name", ALL_FRAMINGS)
def test_byte_at_a_time_reports_frames_with_stream_offsets(name: str) -> None:
    first, second = frame(name, b"PING"), frame(name, b"PONG!")
    framer = get_framer(name)
    events = []
    for byte in first + second:
        events += framer.feed(bytes([byte]))
    assert events == [Frame(b"PING", 0), Frame(b"PONG!", len(first))]


@pytest.mark.parametrize("name", ALL_FRAMINGS)
def test_zero_length_frame_is_a_keepalive_not_a_message(name: str) -> None:
    framer = get_framer(name)
    ka = framer.keepalive()
    events = framer.feed(ka + frame(name, b"X") + ka)
    assert events == [KeepAlive(0), Frame(b"X", len(ka)), KeepAlive(len(ka) + len(frame(name, b"X")))]


def test_length_stream_with_garbage_prefix_fails_for_good() -> None:
    framer = get_framer("len4")
    events = framer.feed(b"0003abcXYZW")
    assert events[0] == Frame(b"abc", 0)
    error = events[1]
    assert isinstance(error, FrameError) and error.fatal and error.offset == 7
    assert "not 4 ASCII digits" in error.message
    with pytest.raises(FramingError, match="already failed at offset 7"):
        framer.feed(b"0001a")


def test_end_of_stream_inside_a_frame_is_reported() -> None:
    framer = get_framer("len2")
    assert framer.feed(bytes.fromhex("0010") + b"abc") == []
    [error] = framer.end_of_stream()
    assert isinstance(error, FrameError) and error.kind == "truncated" and error.offset == 0
    assert "length prefix says 16 bytes, 3 left at offset 2" in error.message


def test_stx_noise_before_stx_is_skipped_and_reported() -> None:
    framer = get_framer("stx")
    good = frame("stx", b"SALE")
    events = framer.feed(b"\xff\x00garbage" + good)
    assert events == [Noise(b"\xff\x00garbage", 0), Frame(b"SALE", 9)]


def test_stx_control_bytes_between_frames() -> None:
    framer = get_framer("stx")
    good = frame("stx", b"OK")
    events = framer.feed(b"\x06" + good + b"\x15\x04")
    assert events == [Control(0x06, 0), Frame(b"OK", 1), Control(0x15, 1 + len(good)),
                      Control(0x04, 2 + len(good))]
    assert [e.name for e in events if isinstance(e, Control)] == ["ACK", "NAK", "EOT"]


def test_stx_bad_lrc_consumes_the_frame_and_continues() -> None:
    bad = bytearray(frame("stx", b"AMOUNT"))
    bad[-1] ^= 0x55
    good = frame("stx", b"NEXT")
    framer = get_framer("stx")
    events = framer.feed(bytes(bad) + good)
    assert isinstance(events[0], FrameError) and events[0].kind == "lrc" and not events[0].fatal
    assert events[0].raw == bytes(bad)
    assert events[1] == Frame(b"NEXT", len(bad))


def test_stx_byte_in_noise_resyncs_on_the_real_frame() -> None:
    # 02 followed by a valid BCD length but no ETX where it should be: the 02 was noise.
    good = frame("stx", b"REAL")
    stream = bytes.fromhex("02000141FF") + good
    framer = get_framer("stx")
    events = framer.feed(stream)
    assert _frames(events) == [b"REAL"]
    assert any(isinstance(e, FrameError) and e.kind == "etx" for e in events)
    frames = [e for e in events if isinstance(e, Frame)]
    assert frames[0].offset == 5


def test_stx_abandon_partial_after_a_lost_byte() -> None:
    framer = get_framer("stx")
    # A frame announcing 9 bytes, only 3 arrive, then the line goes quiet.
    assert framer.feed(bytes.fromhex("020009") + b"abc") == []
    assert framer.in_frame
    events = framer.abandon_partial()
    assert isinstance(events[0], FrameError) and events[0].kind == "truncated"
    assert not framer.in_frame
    # The rest was rescanned as noise; the next frame is read cleanly.
    assert _frames(framer.feed(frame("stx", b"again"))) == [b"again"]


def test_none_framing_passes_chunks_through() -> None:
    framer = get_framer("none")
    assert framer.feed(b"abc") == [Frame(b"abc", 0)]
    assert framer.feed(b"de") == [Frame(b"de", 3)]
    assert unframe("none", b"") == b""
    with pytest.raises(FramingError, match="no keep-alive"):
        framer.keepalive()
