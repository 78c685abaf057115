"""Idle keep-alive timing: sent only after our own idleness, and hearing one resets it."""

from __future__ import annotations

import pytest

from possim.link.keepalive import KeepAliveTimer


def test_due_after_interval_of_silence() -> None:
    timer = KeepAliveTimer(30.0, now=0.0)
    assert not timer.due(29.9)
    assert timer.due(30.0)


def test_received_keepalive_postpones_ours() -> None:
    ours = KeepAliveTimer(30.0, now=0.0)
    ours.activity(25.0)  # the peer's keep-alive arrived
    assert not ours.due(30.0)
    assert ours.next_deadline() == 55.0


def test_two_peers_with_equal_intervals_send_one_each_per_interval() -> None:
    a, b = KeepAliveTimer(10.0, 0.0), KeepAliveTimer(10.0, 3.0)
    sent = {"a": 0, "b": 0}
    now = 0.0
    while now < 100.0:
        now += 0.5
        for name, me, peer in (("a", a, b), ("b", b, a)):
            if me.due(now):
                sent[name] += 1
                me.activity(now)
                peer.activity(now)  # the peer hears it
    # Without the reset both would send ~10 each; with it the earlier one carries the link.
    assert sent["a"] + sent["b"] <= 11
    assert sent["a"] + sent["b"] >= 9


def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError):
        KeepAliveTimer(0, 0.0)
