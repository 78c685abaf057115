"""Return cases end to end over a real SQLite file and a simulated clock.

Process: DOMAIN.md, "The return-and-deregister path"."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta

import pytest

from possim.host.cases import (
    _ALLOWED, AppealRefused, CaseDesk, CaseError, CaseState, IllegalCaseTransition, NotYourCase,
)
from possim.host.merchants import IllegalTerminalTransition, TerminalState
from possim.host.policy import (
    DEPOSIT_NON_REFUNDABLE, OPEN_DISPUTES, SERVICE_PERIOD_NOT_MET, UNSETTLED_BATCH, Inspection,
)

from .conftest import DEPOSIT_FEN, MID, OTHER_MID, Env, apply

S = CaseState


def test_full_return_path_recorded_step_by_step(env: Env) -> None:
    tid = env.new_terminal()
    env.make_eligible(tid)
    desk = env.desk
    times = []

    def step(fn: Callable[[], object]) -> None:
        env.clock.advance(hours=2)
        times.append(env.clock.now())
        fn()

    case_id = 0

    def do_apply() -> None:
        nonlocal case_id
        case_id = apply(env, tid)
    step(do_apply)
    step(lambda: desk.start_review(case_id, "ops:wang"))
    step(lambda: desk.decide(case_id, "ops:wang", note="all good"))
    case = desk.get_case(case_id)
    assert case.state is S.APPROVED and case.refund_fen == DEPOSIT_FEN
    assert case.refund_due == date(2024, 4, 10) + timedelta(days=15)
    env.facts.open_batch(tid, MID, "000007")
    with pytest.raises(CaseError, match="unsettled batch 000007"):
        desk.record_settlement(case_id, "host", "000007")
    env.facts.settle_batch(tid, MID, "000007")
    step(lambda: desk.record_settlement(case_id, "host", "000007"))
    assert env.registry.terminal_status(tid).may_transact  # still bound until unbound
    step(lambda: desk.unbind(case_id, "ops:wang"))
    assert env.registry.terminal_status(tid).state is TerminalState.UNBOUND
    step(lambda: desk.deregister(case_id, "ops:wang"))
    status = env.registry.terminal_status(tid)
    assert (status.state, status.may_transact) == (TerminalState.DEREGISTERED, False)
    step(lambda: desk.issue_refund(case_id, "finance:zhao", reference="TRF-1"))
    deposit = env.registry.deposit(desk.get_case(case_id).deposit_id or 0)
    assert (deposit.refunded_fen, deposit.refund_due, deposit.refund_method) == \
        (DEPOSIT_FEN, date(2024, 4, 25), "bank_transfer")
    step(lambda: desk.confirm_refund(case_id, MID, note="received"))
    case = desk.get_case(case_id)
    assert case.state is S.REFUND_CONFIRMED and not case.refund_overdue
    assert env.registry.deposit(case.deposit_id or 0).refund_confirmed_at == times[-1]

    timeline = desk.case_timeline(case_id)
    assert [e.action for e in timeline] == ["apply", "start_review", "approve", "settle", "unbind",
                                            "deregister", "issue_refund", "confirm_refund"]
    assert [e.at for e in timeline] == times
    assert [e.to_state for e in timeline] == [S.APPLIED, S.UNDER_REVIEW, S.APPROVED, S.SETTLED, S.UNBOUND,
                                              S.DEREGISTERED, S.REFUND_ISSUED, S.REFUND_CONFIRMED]
    assert [e.actor for e in timeline] == [f"merchant:{MID}", "ops:wang", "ops:wang", "host", "ops:wang",
                                           "ops:wang", "finance:zhao", f"merchant:{MID}"]
    assert timeline[0].detail["identity_proof_ref"] == "id-scan-001"
    assert timeline[2].detail["facts"]["transaction_count"] == 12
    assert timeline[6].detail == {"amount_fen": DEPOSIT_FEN, "due": "2024-04-25", "method": "bank_transfer",
                                  "reference": "TRF-1", "deposit_id": case.deposit_id}
    assert timeline[7].detail["on_time"] is True
    json.dumps([e.to_json() for e in timeline])  # plain data, ready for the CLI
    assert json.loads(json.dumps(case.to_json()))["decision"]["approved"] is True


def test_partial_refund_after_inspection_deductions(env: Env) -> None:
    tid = env.new_terminal()
    env.make_eligible(tid)
    case_id = apply(env, tid)
    env.desk.start_review(case_id, "ops")
    case = env.desk.decide(case_id, "ops", inspection=Inspection(missing_accessories=("charger",),
                                                                 damaged=True))
    assert case.refund_fen == DEPOSIT_FEN - 3000 - 10000
    assert [d.code for d in case.decision.deductions] == ["MISSING_ACCESSORY", "DAMAGE_FEE"]  # type: ignore


def _reject(env: Env, tid: str, mid: str = MID) -> int:
    case_id = apply(env, tid, mid)
    env.desk.start_review(case_id, "ops")
    case = env.desk.decide(case_id, "ops")
    assert case.state is S.REJECTED
    return case_id


def test_rejected_for_unsettled_batch_then_appeal_overturns(env: Env) -> None:
    tid = env.new_terminal()
    env.make_eligible(tid)
    env.facts.open_batch(tid, MID, "000012")
    case_id = _reject(env, tid)
    reasons = env.desk.get_case(case_id).decision.reasons  # type: ignore[union-attr]
    assert [(r.code, "000012" in r.text, "settlement" in r.advice) for r in reasons] == \
        [(UNSETTLED_BATCH, True, True)]
    env.clock.advance(days=3)
    env.facts.settle_batch(tid, MID, "000012")
    case = env.desk.appeal(case_id, MID, "batch 000012 is settled now")
    assert (case.state, case.appeals) == (S.APPEALED, 1)
    env.desk.start_re_review(case_id, "ops:supervisor")
    case = env.desk.decide(case_id, "ops:supervisor")
    assert case.state is S.APPROVED and case.refund_fen == DEPOSIT_FEN
    assert case.refund_due == date(2024, 4, 13) + timedelta(days=15)  # from the re-review date
    actions = [e.action for e in env.desk.case_timeline(case_id)]
    assert actions == ["apply", "start_review", "reject", "appeal", "start_re_review", "approve"]
    assert env.desk.case_timeline(case_id)[2].detail["decision"]["reasons"][0]["code"] == UNSETTLED_BATCH


def test_rejected_for_service_period_then_waived_on_re_review(env: Env) -> None:
    tid = env.new_terminal()
    env.facts.record_transaction(tid, MID, 50_000, count=20)
    env.clock.advance(days=40)
    case_id = _reject(env, tid)
    r = env.desk.get_case(case_id).decision.reasons[0]  # type: ignore[union-attr]
    assert (r.code, r.advice) == (SERVICE_PERIOD_NOT_MET, "apply again on or after 2024-03-31")
    env.desk.appeal(case_id, MID, "the shop burned down; please make an exception")
    env.desk.start_re_review(case_id, "ops:supervisor")
    case = env.desk.decide(case_id, "ops:supervisor", waive=(SERVICE_PERIOD_NOT_MET,), note="hardship")
    assert case.state is S.APPROVED
    assert [w.code for w in case.decision.waived] == [SERVICE_PERIOD_NOT_MET]  # type: ignore[union-attr]


def test_waiver_only_on_re_review(env: Env) -> None:
    tid = env.new_terminal()
    case_id = apply(env, tid)
    env.desk.start_review(case_id, "ops")
    with pytest.raises(CaseError, match="only be waived on re-review"):
        env.desk.decide(case_id, "ops", waive=(SERVICE_PERIOD_NOT_MET,))
    assert env.desk.get_case(case_id).state is S.UNDER_REVIEW


def test_rejected_for_open_dispute(env: Env) -> None:
    tid = env.new_terminal()
    env.make_eligible(tid)
    env.facts.open_dispute(tid, MID, "CB-2024-0099")
    case_id = _reject(env, tid)
    r = env.desk.get_case(case_id).decision.reasons  # type: ignore[union-attr]
    assert [x.code for x in r] == [OPEN_DISPUTES] and "CB-2024-0099" in r[0].text
    env.facts.close_dispute("CB-2024-0099")
    assert env.facts.facts_for(tid, MID, env.clock.now()).open_disputes == ()


def test_rejected_for_non_refundable_clause(env: Env) -> None:
    env.registry.add_merchant("898310048120009", "押金不退商户", deposit_fen=19_900,
                              deposit_refundable=False, contract_start=date(2024, 1, 1),
                              fee_schedule="standard")
    tid = env.new_terminal("898310048120009")
    env.make_eligible(tid, "898310048120009")
    case_id = _reject(env, tid, "898310048120009")
    r = env.desk.get_case(case_id).decision.reasons  # type: ignore[union-attr]
    assert [x.code for x in r] == [DEPOSIT_NON_REFUNDABLE] and "199.00 yuan" in r[0].text
    assert env.desk.get_case(case_id).status_line() == f"CASE {case_id} REJECTED DEPOSIT_NON_REFUNDABLE"


def test_appeal_outside_window_refused(env: Env) -> None:
    tid = env.new_terminal()
    case_id = _reject(env, tid)
    env.clock.advance(days=31)
    with pytest.raises(AppealRefused, match=rf"case {case_id}: appeal window closed on 2024-01-31"):
        env.desk.appeal(case_id, MID, "late")
    assert env.desk.get_case(case_id).state is S.REJECTED


def test_appeal_on_last_day_of_window_accepted_and_appeals_limited(env: Env) -> None:
    tid = env.new_terminal()
    case_id = _reject(env, tid)
    env.clock.advance(days=30, hours=14)  # 2024-01-31 23:00, the window's last day
    env.desk.appeal(case_id, MID, "please reconsider")
    env.desk.start_re_review(case_id, "ops")
    assert env.desk.decide(case_id, "ops").state is S.REJECTED  # still inside 90 days
    with pytest.raises(AppealRefused, match="1 appeal\\(s\\) already made, policy allows 1"):
        env.desk.appeal(case_id, MID, "again")


def test_overdue_refund_detected_flagged_once_and_followed_up(env: Env) -> None:
    tid = env.new_terminal()
    env.make_eligible(tid)
    case_id = apply(env, tid)
    env.desk.start_review(case_id, "ops")
    env.desk.decide(case_id, "ops")            # approved 2024-04-10, due 2024-04-25
    env.desk.record_settlement(case_id, "host", "000001")
    env.desk.unbind(case_id, "ops")
    env.desk.deregister(case_id, "ops")
    env.clock.set(env.clock.now().replace(day=25, hour=23, minute=59))
    assert not env.desk.get_case(case_id).refund_overdue  # due date itself is not late
    assert env.desk.flag_overdue() == []
    env.clock.advance(minutes=2)                           # 2024-04-26 00:01
    assert [c.id for c in env.desk.overdue_cases()] == [case_id]
    flagged = env.desk.flag_overdue()
    assert [c.id for c in flagged] == [case_id] and flagged[0].refund_overdue
    assert "OVERDUE" in flagged[0].status_line()
    env.clock.advance(days=1)
    assert env.desk.flag_overdue() == []                   # recorded once only
    env.desk.follow_up(case_id, MID, "refund not received")
    env.desk.issue_refund(case_id, "finance", method="cash")
    assert env.desk.get_case(case_id).refund_overdue       # issued but not confirmed: still overdue
    case = env.desk.confirm_refund(case_id, MID)
    assert not case.refund_overdue and case.refund_method == "cash"
    events = env.desk.case_timeline(case_id)
    assert [e.action for e in events][-4:] == ["refund_overdue", "follow_up", "issue_refund", "confirm_refund"]
    assert events[-4].detail == {"refund_due": "2024-04-25", "days_overdue": 1}
    assert events[-1].detail["on_time"] is False


@pytest.mark.parametrize("state", [S.APPLIED, S.UNDER_REVIEW, S.APPEALED, S.UNDER_RE_REVIEW])
def test_merchant_may_withdraw_before_decision(env: Env, state: CaseState) -> None:
    case_id = drive_to(env, state)
    case = env.desk.withdraw(case_id, MID, "changed my mind")
    assert case.state is S.WITHDRAWN
    assert env.registry.terminal_status(case.tid).may_transact  # terminal untouched
    apply(env, case.tid)  # a withdrawn case no longer blocks a new application


def test_only_the_cases_own_merchant_may_act(env: Env) -> None:
    case_id = drive_to(env, S.REJECTED)
    for call in (lambda: env.desk.withdraw(case_id, OTHER_MID),
                 lambda: env.desk.appeal(case_id, OTHER_MID, "mine"),
                 lambda: env.desk.confirm_refund(case_id, OTHER_MID),
                 lambda: env.desk.follow_up(case_id, OTHER_MID, "where")):
        with pytest.raises(NotYourCase, match=rf"case {case_id}: merchant {OTHER_MID} may not"):
            call()
    assert [e.action for e in env.desk.case_timeline(case_id)][-1] == "reject"


def test_application_checks(env: Env) -> None:
    tid = env.new_terminal()
    with pytest.raises(CaseError, match=f"terminal {tid} is not bound to merchant {OTHER_MID}"):
        apply(env, tid, OTHER_MID)
    with pytest.raises(CaseError, match="identity proof reference is required"):
        env.desk.apply(MID, tid, reason="r", contact="c", identity_proof_ref=" ", purchase_proof_ref="p")
    case_id = apply(env, tid)
    with pytest.raises(CaseError, match=f"already has case {case_id}"):
        apply(env, tid)
    with pytest.raises(CaseError, match="not registered"):
        apply(env, "NOSUCH01")
    with pytest.raises(CaseError, match="case state 'lost' is not one of"):
        env.desk.list_cases(state="lost")


def test_list_cases_filters_and_terminal_query(env: Env) -> None:
    a = drive_to(env, S.APPLIED)
    b = drive_to(env, S.REJECTED)
    tid_other = env.new_terminal(OTHER_MID)
    c = apply(env, tid_other, OTHER_MID)
    assert [x.id for x in env.desk.list_cases()] == [a, b, c]
    assert [x.id for x in env.desk.list_cases(mid=MID)] == [a, b]
    assert [x.id for x in env.desk.list_cases(state="rejected")] == [b]
    assert [x.id for x in env.desk.list_cases(state=S.APPLIED, mid=OTHER_MID)] == [c]
    latest = env.desk.latest_case_for_terminal(tid_other)
    assert latest is not None and latest.status_line() == f"CASE {c} APPLIED"
    assert env.desk.latest_case_for_terminal("NOSUCH01") is None


def test_deregistered_terminal_cannot_be_rebound_or_apply_again(env: Env) -> None:
    case_id = drive_to(env, S.DEREGISTERED)
    tid = env.desk.get_case(case_id).tid
    with pytest.raises(IllegalTerminalTransition, match=f"terminal {tid}: cannot bind while deregistered"):
        env.registry.bind(tid, MID)
    with pytest.raises(CaseError, match="terminal is deregistered"):
        apply(env, tid)


def test_unbind_step_rolls_back_if_terminal_already_unbound(env: Env) -> None:
    case_id = drive_to(env, S.SETTLED)
    env.registry.unbind(env.desk.get_case(case_id).tid)  # someone unbound it outside the case
    with pytest.raises(IllegalTerminalTransition):
        env.desk.unbind(case_id, "ops")
    assert env.desk.get_case(case_id).state is S.SETTLED
    assert [e.action for e in env.desk.case_timeline(case_id)][-1] == "settle"


def test_case_survives_reopening_the_database(env: Env) -> None:
    case_id = drive_to(env, S.REFUND_ISSUED)
    before = env.desk.get_case(case_id).to_json()
    timeline = [e.to_json() for e in env.desk.case_timeline(case_id)]
    tid = env.desk.get_case(case_id).tid
    env.reopen()
    assert env.desk.get_case(case_id).to_json() == before
    assert [e.to_json() for e in env.desk.case_timeline(case_id)] == timeline
    assert env.registry.terminal_status(tid).state is TerminalState.DEREGISTERED
    assert env.registry.merchant(MID).name == "上海测试便利店"
    assert env.desk.confirm_refund(case_id, MID).state is S.REFUND_CONFIRMED


# --- every illegal transition ---------------------------------------------------

def drive_to(env: Env, target: CaseState) -> int:
    """A fresh terminal and case brought to ``target`` through legal steps."""
    tid = env.new_terminal()
    if target in (S.REJECTED, S.APPEALED, S.UNDER_RE_REVIEW):
        env.facts.open_batch(tid, MID, "000001")  # makes the review reject
    else:
        env.make_eligible(tid)
    d = env.desk
    case_id = apply(env, tid)
    path: list[tuple[CaseState, Callable[[], object]]] = [
        (S.UNDER_REVIEW, lambda: d.start_review(case_id, "ops")),
        (S.APPROVED, lambda: d.decide(case_id, "ops")),
        (S.SETTLED, lambda: d.record_settlement(case_id, "host", "000001")),
        (S.UNBOUND, lambda: d.unbind(case_id, "ops")),
        (S.DEREGISTERED, lambda: d.deregister(case_id, "ops")),
        (S.REFUND_ISSUED, lambda: d.issue_refund(case_id, "finance")),
        (S.REFUND_CONFIRMED, lambda: d.confirm_refund(case_id, MID)),
    ]
    if target in (S.REJECTED, S.APPEALED, S.UNDER_RE_REVIEW):
        path = path[:1] + [(S.REJECTED, lambda: d.decide(case_id, "ops")),
                           (S.APPEALED, lambda: d.appeal(case_id, MID, "please")),
                           (S.UNDER_RE_REVIEW, lambda: d.start_re_review(case_id, "ops"))]
    if target is S.WITHDRAWN:
        d.withdraw(case_id, MID)
        path = []
    for state, call in path:
        if d.get_case(case_id).state is target:
            break
        call()
        assert d.get_case(case_id).state is state
    assert d.get_case(case_id).state is target
    return case_id


ACTIONS: dict[str, Callable[[CaseDesk, int], object]] = {
    "start_review": lambda d, c: d.start_review(c, "ops"),
    "decide": lambda d, c: d.decide(c, "ops"),
    "appeal": lambda d, c: d.appeal(c, MID, "please"),
    "start_re_review": lambda d, c: d.start_re_review(c, "ops"),
    "withdraw": lambda d, c: d.withdraw(c, MID),
    "settle": lambda d, c: d.record_settlement(c, "host", "000001"),
    "unbind": lambda d, c: d.unbind(c, "ops"),
    "deregister": lambda d, c: d.deregister(c, "ops"),
    "issue_refund": lambda d, c: d.issue_refund(c, "finance"),
    "confirm_refund": lambda d, c: d.confirm_refund(c, MID),
    "follow_up": lambda d, c: d.follow_up(c, MID, "any news?"),
}
ILLEGAL = [(state, action) for state in CaseState for action in ACTIONS if state not in _ALLOWED[action]]


def test_action_table_covers_every_action() -> None:
    assert set(ACTIONS) == set(_ALLOWED)


@pytest.mark.parametrize(("state", "action"), ILLEGAL, ids=[f"{s.value}-{a}" for s, a in ILLEGAL])
def test_illegal_transition_names_case_state_action(env: Env, state: CaseState, action: str) -> None:
    case_id = drive_to(env, state)
    events = len(env.desk.case_timeline(case_id))
    with pytest.raises(IllegalCaseTransition) as info:
        ACTIONS[action](env.desk, case_id)
    assert str(info.value).startswith(f"case {case_id}: cannot {action} while {state.value}")
    assert env.desk.get_case(case_id).state is state
    assert len(env.desk.case_timeline(case_id)) == events  # nothing recorded


def test_read_only_desk_without_policy(env: Env) -> None:
    case_id = drive_to(env, S.REJECTED)
    reader = CaseDesk(env.conn, env.clock, None)
    assert reader.get_case(case_id).state is S.REJECTED
    assert [e.action for e in reader.case_timeline(case_id)][-1] == "reject"
    with pytest.raises(CaseError, match="no return policy loaded"):
        reader.appeal(case_id, MID, "please")
