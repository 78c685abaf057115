"""The return-and-deregister path at the terminal: 0800 with 60.3 = 801..807.

docs/protocol.md ("Private management messages") is the contract. Data
travel in field 59 as CUP usage-tag records -- tag (2 characters), length (3
digits, counting bytes in GB18030, the field's encoding) and value -- so a
merchant's reason can be Chinese text. Each message maps to one step of the
back office's :class:`~possim.host.cases.CaseDesk`, taken as the merchant in
field 42 (``merchant:<MID>`` in the case timeline, like any merchant step).

Terminal-side unbind (806) and deregister (807) are the acquirer's steps run
at the merchant's request once the case allows them. If the case is approved
and the terminal's batches are all settled, 806 first records the
settlement on the case (approved -> settled) and then unbinds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from possim.host.cases import (
    AppealRefused, Case, CaseDesk, CaseError, CaseState, IllegalCaseTransition, NotYourCase, UnknownCase,
)
from possim.host.codes import Refusal, Situation
from possim.host.ledger import Ledger
from possim.host.merchants import BackOfficeError

FIELD59_ENCODING = "gb18030"
FIELD59_MAX_BYTES = 999

RETURN_APPLICATION = "801"
STATUS_QUERY = "802"
APPEAL = "803"
CONFIRM_REFUND = "804"
WITHDRAW = "805"
UNBIND = "806"
DEREGISTER = "807"
CODES = (RETURN_APPLICATION, STATUS_QUERY, APPEAL, CONFIRM_REFUND, WITHDRAW, UNBIND, DEREGISTER)


def parse_tags(text: str | None) -> dict[str, str]:
    """Field 59 usage tags -> {tag: value}; a malformed record is a format error (30)."""
    out: dict[str, str] = {}
    if not text:
        return out
    data = text.encode(FIELD59_ENCODING)
    pos = 0
    while pos < len(data):
        head = data[pos:pos + 5]
        if len(head) < 5 or not head[2:].isdigit():
            raise Refusal(Situation.FORMAT_ERROR, f"field 59: bad usage-tag record at byte {pos}")
        length = int(head[2:])
        value = data[pos + 5:pos + 5 + length]
        if len(value) != length:
            raise Refusal(Situation.FORMAT_ERROR,
                          f"field 59: tag {head[:2].decode(FIELD59_ENCODING)} says {length} bytes, "
                          f"{len(value)} left")
        try:
            out[head[:2].decode(FIELD59_ENCODING)] = value.decode(FIELD59_ENCODING)
        except UnicodeDecodeError:
            raise Refusal(Situation.FORMAT_ERROR, f"field 59: tag at byte {pos} is not GB18030 text") from None
        pos += 5 + length
    return out


def build_tags(items: Mapping[str, str | None]) -> str:
    """{tag: value} -> field 59; values are cut (on a character boundary) so the field fits 999 bytes."""
    out = b""
    for tag, value in items.items():
        if value is None:
            continue
        room = FIELD59_MAX_BYTES - len(out) - 5
        if room <= 0:
            break
        raw = value.encode(FIELD59_ENCODING)
        while len(raw) > room:
            value = value[:-1]
            raw = value.encode(FIELD59_ENCODING)
        out += tag.encode(FIELD59_ENCODING) + f"{len(raw):03d}".encode() + raw
    return out.decode(FIELD59_ENCODING)


@dataclass(frozen=True)
class ManagementResult:
    tags: dict[str, str]


def _case_tags(case: Case) -> dict[str, str]:
    return {"CI": str(case.id), "CS": case.state.value}


def _item(text: str) -> str:
    """One item of a ``;``-joined list: a ``;`` inside the text becomes ``,``."""
    return text.replace(";", ",")


def _status_tags(case: Case) -> dict[str, str]:
    tags = _case_tags(case)
    decision = case.decision
    if decision is not None:
        reasons = decision.reasons or decision.waived
        if reasons:
            tags["DR"] = ";".join(f"{r.code}:{_item(r.text)}" for r in reasons)
            tags["DA"] = ";".join(_item(r.advice) for r in reasons)
    if case.refund_fen is not None:
        tags["RA"] = str(case.refund_fen)
    if case.refund_due is not None:
        tags["RD"] = case.refund_due.strftime("%Y%m%d")
    return tags


class ReturnDesk:
    """Runs one 801..807 message against the case desk (inside the processor's transaction)."""

    def __init__(self, desk: CaseDesk, ledger: Ledger) -> None:
        self.desk = desk
        self.ledger = ledger

    def handle(self, code: str, tid: str, mid: str, tags: Mapping[str, str]) -> ManagementResult:
        try:
            if code == RETURN_APPLICATION:
                case = self.desk.apply(
                    mid, tid, reason=tags.get("RR", ""), contact=tags.get("RC", ""),
                    identity_proof_ref=tags.get("RI", ""), purchase_proof_ref=tags.get("RP", ""))
                return ManagementResult(_case_tags(case))
            case = self._case(tid, mid, tags)
            if code == STATUS_QUERY:
                return ManagementResult(_status_tags(case))
            if code == APPEAL:
                case = self.desk.appeal(case.id, mid, tags.get("AS", ""))
            elif code == CONFIRM_REFUND:
                case = self.desk.confirm_refund(case.id, mid, tags.get("NT", ""))
            elif code == WITHDRAW:
                case = self.desk.withdraw(case.id, mid, tags.get("NT", ""))
            elif code == UNBIND:
                case = self._unbind(case, tid)
            elif code == DEREGISTER:
                case = self.desk.deregister(case.id, f"terminal:{tid}")
            else:  # the processor routes only CODES here
                raise Refusal(Situation.NOT_SUPPORTED, f"60.3 = {code}")
            return ManagementResult(_case_tags(case))
        except UnknownCase as exc:
            raise Refusal(Situation.ORIGINAL_NOT_FOUND, str(exc)) from None
        except NotYourCase as exc:
            raise Refusal(Situation.MERCHANT_MISMATCH, str(exc)) from None
        except (IllegalCaseTransition, AppealRefused, CaseError, BackOfficeError) as exc:
            raise Refusal(Situation.INVALID_TRANSACTION, str(exc)) from None

    def _case(self, tid: str, mid: str, tags: Mapping[str, str]) -> Case:
        """The case named in ``CI``, else the terminal's latest; it must be this merchant's."""
        ci = tags.get("CI", "").strip()
        if ci:
            if not ci.isdigit():
                raise Refusal(Situation.FORMAT_ERROR, f"field 59 CI: {ci!r} is not a case number")
            case = self.desk.get_case(int(ci))
        else:
            latest = self.desk.latest_case_for_terminal(tid)
            if latest is None:
                raise Refusal(Situation.ORIGINAL_NOT_FOUND, f"terminal {tid} has no return case")
            case = latest
        if case.mid != mid:
            raise NotYourCase(case.id, mid, "act on")
        if case.tid != tid:
            raise Refusal(Situation.INVALID_TRANSACTION, f"case {case.id} is for terminal {case.tid}")
        return case

    def _unbind(self, case: Case, tid: str) -> Case:
        actor = f"terminal:{tid}"
        if case.state is CaseState.APPROVED:
            last = self.ledger.list_batches(tid)
            settled = [b.batch_no for b in last if b.settled_at is not None]
            case = self.desk.record_settlement(case.id, actor, settled[-1] if settled else "none")
        return self.desk.unbind(case.id, actor)
