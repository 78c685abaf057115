"""The functions on a POS terminal's menu, as async methods over a host link.

Every function returns a :class:`~possim.terminal.result.Result` and never
raises for something that can happen at a counter (a decline, no answer, a
refused terminal); :class:`~possim.errors.PossimError` is raised only for bad
input (an unknown voucher number, a malformed card).

The order of duties for a financial transaction is what keeps money safe:
refuse locally if the terminal may not transact; send any stored reversal
first; take a new STAN; write the request to the journal as pending; send it;
then record the outcome -- approved, declined, or a stored reversal (98 no
answer, 96 an answer that is not ours, A0 a MAC that does not verify).
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import datetime
from typing import Any, Callable

from possim.errors import PossimError
from possim.iso8583 import Dialect, Message, get_dialect
from possim.security.keys import KeyStore
from possim.terminal.config import KEY_MODES, PROFILES, TerminalConfig
from possim.terminal.hostlink import HostLink, LinkDown, NoAnswer
from possim.terminal.journal import (
    REVERSAL_BAD_RESPONSE,
    REVERSAL_MAC_ERROR,
    REVERSAL_TIMEOUT,
    Journal,
    JournalEntry,
)
from possim.terminal.messages import (
    BadResponse,
    Card,
    CupMessages,
    HostAnswer,
    MacMismatch,
    UPLOAD_LINES_PER_MESSAGE,
    parse_usage_tags,
    request_for_journal,
    settlement_result,
)
from possim.terminal.result import APPROVED, Result
from possim.terminal.reversal import ReversalQueue
from possim.terminal.state import REFUSAL_CODES, TerminalState, TerminalStatus
from possim.terminal import slips

Clock = Callable[[], datetime]
RandomBytes = Callable[[int], bytes]

# Local outcomes, as the CUP code a host would give for the same situation.
log = logging.getLogger(__name__)

PRINT_WAIT = 10.0  # seconds close() gives slips still on their way to the printer
CODE_NO_LINK = "91"
CODE_NOT_SIGNED_IN = "22"
CODE_SYSTEM = "96"
CODE_INVALID = "12"
CODE_NOT_FOUND = "25"

SETTINGS = ("operator", "response_timeout", "mac_alg", "key_mode", "profile", "balance_processing_code")
# Return-path data the host sends back in field 59 (docs/protocol.md), by the names results use.
CASE_TAGS = {"CI": "case_id", "CS": "case_state", "DR": "decision_reasons", "DA": "advice",
             "RA": "refund_fen", "RD": "refund_due"}


class Terminal:
    def __init__(self, config: TerminalConfig, journal: Journal, link: HostLink, *,
                 dialect: Dialect | None = None, clock: Clock | None = None,
                 random_bytes: RandomBytes = os.urandom,
                 printer: Callable[[bytes], object] | None = None) -> None:
        self.journal = journal
        # ``printer`` takes a slip's ESC/POS bytes (blocking I/O: it runs on a worker thread). A printer that
        # is off or out of paper does not undo a transaction; the failure is logged and the slip can be reprinted.
        self.printer = printer
        self._printing: set[asyncio.Future[object]] = set()
        self.link = link
        self.dialect = dialect or get_dialect(config.dialect)
        self.clock: Clock = clock or datetime.now
        self.random_bytes = random_bytes
        self.state = TerminalState(journal, config.tid, config.tmk)
        self.config = self._with_saved_settings(config)
        self.messages = CupMessages(self.dialect, self.config, random_bytes)
        self.reversals = ReversalQueue(journal, self.messages, link, self.clock,
                                       lambda: self.config.response_timeout)

    # --- life cycle -------------------------------------------------------

    async def start(self) -> list[dict[str, Any]]:
        """Power-on: requests a dead process left in flight become reversals, and stored ones are sent."""
        self.journal.recover(self.clock())
        if not self.journal.reversals():
            return []
        keys = self.state.keys() if self.state.signed_in else None
        return [o.to_json() for o in await self.reversals.flush(keys)]

    async def close(self) -> None:
        if self._printing:  # let slips already sent to the printer finish
            await asyncio.wait(set(self._printing), timeout=PRINT_WAIT)
        await self.link.close()
        self.journal.close()

    def _to_printer(self, escpos: bytes | None) -> None:
        if self.printer is None or not escpos:
            return
        job = asyncio.get_running_loop().run_in_executor(None, self.printer, escpos)
        self._printing.add(job)
        job.add_done_callback(self._printed)

    def _printed(self, job: asyncio.Future[object]) -> None:
        self._printing.discard(job)
        if not job.cancelled() and job.exception() is not None:
            log.warning("printer: %s (the slip is kept; reprint it)", job.exception())

    # --- helpers ----------------------------------------------------------

    def _result(self, function: str, code: str, *, local: bool = False, **values: Any) -> Result:
        return Result(function, code, self.dialect.response_text(code) or "Unknown response code",
                      local=local, **values)

    def _refusal(self, function: str, *, need_sign_in: bool = True,
                 allowed: tuple[TerminalStatus, ...] = (TerminalStatus.ACTIVE,)) -> Result | None:
        status = self.state.status
        if status not in allowed:
            return self._result(function, REFUSAL_CODES.get(status, CODE_INVALID), local=True,
                                detail=f"terminal is {status.value}; {function} refused without contacting the host")
        if need_sign_in and not self.state.signed_in:
            return self._result(function, CODE_NOT_SIGNED_IN, local=True, detail="terminal is not signed in")
        return None

    def _keys(self) -> KeyStore | None:
        return self.state.keys() if self.state.signed_in else None

    def _learn(self, answer: HostAnswer) -> None:
        """What an answer says about the terminal itself: its standing, its keys."""
        if answer.code == "97":
            self.state.set_status(TerminalStatus.DEREGISTERED)
        elif answer.code == "58":
            self.state.set_status(TerminalStatus.UNBOUND)
        if answer.sign_in_again:
            self.state.sign_out()

    async def _reversals_first(self, function: str) -> Result | None:
        """Send stored reversals; if one is still unanswered, no new transaction goes out."""
        if not self.journal.reversals():
            return None
        outcomes = await self.reversals.flush(self._keys())
        left = self.journal.reversals()
        if not left:
            return None
        last = outcomes[-1] if outcomes else None
        return self._result(function, last.code if last and last.code else REVERSAL_TIMEOUT, local=True,
                            detail=f"stored reversal of voucher {left[0].stan} not yet acknowledged by the host; "
                                   "transaction not sent",
                            data={"reversals": [o.to_json() for o in outcomes]})

    async def _exchange(self, function: str, request: Message, keys: KeyStore | None) -> HostAnswer | Result:
        """One non-financial exchange (nothing to reverse): the answer, or a local Result saying why not."""
        body = self.messages.encode(request, keys)
        try:
            answer = self.messages.read_response(await self.link.exchange(body, self.config.response_timeout),
                                                 request, keys)
        except LinkDown as exc:
            return self._result(function, CODE_NO_LINK, local=True, detail=str(exc))
        except NoAnswer as exc:
            return self._result(function, REVERSAL_TIMEOUT, local=True, detail=str(exc))
        except BadResponse as exc:
            return self._result(function, REVERSAL_BAD_RESPONSE, local=True, detail=str(exc))
        except MacMismatch as exc:
            self.state.sign_out()
            return self._result(function, REVERSAL_MAC_ERROR, local=True, detail=str(exc))
        self._learn(answer)
        return answer

    async def _financial(self, function: str, kind: str, build: Callable[[str, KeyStore], Message],
                         card: Card | None, amount_fen: int | None,
                         original: JournalEntry | None = None) -> Result:
        refused = self._refusal(function) or await self._reversals_first(function)
        if refused is not None:
            return refused
        keys = self.state.keys()
        batch = self.state.batch
        stan = self.state.next_stan()
        request = build(stan, keys)
        body = self.messages.encode(request, keys)
        entry_id = self.journal.record_pending(
            kind=kind, mti=request.mti, stan=stan, batch=batch, amount_fen=amount_fen,
            pan=card.pan if card else None, expiry=card.expiry if card else None,
            entry_mode=request.get("22"), request=request_for_journal(request), now=self.clock(),
            original_id=original.id if original else None)
        common = dict(amount_fen=amount_fen, stan=stan, batch=batch, masked_pan=card.masked if card else None)
        try:
            raw = await self.link.exchange(body, self.config.response_timeout)
        except LinkDown as exc:
            self.journal.discard(entry_id)
            return self._result(function, CODE_NO_LINK, local=True, detail=str(exc), **common)
        except NoAnswer as exc:
            return self._store_reversal(function, entry_id, REVERSAL_TIMEOUT, str(exc), common)
        try:
            answer = self.messages.read_response(raw, request, keys)
        except BadResponse as exc:
            return self._store_reversal(function, entry_id, REVERSAL_BAD_RESPONSE, str(exc), common)
        except MacMismatch as exc:
            self.state.sign_out()
            return self._store_reversal(function, entry_id, REVERSAL_MAC_ERROR, str(exc), common)
        self._learn(answer)
        values = dict(common, rrn=answer.get("37"), auth_code=answer.get("38"), host_date=answer.get("13"),
                      host_time=answer.get("12"))
        if answer.code != APPROVED:
            self.journal.decline(entry_id, code=answer.code, now=self.clock())
            return self._result(function, answer.code, **values)
        self.journal.approve(entry_id, code=answer.code, rrn=answer.get("37"), auth_code=answer.get("38"),
                             host_date=answer.get("13"), host_time=answer.get("12"), now=self.clock())
        result = self._result(function, answer.code, **values)
        if kind == "balance":
            result.balance_fen = _balance(answer.get("54"))
        else:
            self._print(result, self.journal.get(entry_id))
        return result

    def _store_reversal(self, function: str, entry_id: int, reason: str, detail: str,
                        common: dict[str, Any]) -> Result:
        self.journal.store_reversal(entry_id, reason=reason, now=self.clock())
        return self._result(function, reason, local=True, detail=f"{detail}; reversal stored", **common)

    def _print(self, result: Result, entry: JournalEntry, *, reprint: bool = False) -> None:
        original = self.journal.get(entry.original_id) if entry.original_id else None
        when = slips.transaction_time(entry, self.clock())
        rendered = slips.render(slips.sales_slip(self.config, entry, original, when, reprint=reprint), self.config)
        result.receipt_text, result.receipt_escpos = rendered.text, rendered.escpos
        self._to_printer(rendered.escpos)
        if not reprint:
            self.journal.save_receipt(entry.id, rendered.text, rendered.escpos, self.clock())

    # --- network management ----------------------------------------------

    async def sign_in(self) -> Result:
        """0800 asking for working keys (60.3 per config); keys installed only if every check value verifies."""
        refused = self._refusal("sign_in", need_sign_in=False)
        if refused is not None:
            return refused
        request = self.messages.sign_in(self.state.next_stan(), self.state.batch)
        answer = await self._exchange("sign_in", request, None)
        if isinstance(answer, Result):
            return answer
        if answer.code != APPROVED:
            return self._result("sign_in", answer.code)
        field62 = answer.get("62")
        try:
            if field62 is None:
                raise PossimError("field 62 (working keys) is absent")
            keys = KeyStore(self.config.tid, self.config.tmk).apply_field62(self.config.key_mode,
                                                                             bytes.fromhex(field62))
        except PossimError as exc:  # KeyCheckError among them: a wrong key is never installed
            self.state.sign_out()
            return self._result("sign_in", CODE_SYSTEM, local=True, detail=f"sign-in failed: {exc}")
        self.state.install_keys(keys)
        result = self._result("sign_in", APPROVED, batch=self.state.batch,
                              data={"key_mode": keys.key_mode, "keys": repr(keys)})
        outcomes = await self.reversals.flush(keys) if self.journal.reversals() else []
        if outcomes:
            result.data["reversals"] = [o.to_json() for o in outcomes]
        return result

    async def sign_off(self) -> Result:
        refused = self._refusal("sign_off", allowed=tuple(TerminalStatus))
        if refused is not None:
            return refused
        answer = await self._exchange("sign_off", self.messages.sign_off(self.state.next_stan(), self.state.batch),
                                      self._keys())
        if isinstance(answer, Result):
            return answer
        if answer.code == APPROVED:
            self.state.sign_out()
        return self._result("sign_off", answer.code)

    async def echo(self) -> Result:
        answer = await self._exchange("echo", self.messages.echo(self.state.next_stan(), self.state.batch),
                                      self._keys())
        return answer if isinstance(answer, Result) else self._result("echo", answer.code)

    async def send_reversals(self) -> Result:
        """Send the stored reversals now (the terminal also does it before each transaction)."""
        if not self.journal.reversals():
            return self._result("reversal", APPROVED, local=True, detail="no stored reversal",
                                data={"reversals": []})
        outcomes = await self.reversals.flush(self._keys())
        left = self.journal.reversals()
        code = APPROVED if not left else (outcomes[-1].code or REVERSAL_TIMEOUT)
        return self._result("reversal", code, local=bool(left),
                            detail=f"{len(left)} reversal(s) still stored" if left else None,
                            data={"reversals": [o.to_json() for o in outcomes]})

    # --- financial ---------------------------------------------------------

    async def purchase(self, amount_fen: int, card: Card, pin: str | None = None) -> Result:
        _check_amount(amount_fen)
        return await self._financial(
            "purchase", "purchase",
            lambda stan, keys: self.messages.purchase(stan, self.state.batch, amount_fen, card, pin, keys),
            card, amount_fen)

    async def void(self, voucher_no: str, card: Card | None = None, pin: str | None = None) -> Result:
        """Void a purchase of the open batch by its voucher no.; the card is the one on file unless given."""
        original = self.journal.find(stan=_voucher(voucher_no), batch=self.state.batch, kind="purchase")
        if original is None:
            return self._result("void", CODE_NOT_FOUND, local=True,
                                detail=f"no purchase with voucher no. {voucher_no} in batch {self.state.batch}")
        if original.status != "approved":
            return self._result("void", CODE_INVALID, local=True,
                                detail=f"voucher no. {voucher_no} is {original.status}, only an approved purchase "
                                       "can be voided")
        if card is None:
            if not (original.pan and original.expiry):
                raise PossimError(f"void: voucher {voucher_no}: no card on file, give the card")
            card = Card(original.pan, original.expiry)
        if card.pan != original.pan:
            return self._result("void", "14", local=True, detail="the card is not the one of the original purchase")
        used = card
        return await self._financial(
            "void", "void",
            lambda stan, keys: self.messages.void(stan, self.state.batch, original, used, pin, keys),
            card, original.amount_fen, original)

    async def refund(self, amount_fen: int, card: Card, original_rrn: str, original_date: str,
                     pin: str | None = None) -> Result:
        """Refund against a purchase identified by its reference no. (37) and date (MMDD)."""
        _check_amount(amount_fen)
        if len(original_rrn) != 12:
            raise PossimError(f"refund: original reference no. must be 12 characters, got {len(original_rrn)}")
        if not (len(original_date) == 4 and original_date.isdigit()):
            raise PossimError(f"refund: original date must be MMDD, got {original_date!r}")
        known = self.journal.find(rrn=original_rrn, kind="purchase")
        batch_no, stan_no = (known.batch, known.stan) if known else ("000000", "000000")
        return await self._financial(
            "refund", "refund",
            lambda stan, keys: self.messages.refund(stan, self.state.batch, amount_fen, card, original_rrn,
                                                    original_date, keys, batch_no, stan_no, pin),
            card, amount_fen, known)

    async def balance(self, card: Card, pin: str | None = None) -> Result:
        return await self._financial(
            "balance", "balance",
            lambda stan, keys: self.messages.balance(stan, self.state.batch, card, pin, keys),
            card, None)

    # --- settlement --------------------------------------------------------

    async def settle(self) -> Result:
        """0500 with the batch totals; if the host's figures differ, upload the batch (0320 ... 202)."""
        refused = self._refusal("settle") or await self._reversals_first("settle")
        if refused is not None:
            return refused
        keys = self.state.keys()
        batch = self.state.batch
        totals = self.journal.totals(batch)
        data: dict[str, Any] = {"totals": {"debit_fen": totals.debit_fen, "debit_count": totals.debit_count,
                                           "credit_fen": totals.credit_fen, "credit_count": totals.credit_count}}
        answer = await self._exchange("settle", self.messages.settlement(self.state.next_stan(), batch, totals), keys)
        if isinstance(answer, Result):
            answer.batch, answer.data = batch, data
            return answer
        if answer.code != APPROVED:
            return self._result("settle", answer.code, batch=batch, data=data)
        digit = settlement_result(answer.get("48"))
        data["balanced"] = digit == "1"
        data["host_result"] = digit
        if digit != "1":
            uploaded = await self._upload_batch(batch, keys)
            if isinstance(uploaded, Result):
                uploaded.batch, uploaded.data = batch, {**data, **uploaded.data}
                return uploaded
            data["uploaded"] = uploaded
        new_batch = self.state.close_batch()
        data["next_batch"] = new_batch
        result = self._result("settle", APPROVED, batch=batch, data=data)
        slip = slips.settlement_slip(self.config, batch, totals, data["balanced"], self.clock().replace(microsecond=0))
        rendered = slips.render(slip, self.config)
        result.receipt_text, result.receipt_escpos = rendered.text, rendered.escpos
        self._to_printer(rendered.escpos)
        self.journal.save_receipt(None, rendered.text, rendered.escpos, self.clock())
        return result

    async def _upload_batch(self, batch: str, keys: KeyStore) -> int | Result:
        lines = self.journal.batch_lines(batch)
        for start in range(0, len(lines), UPLOAD_LINES_PER_MESSAGE):
            chunk = lines[start:start + UPLOAD_LINES_PER_MESSAGE]
            answer = await self._exchange("settle", self.messages.batch_upload(self.state.next_stan(), batch, chunk),
                                          keys)
            if isinstance(answer, Result) or answer.code != APPROVED:
                return self._upload_failed(answer, start)
        answer = await self._exchange("settle", self.messages.batch_upload_end(self.state.next_stan(), batch,
                                                                             len(lines)), keys)
        if isinstance(answer, Result) or answer.code != APPROVED:
            return self._upload_failed(answer, len(lines))
        return len(lines)

    def _upload_failed(self, answer: HostAnswer | Result, done: int) -> Result:
        result = answer if isinstance(answer, Result) else self._result("settle", answer.code)
        result.detail = f"batch upload stopped after {done} line(s): {result.detail or result.message}"
        result.data = {"uploaded": done}
        return result

    # --- local functions ---------------------------------------------------

    async def records(self, batch: str | None = None, limit: int = 50) -> Result:
        entries = self.journal.records(batch=batch, limit=limit)
        return self._result("records", APPROVED, local=True, batch=batch,
                            data={"records": [e.to_json() for e in entries]})

    async def query(self, voucher_no: str, batch: str | None = None) -> Result:
        """One transaction from the journal by voucher no. (the ECR's "query")."""
        entry = self.journal.find(stan=_voucher(voucher_no), batch=batch)
        if entry is None:
            return self._result("query", CODE_NOT_FOUND, local=True, detail=f"no voucher no. {voucher_no}")
        return self._result("query", entry.response_code or CODE_NOT_FOUND, local=True,
                            amount_fen=entry.amount_fen, stan=entry.stan, batch=entry.batch, rrn=entry.rrn,
                            auth_code=entry.auth_code, masked_pan=entry.masked_pan, host_date=entry.host_date,
                            host_time=entry.host_time, data={"record": entry.to_json()})

    async def reprint(self) -> Result:
        stored = self.journal.last_receipt()
        if stored is None:
            return self._result("reprint", CODE_NOT_FOUND, local=True, detail="nothing printed yet")
        result = self._result("reprint", APPROVED, local=True)
        if stored.transaction_id is not None:
            entry = self.journal.get(stored.transaction_id)
            result.stan, result.batch, result.amount_fen = entry.stan, entry.batch, entry.amount_fen
            result.masked_pan, result.rrn, result.auth_code = entry.masked_pan, entry.rrn, entry.auth_code
            self._print(result, entry, reprint=True)
        else:
            result.receipt_text, result.receipt_escpos = stored.text, stored.escpos
            self._to_printer(stored.escpos)
        return result

    async def status(self) -> Result:
        return self._result("status", APPROVED, local=True, batch=self.state.batch, data={
            "status": self.state.status.value, "signed_in": self.state.signed_in,
            "last_stan": self.state.last_stan, "case_id": self.state.case_id,
            "stored_reversals": len(self.journal.reversals()), "keys": repr(self.state.keys())})

    async def settings(self, **changes: Any) -> Result:
        """Show or change the settings an operator may change at the terminal; persisted in the journal."""
        for name, value in changes.items():
            if value is None:
                continue
            if name == "status":
                self.state.set_status(TerminalStatus(value))
                continue
            if name not in SETTINGS:
                raise PossimError(f"settings: {name!r} cannot be changed; changeable: {', '.join(SETTINGS)}, status")
            self._apply_setting(name, str(value))
            self.journal.set_state(**{f"setting.{name}": str(value)})
        return self._result("settings", APPROVED, local=True,
                            data={"settings": self.config.to_json(), "status": self.state.status.value})

    def _apply_setting(self, name: str, value: str) -> None:
        converted: Any = float(value) if name == "response_timeout" else value
        if name == "key_mode" and value not in KEY_MODES or name == "profile" and value not in PROFILES:
            raise PossimError(f"settings: {name} {value!r} is not allowed")
        self.config = self.config.with_changes(**{name: converted})
        self.messages = CupMessages(self.dialect, self.config, self.random_bytes)
        self.reversals.messages = self.messages

    def _with_saved_settings(self, config: TerminalConfig) -> TerminalConfig:
        for name in SETTINGS:
            saved = self.journal.get_state(f"setting.{name}")
            if saved is not None:
                config = config.with_changes(**{name: float(saved) if name == "response_timeout" else saved})
        return config

    # --- the return-and-deregister path ------------------------------------

    async def _return_step(self, function: str, step: str, tags: dict[str, str | None],
                           allowed: tuple[TerminalStatus, ...]) -> Result:
        refused = self._refusal(function, allowed=allowed)
        if refused is not None:
            return refused
        request = self.messages.return_step(step, self.state.next_stan(), self.state.batch,
                                            {k: v for k, v in tags.items() if v})
        answer = await self._exchange(function, request, self.state.keys())
        if isinstance(answer, Result):
            return answer
        data: dict[str, Any] = {}
        try:
            found = parse_usage_tags(answer.get("59") or "")
        except BadResponse as exc:
            return self._result(function, REVERSAL_BAD_RESPONSE, local=True, detail=str(exc))
        for tag, value in found.items():
            data[CASE_TAGS.get(tag, tag)] = value
        if "refund_fen" in data and str(data["refund_fen"]).isdigit():
            data["refund_fen"] = int(data["refund_fen"])
        if data.get("case_id"):
            self.state.set_case_id(str(data["case_id"]))
        if answer.code == APPROVED and step == "unbind":
            self.state.set_status(TerminalStatus.UNBOUND)
        elif answer.code == APPROVED and step == "deregister":
            self.state.set_status(TerminalStatus.DEREGISTERED)
        return self._result(function, answer.code, detail=data.get("decision_reasons"), data=data)

    def _case(self, case_id: str | None) -> str | None:
        return case_id or self.state.case_id

    async def return_apply(self, reason: str, contact: str | None = None, identity_proof_ref: str | None = None,
                           purchase_proof_ref: str | None = None) -> Result:
        return await self._return_step("return_apply", "return_apply",
                                       {"RR": reason, "RC": contact, "RI": identity_proof_ref,
                                        "RP": purchase_proof_ref}, (TerminalStatus.ACTIVE,))

    async def return_status(self, case_id: str | None = None) -> Result:
        return await self._return_step("return_status", "return_status", {"CI": self._case(case_id)},
                                       tuple(TerminalStatus))

    async def return_appeal(self, statement: str, case_id: str | None = None) -> Result:
        return await self._return_step("return_appeal", "return_appeal",
                                       {"CI": self._case(case_id), "AS": statement},
                                       (TerminalStatus.ACTIVE, TerminalStatus.UNBOUND))

    async def refund_confirm(self, case_id: str | None = None) -> Result:
        return await self._return_step("refund_confirm", "refund_confirm", {"CI": self._case(case_id)},
                                       tuple(TerminalStatus))

    async def return_withdraw(self, case_id: str | None = None) -> Result:
        return await self._return_step("return_withdraw", "return_withdraw", {"CI": self._case(case_id)},
                                       (TerminalStatus.ACTIVE,))

    async def unbind(self, case_id: str | None = None) -> Result:
        return await self._return_step("unbind", "unbind", {"CI": self._case(case_id)}, (TerminalStatus.ACTIVE,))

    async def deregister(self, case_id: str | None = None) -> Result:
        return await self._return_step("deregister", "deregister", {"CI": self._case(case_id)},
                                       (TerminalStatus.ACTIVE, TerminalStatus.UNBOUND))


def _check_amount(amount_fen: int) -> None:
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or not 0 < amount_fen < 10**12:
        raise PossimError(f"amount: expected 1 to 999999999999 fen, got {amount_fen!r}")


def _voucher(voucher_no: str) -> str:
    text = str(voucher_no).strip()
    if not text.isdigit() or len(text) > 6:
        raise PossimError(f"voucher no.: expected up to 6 digits, got {voucher_no!r}")
    return f"{int(text):06d}"


def _balance(field54: str | None) -> int | None:
    """Field 54 balance blocks (20 characters: account type 2, amount type 2, currency 3, sign C/D, amount 12)."""
    if not field54 or len(field54) < 20:
        return None
    block = field54[:20]
    amount = block[8:20]
    if not amount.isdigit():
        return None
    return -int(amount) if block[7] == "D" else int(amount)
