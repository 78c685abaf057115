"""Merchants, terminal lifecycle (registered -> bound -> unbound -> deregistered), deposits."""

from __future__ import annotations

from datetime import date

import pytest

from possim.host.merchants import (
    BackOfficeError, IllegalTerminalTransition, TerminalState, UnknownMerchant, UnknownTerminal,
)

from .conftest import DEPOSIT_FEN, MID, OTHER_MID, Env


def test_merchant_with_chinese_name_and_contract_terms(env: Env) -> None:
    m = env.registry.merchant(MID)
    assert m.name == "上海测试便利店"
    assert (m.deposit_fen, m.deposit_refundable, m.contract_start, m.fee_schedule) == \
        (DEPOSIT_FEN, True, date(2024, 1, 1), "standard")
    assert m.to_json()["contract_start"] == "2024-01-01"
    with pytest.raises(BackOfficeError, match="already exists"):
        env.registry.add_merchant(MID, "x", deposit_fen=0, deposit_refundable=True,
                                  contract_start=date(2024, 1, 1), fee_schedule="s")
    with pytest.raises(UnknownMerchant, match="'NOPE'"):
        env.registry.merchant("NOPE")


@pytest.mark.parametrize("mid", ["89831004812000", "8983100481200011", "89831004812000\u00e9", 123])
def test_mid_must_be_ans15(env: Env, mid: object) -> None:
    with pytest.raises(BackOfficeError, match="ans15"):
        env.registry.add_merchant(mid, "x", deposit_fen=0, deposit_refundable=True,  # type: ignore[arg-type]
                                  contract_start=date(2024, 1, 1), fee_schedule="s")


@pytest.mark.parametrize("tid", ["1234567", "123456789", "1234567\n"])
def test_tid_must_be_ans8(env: Env, tid: str) -> None:
    with pytest.raises(BackOfficeError, match="ans8"):
        env.registry.register_terminal(tid)


def test_terminal_lifecycle_with_timestamps_and_status(env: Env) -> None:
    reg = env.registry
    t = reg.register_terminal("12345678", tmk_ref="tmk-slot-7")
    assert (t.state, t.mid, t.tmk_ref) == (TerminalState.REGISTERED, None, "tmk-slot-7")
    assert not reg.terminal_status("12345678").may_transact
    env.clock.advance(hours=1)
    t = reg.bind("12345678", MID)
    assert (t.state, t.mid, t.bound_at) == (TerminalState.BOUND, MID, env.clock.now())
    status = reg.terminal_status("12345678")
    assert (status.state, status.mid, status.may_transact) == (TerminalState.BOUND, MID, True)
    env.clock.advance(days=1)
    t = reg.unbind("12345678")
    assert (t.state, t.unbound_at) == (TerminalState.UNBOUND, env.clock.now())
    assert reg.terminal_status("12345678").to_json() == \
        {"tid": "12345678", "state": "unbound", "mid": None, "may_transact": False}
    env.clock.advance(days=1)
    t = reg.bind("12345678", OTHER_MID)  # an unbound terminal may be handed out again
    assert t.mid == OTHER_MID
    reg.unbind("12345678")
    t = reg.deregister("12345678")
    assert (t.state, t.deregistered_at) == (TerminalState.DEREGISTERED, env.clock.now())
    status = reg.terminal_status("12345678")
    assert (status.state, status.may_transact) == (TerminalState.DEREGISTERED, False)
    history = reg.terminal_history("12345678")
    assert [h["action"] for h in history] == ["register", "bind", "unbind", "bind", "unbind", "deregister"]
    assert [h["mid"] for h in history][1:4] == [MID, MID, OTHER_MID]


def test_registered_terminal_may_be_deregistered_directly(env: Env) -> None:
    env.registry.register_terminal("SPARE001")
    assert env.registry.deregister("SPARE001").state is TerminalState.DEREGISTERED


def test_unknown_terminal_status_is_refused(env: Env) -> None:
    status = env.registry.terminal_status("NOSUCH01")
    assert (status.state, status.may_transact) == (None, False)
    with pytest.raises(UnknownTerminal, match="NOSUCH01"):
        env.registry.bind("NOSUCH01", MID)


@pytest.mark.parametrize(("setup", "action"), [
    ([], "unbind"),
    (["bind"], "bind"),
    (["bind"], "deregister"),
    (["bind", "unbind"], "unbind"),
    (["deregister"], "bind"),
    (["deregister"], "unbind"),
    (["deregister"], "deregister"),
])
def test_illegal_terminal_transitions_name_terminal_state_action(env: Env, setup: list[str],
                                                                  action: str) -> None:
    env.registry.register_terminal("ILLEGAL1")
    for step in setup:
        getattr(env.registry, step)("ILLEGAL1", *([MID] if step == "bind" else []))
    state = env.registry.terminal("ILLEGAL1").state
    with pytest.raises(IllegalTerminalTransition) as info:
        getattr(env.registry, action)("ILLEGAL1", *([MID] if action == "bind" else []))
    msg = str(info.value)
    assert "ILLEGAL1" in msg and state.value in msg and action in msg
    assert env.registry.terminal("ILLEGAL1").state is state  # nothing changed


def test_deposit_paid_refund_and_confirmation(env: Env) -> None:
    tid = env.new_terminal()
    deposit = env.registry.open_deposit(tid, MID)
    assert deposit is not None
    assert (deposit.amount_fen, deposit.refundable, deposit.refunded_fen) == (DEPOSIT_FEN, True, None)
    with pytest.raises(BackOfficeError, match="no refund issued"):
        env.registry.confirm_refund(deposit.id)
    with pytest.raises(BackOfficeError, match="outside 0..29900"):
        env.registry.issue_refund(deposit.id, DEPOSIT_FEN + 1, date(2024, 2, 1), "cash")
    d = env.registry.issue_refund(deposit.id, 20_000, date(2024, 2, 1), "cash")
    assert (d.refunded_fen, d.refund_due, d.refund_method) == (20_000, date(2024, 2, 1), "cash")
    assert env.registry.open_deposit(tid, MID) is None
    with pytest.raises(BackOfficeError, match="already issued"):
        env.registry.issue_refund(deposit.id, 1, date(2024, 2, 1), "cash")
    assert env.registry.confirm_refund(deposit.id).refund_confirmed_at == env.clock.now()
    with pytest.raises(BackOfficeError, match="already confirmed"):
        env.registry.confirm_refund(deposit.id)


def test_deposit_refundability_copied_from_contract_at_payment(env: Env) -> None:
    env.registry.add_merchant("898310048120003", "不退押金商户", deposit_fen=9_900, deposit_refundable=False,
                              contract_start=date(2024, 1, 1), fee_schedule="standard")
    tid = env.new_terminal("898310048120003")
    d = env.registry.open_deposit(tid, "898310048120003")
    assert d is not None and (d.amount_fen, d.refundable) == (9_900, False)
