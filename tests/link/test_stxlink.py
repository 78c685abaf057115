"""The STX/ACK/NAK link state machine, driven entirely by the test's clock."""

from __future__ import annotations

import pytest

from possim.link.events import (
    ACK,
    EOT,
    NAK,
    Control,
    Delivered,
    EndOfTransmission,
    Frame,
    FrameError,
    KeepAlive,
    Noise,
    Retrying,
    SendFailed,
)
from possim.link.framing import FramingError, frame
from possim.link.stxlink import LinkBusy, StxLink


def corrupt(data: bytes) -> bytes:
    out = bytearray(data)
    out[-1] ^= 0xFF
    return bytes(out)


def test_frame_is_acked_and_delivered() -> None:
    ecr, pos = StxLink(), StxLink()
    ecr.send(b"SALE 100", now=0.0)
    wire = ecr.data_to_send()
    assert wire == frame("stx", b"SALE 100")
    assert pos.receive_data(wire, now=0.1) == [Frame(b"SALE 100", 0)]
    ack = pos.data_to_send()
    assert ack == bytes([ACK])
    assert ecr.receive_data(ack, now=0.2) == [Delivered(b"SALE 100", 1)]
    assert ecr.idle and ecr.next_deadline() is None


def test_bad_lrc_is_naked_and_the_retry_succeeds() -> None:
    ecr, pos = StxLink(), StxLink()
    ecr.send(b"REFUND", now=0.0)
    events = pos.receive_data(corrupt(ecr.data_to_send()), now=0.1)
    assert [type(e) for e in events] == [FrameError] and events[0].kind == "lrc"
    nak = pos.data_to_send()
    assert nak == bytes([NAK])
    assert ecr.receive_data(nak, now=0.2) == [Retrying(b"REFUND", 2, "nak")]
    resend = ecr.data_to_send()
    assert resend == frame("stx", b"REFUND")
    assert [type(e) for e in pos.receive_data(resend, now=0.3)] == [Frame]
    assert ecr.receive_data(pos.data_to_send(), now=0.4) == [Delivered(b"REFUND", 2)]


def test_retries_exhausted_after_three_resends_on_nak() -> None:
    ecr = StxLink()
    ecr.send(b"X", now=0.0)
    transmissions = [ecr.data_to_send()]
    events = []
    for step in range(10):  # more NAKs than the link will accept
        events += ecr.receive_data(bytes([NAK]), now=float(step))
        sent = ecr.data_to_send()
        if sent:
            transmissions.append(sent)
    assert len(transmissions) == 4  # the first send + max_retries (3)
    assert [e for e in events if isinstance(e, Retrying)] == [
        Retrying(b"X", 2, "nak"), Retrying(b"X", 3, "nak"), Retrying(b"X", 4, "nak")]
    assert SendFailed(b"X", 4, "nak") in events
    # NAKs after giving up are stray control bytes, reported and ignored.
    assert sum(isinstance(e, Control) and e.byte == NAK for e in events) == 6


def test_ack_timeout_resends_then_gives_up_on_the_callers_clock() -> None:
    ecr = StxLink(ack_timeout=2.0, max_retries=2)
    ecr.send(b"BALANCE", now=100.0)
    ecr.data_to_send()
    assert ecr.next_deadline() == 102.0
    assert ecr.handle_timeout(101.9) == []  # not yet
    assert ecr.handle_timeout(102.0) == [Retrying(b"BALANCE", 2, "timeout")]
    assert ecr.data_to_send() == frame("stx", b"BALANCE")
    assert ecr.next_deadline() == 104.0
    assert ecr.handle_timeout(104.5) == [Retrying(b"BALANCE", 3, "timeout")]
    ecr.data_to_send()
    assert ecr.handle_timeout(106.5) == [SendFailed(b"BALANCE", 3, "timeout")]
    assert ecr.data_to_send() == b""
    assert ecr.idle


def test_queued_frames_go_one_at_a_time() -> None:
    ecr = StxLink()
    ecr.send(b"one", now=0.0)
    ecr.send(b"two", now=0.0)
    assert ecr.data_to_send() == frame("stx", b"one")
    assert ecr.awaiting_ack == b"one"
    assert ecr.receive_data(bytes([ACK]), now=1.0) == [Delivered(b"one", 1)]
    assert ecr.data_to_send() == frame("stx", b"two")


def test_noise_before_stx_is_reported_and_the_frame_acked() -> None:
    pos = StxLink()
    events = pos.receive_data(b"\x00\xffAT\r" + frame("stx", b"DATA"), now=0.0)
    assert events == [Noise(b"\x00\xffAT\r", 0), Frame(b"DATA", 5)]
    assert pos.data_to_send() == bytes([ACK])


def test_keepalive_is_acked_but_never_answered_in_kind() -> None:
    a, b = StxLink(), StxLink()
    a.send_keepalive(now=0.0)
    events_b = b.receive_data(a.data_to_send(), now=0.0)
    assert events_b == [KeepAlive(0)]
    reply = b.data_to_send()
    assert reply == bytes([ACK])  # no frame of its own: nothing for a to ACK back
    assert a.receive_data(reply, now=0.0) == [Delivered(b"", 1)]
    assert a.data_to_send() == b""
    assert b.idle and a.idle


def test_pairing_two_links_settles_without_ping_pong() -> None:
    a, b = StxLink(), StxLink()
    a.send_keepalive(0.0)
    b.send_keepalive(0.0)
    exchanged = 0
    for _ in range(20):  # bounded; the exchange must go quiet long before this
        to_b, to_a = a.data_to_send(), b.data_to_send()
        if not to_a and not to_b:
            break
        exchanged += 1
        b.receive_data(to_b, 0.0)
        a.receive_data(to_a, 0.0)
    else:
        pytest.fail("the two links never went quiet")
    assert exchanged <= 2 and a.idle and b.idle


def test_eot_is_reported() -> None:
    pos = StxLink()
    assert pos.receive_data(bytes([EOT]), now=0.0) == [EndOfTransmission(0)]
    ecr = StxLink()
    ecr.send_eot()
    assert ecr.data_to_send() == bytes([EOT])


def test_half_received_frame_is_abandoned_after_frame_timeout() -> None:
    pos = StxLink(frame_timeout=0.5)
    wire = frame("stx", b"PURCHASE")
    assert pos.receive_data(wire[:5], now=10.0) == []
    assert pos.next_deadline() == 10.5
    events = pos.handle_timeout(10.5)
    assert [e.kind for e in events if isinstance(e, FrameError)] == ["truncated"]
    assert pos.next_deadline() is None
    # The sender retries the whole frame and it gets through.
    assert pos.receive_data(wire, now=11.0) == [Frame(b"PURCHASE", 5)]


def test_byte_at_a_time_with_ack_per_frame() -> None:
    pos = StxLink()
    events = []
    for byte in frame("stx", b"A") + frame("stx", b"B"):
        events += pos.receive_data(bytes([byte]), now=0.0)
    assert [e.payload for e in events if isinstance(e, Frame)] == [b"A", b"B"]
    assert pos.data_to_send() == bytes([ACK, ACK])


def test_end_of_stream_fails_the_outstanding_frame() -> None:
    ecr = StxLink()
    ecr.send(b"one", now=0.0)
    ecr.send(b"two", now=0.0)
    assert ecr.end_of_stream(now=1.0) == [SendFailed(b"one", 1, "closed"), SendFailed(b"two", 0, "closed")]


def test_limits() -> None:
    ecr = StxLink(max_queue=2)
    ecr.send(b"1", 0.0)
    ecr.send(b"2", 0.0)
    ecr.send(b"3", 0.0)
    with pytest.raises(LinkBusy, match="2 frames already queued"):
        ecr.send(b"4", 0.0)
    with pytest.raises(FramingError, match="exceeds the maximum of 9999"):
        ecr.send(b"x" * 10000, 0.0)
