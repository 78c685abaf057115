"""Any bytes into every framer and the STX link: events or a clean possim error, never another exception.

Bounded (a few hundred examples per framing) so CI stays fast; see docs/reliability.md.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from possim.errors import PossimError
from possim.link.events import Frame
from possim.link.framing import FramingError, frame, get_framer, list_framings, unframe
from possim.link.stxlink import StxLink

STREAM_FRAMINGS = [name for name in list_framings() if name != "none"]


@pytest.mark.parametrize("name", sorted(list_framings()))
@settings(max_examples=300, deadline=None)
@given(blob=st.binary(max_size=200))
def test_unframe_any_bytes(name: str, blob: bytes) -> None:
    try:
        unframe(name, blob)
    except FramingError as exc:
        assert "\n" not in str(exc)


@pytest.mark.parametrize("name", STREAM_FRAMINGS)
@settings(max_examples=300, deadline=None)
@given(chunks=st.lists(st.binary(max_size=40), max_size=12))
def test_feed_any_chunks(name: str, chunks: list[bytes]) -> None:
    framer = get_framer(name)
    for chunk in chunks:
        try:
            framer.feed(chunk)
        except PossimError:
            return  # a fatal stream error was reported; the framer refuses more, cleanly
    framer.end_of_stream()


@pytest.mark.parametrize("name", STREAM_FRAMINGS)
@settings(max_examples=150, deadline=None)
@given(payloads=st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=5),
       cuts=st.lists(st.integers(0, 2000), max_size=10), noise=st.binary(max_size=8))
def test_frames_survive_any_split(name: str, payloads: list[bytes], cuts: list[int], noise: bytes) -> None:
    """Valid frames split anywhere come out whole and in order (after noise, for STX, which resyncs on STX)."""
    stream = b"".join(frame(name, p) for p in payloads)
    if name == "stx":
        stream = noise.replace(b"\x02", b"") + stream
    framer = get_framer(name)
    got: list[bytes] = []
    points = sorted({c % (len(stream) + 1) for c in cuts})
    start = 0
    for point in points + [len(stream)]:
        got += [e.payload for e in framer.feed(stream[start:point]) if isinstance(e, Frame)]
        start = point
    assert got == payloads


@settings(max_examples=300, deadline=None)
@given(chunks=st.lists(st.binary(max_size=30), max_size=10), times=st.lists(st.floats(0, 10), max_size=10))
def test_stx_link_any_input(chunks: list[bytes], times: list[float]) -> None:
    link = StxLink()
    now = 0.0
    link.send(b"\x01\x02payload", now)
    for i, chunk in enumerate(chunks):
        now += times[i] if i < len(times) else 0.1
        try:
            link.receive_data(chunk, now)
            link.handle_timeout(now)
        except PossimError:
            return
        link.data_to_send()
