"""Every step a scenario may take, its arguments, and who carries it out.

Three kinds of step, because three parties act in a terminal's life:

``terminal``   what a cashier or the cash register does at the terminal (sign-in, a sale, the
               return application); run by the simulated terminal or, through its ECR port, by
               any terminal
``backoffice`` what the acquirer does in its back office (reviewing a return case, paying the
               deposit back), what the world does (time passes), and fault injection on the link;
               needs a host possim runs
``raw``        one ISO 8583 message sent straight to the host, the jPOS client-simulator way

The catalogue is data so that the loader can refuse a misspelt step or
argument with its line number before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass

TERMINAL = "terminal"
BACKOFFICE = "backoffice"
RAW = "raw"


@dataclass(frozen=True)
class StepKind:
    name: str
    kind: str
    arguments: frozenset[str]
    required: frozenset[str] = frozenset()
    observes: frozenset[str] = frozenset()  # top-level names an ``expect``/``save`` may use
    summary: str = ""


# What a terminal step's outcome offers (the terminal Result, plus what possim saw on the wire).
RESULT_NAMES = frozenset({
    "code", "message", "approved", "local", "detail", "amount_fen", "stan", "batch", "rrn", "auth_code",
    "masked_pan", "host_date", "host_time", "balance_fen", "receipt", "data", "request", "response", "sent",
})
CASE_NAMES = frozenset({
    "case_id", "state", "tid", "mid", "refund_fen", "refund_due", "refund_method", "refund_overdue",
    "reasons", "reason_texts", "waived", "advice", "approved", "status_line", "case", "error",
})
RAW_NAMES = frozenset({"request", "response", "mti", "fields", "header", "tpdu", "error"})
CLOCK_NAMES = frozenset({"now", "date"})
TERMINAL_STATE_NAMES = frozenset({"tid", "state", "mid", "may_transact", "error"})
FAULT_NAMES = frozenset({"armed"})


def _t(name: str, args: str = "", required: str = "", summary: str = "") -> StepKind:
    return StepKind(name, TERMINAL, frozenset(args.split()), frozenset(required.split()), RESULT_NAMES, summary)


def _b(name: str, args: str, required: str, observes: frozenset[str], summary: str) -> StepKind:
    return StepKind(name, BACKOFFICE, frozenset(args.split()), frozenset(required.split()), observes, summary)


STEPS: dict[str, StepKind] = {s.name: s for s in [
    _t("sign_in", summary="0800: fetch working keys"),
    _t("sign_off", summary="0820 60.3=002"),
    _t("echo", summary="0820 60.3=301 echo test"),
    _t("purchase", "amount card pin", "amount card", "0200 sale"),
    _t("void", "voucher card pin", "voucher", "0200 void of a sale in the open batch"),
    _t("refund", "amount card rrn date pin", "amount card rrn date", "0220 refund against a purchase"),
    _t("balance", "card pin", "card", "0200 balance inquiry"),
    _t("settle", summary="0500 settlement; batch upload (0320) when not balanced"),
    _t("send_reversals", summary="send stored reversals (0400) now"),
    _t("print", summary="reprint the last slip"),
    _t("query", "voucher", "voucher", "one transaction from the terminal's journal"),
    _t("status", summary="the terminal's own state"),
    _t("return_apply", "reason contact identity_proof purchase_proof", "reason", "60.3=801 return application"),
    _t("return_status", "case", summary="60.3=802 return case status"),
    _t("appeal", "statement case", "statement", "60.3=803 appeal a rejection"),
    _t("confirm_refund", "case", summary="60.3=804 the deposit refund arrived"),
    _t("withdraw", "case", summary="60.3=805 withdraw the application"),
    _t("unbind", "case", summary="60.3=806 unbind from the merchant"),
    _t("deregister", "case", summary="60.3=807 deregister"),
    _b("review", "case inspection waive note actor", "", CASE_NAMES,
       "acquirer reviews the case (start review or re-review, then decide)"),
    _b("issue_refund", "case method reference actor", "", CASE_NAMES, "acquirer pays the deposit refund"),
    _b("case", "case", "", CASE_NAMES, "read a return case"),
    _b("flag_overdue", "", "", frozenset({"flagged"}), "the host marks refunds past their due date"),
    _b("open_dispute", "reference terminal", "reference", frozenset(), "a chargeback dispute opens"),
    _b("close_dispute", "reference", "reference", frozenset(), "a dispute is closed"),
    _b("onboard", "terminal merchant deposit", "terminal merchant", TERMINAL_STATE_NAMES,
       "acquirer binds a registered terminal to a merchant (and takes the deposit)"),
    _b("terminal_state", "terminal", "", TERMINAL_STATE_NAMES, "the host's view of a terminal"),
    _b("advance_clock", "days hours minutes seconds to", "", CLOCK_NAMES, "simulated time passes"),
    _b("link_fault", "drop_responses corrupt_mac", "", FAULT_NAMES,
       "the next N answers are lost / the next N requests arrive with a broken MAC"),
    StepKind("send", RAW, frozenset({"mti", "fields", "tpdu", "header", "mac"}), frozenset({"mti"}), RAW_NAMES,
             "one raw message to the host"),
]}

# Keys a step may carry besides its one action key.
STEP_MODIFIERS = frozenset({"name", "expect", "save", "terminal"})
ACTIONS_WITH_TERMINAL = frozenset(n for n, s in STEPS.items() if s.kind in (TERMINAL, RAW))
