"""Request/response matching (QMUX style) on the caller's clock."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from possim.link.mux import (
    Expired,
    IncomingRequest,
    Late,
    Matched,
    Mux,
    MuxError,
    Unsolicited,
    key_fields,
    response_mti,
)


@dataclass
class Msg:
    """Stands in for possim.iso8583.Message: the Mux only reads .mti and .fields."""

    mti: str
    fields: dict[str, str] = field(default_factory=dict)


def req(mti: str = "0200", stan: str = "000001", tid: str | None = "12345678") -> Msg:
    fields = {"11": stan}
    if tid is not None:
        fields["41"] = tid
    return Msg(mti, fields)


def resp(mti: str = "0210", stan: str = "000001", tid: str | None = "12345678") -> Msg:
    return req(mti, stan, tid)


@pytest.mark.parametrize("mti, expected", [("0200", "0210"), ("0201", "0210"), ("0210", "0210"),
                                            ("0420", "0430"), ("0421", "0430"), ("0800", "0810"),
                                            ("0100", "0110"), ("0820", "0830"), ("x", "x")])
def test_response_mti(mti: str, expected: str) -> None:
    assert response_mti(mti) == expected


def test_out_of_order_responses_find_their_requests() -> None:
    mux = Mux(timeout=30.0)
    a, b = req(stan="000001"), req(stan="000002")
    mux.request(a, now=0.0)
    mux.request(b, now=1.0)
    [second] = mux.receive(resp(stan="000002"), now=2.0)
    [first] = mux.receive(resp(stan="000001"), now=3.0)
    assert isinstance(second, Matched) and second.request is b and second.elapsed == 1.0
    assert isinstance(first, Matched) and first.request is a and first.elapsed == 3.0
    assert mux.outstanding == 0


def test_same_stan_on_two_terminals_is_two_requests() -> None:
    mux = Mux()
    t1, t2 = req(tid="TERM0001"), req(tid="TERM0002")
    mux.request(t1, 0.0)
    mux.request(t2, 0.0)
    [event] = mux.receive(resp(tid="TERM0002"), 1.0)
    assert isinstance(event, Matched) and event.request is t2


def test_reversal_reusing_the_stan_is_kept_apart_by_mti() -> None:
    mux = Mux()
    sale, reversal = req("0200"), req("0400")
    mux.request(sale, 0.0)
    mux.request(reversal, 0.5)
    [event] = mux.receive(resp("0410"), 1.0)
    assert isinstance(event, Matched) and event.request is reversal
    assert mux.outstanding == 1


def test_response_without_tid_falls_back_to_stan() -> None:
    mux = Mux()
    sale = req()
    mux.request(sale, 0.0)
    [event] = mux.receive(resp(tid=None), 1.0)
    assert isinstance(event, Matched) and event.request is sale


def test_stan_fallback_refuses_an_ambiguous_match() -> None:
    mux = Mux()
    mux.request(req(tid="TERM0001"), 0.0)
    mux.request(req(tid="TERM0002"), 0.0)
    [event] = mux.receive(resp(tid=None), 1.0)
    assert isinstance(event, Unsolicited) and event.reason == "no request"
    assert mux.outstanding == 2


def test_expiry_then_late_response_is_reported_with_its_request() -> None:
    mux = Mux(timeout=60.0)
    sale = req()
    mux.request(sale, now=0.0)
    assert mux.next_deadline() == 60.0
    assert mux.expire(59.0) == []
    [expired] = mux.expire(60.0)
    assert isinstance(expired, Expired) and expired.request is sale and expired.deadline == 60.0
    [late] = mux.receive(resp(), now=75.0)
    assert isinstance(late, Late) and late.request is sale
    assert late.expired_at == 60.0 and late.received_at == 75.0


def test_receive_expires_due_requests_first() -> None:
    mux = Mux(timeout=10.0)
    sale = req()
    mux.request(sale, now=0.0)
    events = mux.receive(resp(), now=10.0)
    assert [type(e) for e in events] == [Expired, Late]


def test_per_request_timeout_and_context() -> None:
    mux = Mux(timeout=60.0)
    mux.request(req(stan="000001"), 0.0, timeout=5.0, context="first")
    mux.request(req(stan="000002"), 0.0, context="second")
    [expired] = mux.expire(5.0)
    assert expired.context == "first"
    [matched] = mux.receive(resp(stan="000002"), 6.0)
    assert isinstance(matched, Matched) and matched.context == "second"


def test_unsolicited_duplicate_and_keyless_responses_are_reported() -> None:
    mux = Mux()
    [stray] = mux.receive(resp(stan="999999"), 0.0)
    assert isinstance(stray, Unsolicited) and stray.reason == "no request"
    mux.request(req(), 1.0)
    mux.receive(resp(), 2.0)
    [dup] = mux.receive(resp(), 3.0)
    assert isinstance(dup, Unsolicited) and dup.reason == "duplicate"
    [keyless] = mux.receive(Msg("0210", {"39": "00"}), 4.0)
    assert isinstance(keyless, Unsolicited) and keyless.reason == "no key" and keyless.key is None


def test_peer_requests_are_handed_up_not_matched() -> None:
    mux = Mux()
    mux.request(req("0800"), 0.0)
    [incoming] = mux.receive(req("0800"), 1.0)  # the peer sent its own 0800 with the same STAN
    assert isinstance(incoming, IncomingRequest)
    assert mux.outstanding == 1


def test_duplicate_outstanding_key_and_missing_stan_are_errors() -> None:
    mux = Mux()
    mux.request(req(), 0.0)
    with pytest.raises(MuxError, match="already outstanding"):
        mux.request(req(), 0.0)
    with pytest.raises(MuxError, match="field 11 missing"):
        mux.request(Msg("0200", {"41": "12345678"}), 0.0)


def test_custom_key_by_rrn() -> None:
    mux = Mux(key=key_fields("37", match_mti=False))
    assert mux.fallback_key is None
    mux.request(Msg("0200", {"37": "123456789012"}), 0.0)
    [event] = mux.receive(Msg("0210", {"37": "123456789012"}), 1.0)
    assert isinstance(event, Matched) and event.key == ("123456789012",)


def test_memories_are_bounded() -> None:
    mux = Mux(timeout=1.0, late_window=100.0, history=3)
    for n in range(10):
        mux.request(req(stan=f"{n:06d}"), 0.0)
    assert len(mux.expire(1.0)) == 10
    # Only the 3 most recent expiries are remembered; older late responses count as unsolicited.
    assert isinstance(mux.receive(resp(stan="000009"), 2.0)[0], Late)
    assert isinstance(mux.receive(resp(stan="000000"), 2.0)[0], Unsolicited)
    # After the late window even a remembered one is forgotten.
    mux.expire(200.0)
    assert isinstance(mux.receive(resp(stan="000008"), 200.0)[0], Unsolicited)


def test_cancel_all_returns_everything_waiting() -> None:
    mux = Mux()
    mux.request(req(stan="000001"), 0.0, context="a")
    mux.request(req(stan="000002"), 0.0, context="b")
    assert [c for _, _, c in mux.cancel_all()] == ["a", "b"]
    assert mux.outstanding == 0 and mux.next_deadline() is None
