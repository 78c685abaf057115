"""The acquirer host's brain: one request message in, one response message out.

Sans-IO: no sockets, no wall clock (time from the injected ``Clock``), no
``os.urandom`` unless that is the random source passed in. The server feeds
it bytes and writes back what it returns; a test can call it directly.

Durability rule: a response is built only after the ledger change it
reports is committed. :meth:`Processor.handle_batch` runs a group of
requests in one SQLite transaction (a savepoint each, so one failing request
cannot spoil the others), commits once, and only then returns the responses
-- the group commit that lets many terminals share one fsync.

Checks, in order (docs/protocol.md "Refusals and response codes"):
format of 11/41/42/60 (30) -> the function is known (40) -> the terminal is
registered, bound, to this merchant (97/58/03) -> signed in (22) -> MAC (A0)
-> batch (77) -> duplicate STAN (94) -> the transaction's own checks.
"""

from __future__ import annotations

import hmac
import logging
import os
import sqlite3
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import NamedTuple

from possim.errors import PossimError
from possim.host.cards import Authorizer, PresentedCard, parse_amount, presented_card
from possim.host.cases import CaseDesk, CaseError, CaseState
from possim.host.clock import HOST_TZ, Clock, local_date
from possim.host.codes import SIGN_IN_AGAIN, Refusal, Situation, code_for
from possim.host.config import HostConfig
from possim.host.db import transaction
from possim.host.keys import KeySessions, PreinstalledKeys, Session
from possim.host.ledger import Ledger, Txn
from possim.host.management import CODES as MANAGEMENT_CODES
from possim.host.management import ReturnDesk, build_tags, parse_tags
from possim.host.merchants import MerchantRegistry, TerminalState, TerminalStatus, UnknownMerchant
from possim.host.policy import SqliteFactsProvider
from possim.host.seed import seed_database
from possim.host.settlement import (
    RESULT_BALANCED, RESULT_UNBALANCED, parse_field48, parse_upload,
)
from possim.iso8583 import Dialect, Message
from possim.iso8583.errors import DecodeError, EncodeError
from possim.link.tpdu import reply_tpdu
from possim.security.mac import compute_mac
from possim.security.message import MAC_LENGTH

log = logging.getLogger(__name__)

RandomBytes = Callable[[int], bytes]

SIGN_IN_MODES = ("001", "003", "004")
#: Request fields copied into every response when present.
ECHO_FIELDS = ("2", "3", "4", "11", "14", "22", "25", "41", "42", "49", "60", "61")
CARD_ORGANISATION = "CUP"


class Response(NamedTuple):
    """A response message and its encoded body (what goes on the wire, signed). A named tuple:
    one is made for every request."""

    message: Message
    body: bytes


_APPROVED = code_for(Situation.APPROVED)
_MAC_ERROR = code_for(Situation.MAC_ERROR)
_SYSTEM_ERROR = code_for(Situation.SYSTEM_ERROR)
#: Authorisation codes drawn from the random source in one call.
_AUTH_CODES_AT_ONCE = 64
#: Most entries kept in a processor's memo of subfield values (and of field sets whose last field is the MAC).
_MEMO_SIZE = 4096


class _Ctx:
    """One request being processed."""

    __slots__ = ("msg", "body", "now", "tid", "mid", "stan", "session", "mac_ok", "fields", "after_commit",
                 "_subfields")

    def __init__(self, msg: Message, body: bytes, now: datetime,
                 subfields: dict[tuple[str, str], str | None]) -> None:
        self.msg = msg
        self.body = body
        self.now = now
        get = msg.fields.get
        self.tid: str = get("41") or ""
        self.mid: str = get("42") or ""
        self.stan: str = get("11") or ""
        self.session: Session | None = None
        self.mac_ok = False
        self.fields: dict[str, str] = {}
        self.after_commit: list[Callable[[], None]] | None = None
        self._subfields = subfields

    def later(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` once the request's changes are committed."""
        if self.after_commit is None:
            self.after_commit = []
        self.after_commit.append(hook)

    def sub(self, path: str) -> str | None:
        """A subfield of the request (``60.1``). Its value depends only on the field's value, which
        repeats from request to request (60 is mostly the same few strings), so the processor keeps
        what it parsed, keyed by path and field value."""
        raw = self.msg.fields.get(path[:path.index(".")])
        if raw is None:
            return None
        key = (path, raw)
        memo = self._subfields
        try:
            return memo[key]
        except KeyError:
            if len(memo) >= _MEMO_SIZE:
                memo.clear()
            value = memo[key] = self.msg.get(path)
            return value


Handler = Callable[[_Ctx], None]


class Processor:
    """Answers requests for every terminal of one acquirer.

    One connection, used from one thread (the server's database thread);
    build it in that thread."""

    def __init__(self, conn: sqlite3.Connection, config: HostConfig, dialect: Dialect, clock: Clock, *,
                 random_bytes: RandomBytes = os.urandom, preinstalled: PreinstalledKeys | None = None) -> None:
        self.conn = conn
        self.config = config
        self.dialect = dialect
        self.clock = clock
        self.random_bytes = random_bytes
        self.preinstalled = preinstalled
        self.facts = SqliteFactsProvider(conn, clock)
        self.ledger = Ledger(conn, self.facts)
        self.registry = MerchantRegistry(conn, clock)
        self.desk = CaseDesk(conn, clock, config.return_policy, facts=self.facts, registry=self.registry)
        self.return_desk = ReturnDesk(self.desk, self.ledger)
        self.authorizer = Authorizer(self.ledger, config)
        seed_database(conn, config, clock, self.ledger)
        self.sessions = KeySessions(conn, config, random_bytes, preinstalled)
        self.balance_codes = frozenset(config.defaults.balance_processing_codes)
        # Read caches (terminal states here, accounts and open batches in the ledger): the database
        # stays the truth. They are dropped whenever anything else may have written: another
        # connection committed (PRAGMA data_version moved), someone wrote through this connection
        # between groups (total_changes moved), a request was rolled back, or a request other than
        # a financial one ran (the back office and sign-in paths change terminals and cases).
        self._terminal_status: dict[str, TerminalStatus] = {}
        self._data_version = -1
        self._changes_seen = -1
        self._reply_tpdus: dict[str, str] = {}
        self._host_clock: tuple[datetime, str, str, str] | None = None
        self._subfields: dict[tuple[str, str], str | None] = {}
        self._auth_codes: list[str] = []  # drawn ahead from the random source, used from the end
        self._mac_last: dict[tuple[str, ...], bool] = {}  # a request's field numbers -> the MAC field is last
        self._mac_offset = dialect.mac_offset
        self._mac_size = dialect.mac_size
        acq = config.acquirer
        self._field44 = f"{acq.issuer_id:<11}{acq.institution_id:<11}"
        # A request's savepoint is opened at its first write (``_open_savepoint``): a purchase
        # whose writes are all held by the ledger until the group ends needs none.
        self._in_request = False  # a request of a group is being processed (savepoints wanted)
        self._savepoint = False  # its savepoint is open
        self.ledger.before_write = self._open_savepoint
        self._routes: dict[str, Callable[[_Ctx], tuple[Handler, str] | None]] = {
            "0800": self._route_0800, "0820": self._route_0820, "0200": self._route_0200,
            "0220": self._route_0220, "0400": self._route_0400, "0500": self._route_0500,
            "0320": self._route_0320,
        }

    # -- entry points ---------------------------------------------------------------

    def handle(self, request: bytes | Message, now: datetime | None = None) -> Message | None:
        """The response to one request (committed before it is returned), or None if nothing can be answered."""
        body = self.dialect.encode(request) if isinstance(request, Message) else request
        response = self.handle_batch([body], now)[0]
        return None if response is None else response.message

    def handle_batch(self, bodies: Sequence[bytes], now: datetime | None = None) -> list[Response | None]:
        """Process several requests in one database transaction; return their responses after the commit."""
        now = now or self.clock.now()
        # A savepoint per request lets one failing request be undone alone; a group of one needs
        # none (unless a caller's transaction is open): undoing the whole transaction is the same.
        alone = len(bodies) == 1 and not self.conn.in_transaction
        ledger = self.ledger
        try:
            with transaction(self.conn):
                self._check_caches()
                ledger.hold()
                try:
                    results = [self._request(body, now, alone) for body in bodies]
                    ledger.write_held()  # the group's held writes and counters, before the commit
                except BaseException:
                    ledger.drop_held()
                    raise
            self._changes_seen = self.conn.total_changes  # after the held writes are written and committed
        except BaseException:  # the commit failed: what the caches learnt may not be in the database
            self._clear_caches()
            raise
        out: list[Response | None] = []
        for ctx in results:
            if ctx is None:
                out.append(None)
                continue
            try:
                if ctx.after_commit:
                    for hook in ctx.after_commit:
                        hook()
                out.append(self._finish(ctx))
            except Exception:  # a bug after the commit: this request's change stands, the others' answers go out
                log.exception("terminal %s STAN %s: committed, but its response could not be built; not answered "
                              "(the terminal will reverse it)", ctx.tid, ctx.stan)
                out.append(None)
        return out

    def _request(self, body: bytes, now: datetime, alone: bool) -> _Ctx | None:
        """One request of a group; a failure (a bug, a database fault) is answered 96 and undone alone."""
        mark = self.ledger.request_mark()
        changes = self.conn.total_changes
        self._in_request = not alone
        self._savepoint = False
        try:
            ctx = self._process(body, now)
            if self._savepoint:
                self.conn.execute("RELEASE request")
            return ctx
        except Exception:
            log.exception("request of %d bytes failed; answering %s", len(body), _SYSTEM_ERROR)
            self._terminal_status.clear()
            if alone:
                self.ledger.clear_cache()
                self.conn.rollback()
            elif self._savepoint:
                self.conn.execute("ROLLBACK TO request")
                self.conn.execute("RELEASE request")
                self.ledger.undo_request(mark)
            elif self.conn.total_changes != changes:
                # Written without a savepoint: this request cannot be undone alone, so the group is not committed.
                raise PossimError("host: a request failed after writing outside its savepoint; "
                                  "the whole group is rolled back") from None
            else:
                self.ledger.undo_request(mark)
            return self._system_error(body, now)
        finally:
            self._in_request = False
            self._savepoint = False

    def _open_savepoint(self) -> None:
        """Before a request's first write: its savepoint, so that it alone can be undone."""
        if self._in_request and not self._savepoint:
            self.conn.execute("SAVEPOINT request")
            self._savepoint = True

    # -- read caches --------------------------------------------------------------------

    def _check_caches(self) -> None:
        """At the start of a group (write lock held): drop the caches if anyone else wrote since."""
        version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._data_version or self.conn.total_changes != self._changes_seen:
            self._clear_caches()
            self._data_version = version

    def _clear_caches(self) -> None:
        self._terminal_status.clear()
        self.ledger.clear_cache()

    def _status(self, tid: str) -> TerminalStatus:
        status = self._terminal_status.get(tid)
        if status is None:
            status = self._terminal_status[tid] = self.registry.terminal_status(tid)
        return status

    # -- the pipeline -----------------------------------------------------------------

    def _decode(self, body: bytes) -> Message | None:
        try:
            msg = self.dialect.decode(body)
        except DecodeError as exc:
            log.warning("undecodable request of %d bytes: %s", len(body), exc)
            return None
        if not msg.is_request():
            log.warning("MTI %s is not a request; not answered", msg.mti)
            return None
        return msg

    def _context(self, msg: Message, body: bytes, now: datetime) -> _Ctx:
        return _Ctx(msg, body, now, self._subfields)

    def _process(self, body: bytes, now: datetime) -> _Ctx | None:
        msg = self._decode(body)
        if msg is None:
            return None
        ctx = self._context(msg, body, now)
        try:
            self._check_format(ctx)
            self._verify_mac(ctx)
            handler, kind = self._route(ctx)
            self._check_terminal(ctx, kind)
            if kind != "sign_in":
                if ctx.session is None:
                    raise Refusal(Situation.NOT_SIGNED_IN, f"terminal {ctx.tid} is not signed in")
                if not ctx.mac_ok:
                    raise Refusal(Situation.MAC_ERROR, "field 64 absent" if "64" not in msg else "MAC does not verify")
            if kind != "financial":
                self._terminal_status.clear()  # management and settlement may move terminals
                self._open_savepoint()  # they write through the registry, the case desk, the key sessions
            handler(ctx)
            if "39" not in ctx.fields:
                ctx.fields["39"] = _APPROVED
        except Refusal as refusal:
            ctx.fields["39"] = refusal.code
            if refusal.detail and log.isEnabledFor(logging.INFO):
                log.info("terminal %s STAN %s: %s (%s)", ctx.tid, ctx.stan, refusal.code, refusal.detail)
            if msg.mti == "0800" and ctx.sub("60.3") in MANAGEMENT_CODES:
                ctx.fields["59"] = build_tags({"DR": refusal.detail or refusal.situation.value})
        return ctx

    def _system_error(self, body: bytes, now: datetime) -> _Ctx | None:
        msg = self._decode(body)
        if msg is None:
            return None
        ctx = self._context(msg, body, now)
        ctx.fields["39"] = _SYSTEM_ERROR
        return ctx

    @staticmethod
    def _check_format(ctx: _Ctx) -> None:
        if not (ctx.stan.isdigit() and len(ctx.stan) == 6):
            raise Refusal(Situation.FORMAT_ERROR, "field 11 (STAN) is required")
        if len(ctx.tid) != 8:
            raise Refusal(Situation.FORMAT_ERROR, "field 41 (TID) is required")
        if len(ctx.mid) != 15:
            raise Refusal(Situation.FORMAT_ERROR, "field 42 (MID) is required")
        if len(ctx.sub("60.1") or "") != 2:
            raise Refusal(Situation.FORMAT_ERROR, "field 60 (60.1 transaction type) is required")

    def _verify_mac(self, ctx: _Ctx) -> None:
        """Note whether the MAC verifies under the terminal's session (refused later, in order)."""
        session = ctx.session = self.sessions.get(ctx.tid)
        fields = ctx.msg.fields
        if session is None or "64" not in fields:
            return
        numbers = tuple(fields)
        last = self._mac_last.get(numbers)
        if last is None:
            if len(self._mac_last) >= _MEMO_SIZE:
                self._mac_last.clear()
            last = self._mac_last[numbers] = max(map(int, numbers)) == self.dialect.mac_field
        if not last:
            log.info("terminal %s: field 64 is not the last field", ctx.tid)
            return
        body = ctx.body
        try:
            expected = compute_mac(session.mac_algorithm, session.mak, self._mac_block(body))
        except PossimError as exc:
            log.info("terminal %s: MAC not checkable: %s", ctx.tid, exc)
            return
        ctx.mac_ok = hmac.compare_digest(expected, self._mac_on_wire(body))

    def _mac_block(self, body: bytes) -> bytes:
        """What the MAC covers, for a message already decoded with the MAC field last
        (the same bytes as ``Dialect.mac_input``, without decoding the message again)."""
        return body[self._mac_offset:len(body) - self._mac_size]

    def _mac_on_wire(self, body: bytes) -> bytes:
        raw = body[len(body) - self._mac_size:]
        return raw if len(raw) == MAC_LENGTH else bytes.fromhex(raw.decode("ascii", "replace") or "00")

    def _route(self, ctx: _Ctx) -> tuple[Handler, str]:
        mti = ctx.msg.mti
        route = self._routes.get(mti)
        found = route(ctx) if route is not None else None
        if found is None:
            raise Refusal(Situation.NOT_SUPPORTED,
                          f"MTI {mti}, processing code {ctx.msg.get('3')}, 60.1 {ctx.sub('60.1')}, "
                          f"60.3 {ctx.sub('60.3')} not supported")
        return found

    def _route_0800(self, ctx: _Ctx) -> tuple[Handler, str] | None:
        nmi = ctx.sub("60.3")
        return ((self._sign_in, "sign_in") if nmi in SIGN_IN_MODES else
                (self._parameters, "network") if nmi == "360" else
                (self._management, "management") if nmi in MANAGEMENT_CODES else None)

    def _route_0820(self, ctx: _Ctx) -> tuple[Handler, str] | None:
        nmi = ctx.sub("60.3")
        return ((self._sign_off, "network") if nmi == "002" else
                (self._echo, "network") if nmi == "301" else None)

    def _route_0200(self, ctx: _Ctx) -> tuple[Handler, str] | None:
        pcode, ttype = ctx.msg.fields.get("3"), ctx.sub("60.1")
        return ((self._purchase, "financial") if (pcode, ttype) == ("000000", "22") else
                (self._void, "financial") if (pcode, ttype) == ("200000", "23") else
                (self._balance, "financial") if pcode in self.balance_codes and ttype == "01" else None)

    def _route_0220(self, ctx: _Ctx) -> tuple[Handler, str] | None:
        return (self._refund, "financial") if (ctx.msg.fields.get("3"), ctx.sub("60.1")) == ("200000", "25") else None

    def _route_0400(self, ctx: _Ctx) -> tuple[Handler, str] | None:
        return (self._reversal, "financial") if ctx.sub("60.1") in _REVERSIBLE else None

    def _route_0500(self, ctx: _Ctx) -> tuple[Handler, str] | None:
        return (self._settlement, "settlement") if ctx.sub("60.3") == "201" else None

    def _route_0320(self, ctx: _Ctx) -> tuple[Handler, str] | None:
        nmi = ctx.sub("60.3")
        return ((self._batch_upload, "settlement") if nmi == "201" else
                (self._upload_end, "settlement") if nmi in ("202", "207") else None)

    def _check_terminal(self, ctx: _Ctx, kind: str) -> None:
        status = self._status(ctx.tid)
        if status.state is None and self.preinstalled is not None and self.preinstalled.accept_any_terminal:
            self._open_savepoint()
            self._adopt_terminal(ctx)
            self._terminal_status.pop(ctx.tid, None)
            status = self._status(ctx.tid)
        if status.state is None:
            raise Refusal(Situation.TERMINAL_UNKNOWN, f"terminal {ctx.tid} is not registered")
        if kind == "management":
            return  # a returned terminal still talks to the return desk; the case checks the merchant
        if status.state is TerminalState.DEREGISTERED:
            raise Refusal(Situation.TERMINAL_UNKNOWN, f"terminal {ctx.tid} is deregistered")
        if not status.may_transact:
            raise Refusal(Situation.TERMINAL_UNBOUND, f"terminal {ctx.tid} is {status.state.value}")
        if status.mid != ctx.mid:
            raise Refusal(Situation.MERCHANT_MISMATCH, f"terminal {ctx.tid} is bound to another merchant")

    def _adopt_terminal(self, ctx: _Ctx) -> None:
        """--accept-any-terminal: a terminal never configured is registered and bound to the MID it sends."""
        try:
            self.registry.merchant(ctx.mid)
        except UnknownMerchant:
            self.registry.add_merchant(ctx.mid, f"merchant {ctx.mid}", deposit_fen=0, deposit_refundable=True,
                                       contract_start=local_date(ctx.now), fee_schedule="standard")
        self.registry.register_terminal(ctx.tid, tmk_ref=None)
        self.registry.bind(ctx.tid, ctx.mid)

    # -- building the response ------------------------------------------------------------

    def _finish(self, ctx: _Ctx) -> Response:
        msg = ctx.msg
        fields = {k: msg.fields[k] for k in ECHO_FIELDS if k in msg.fields}
        fields.update(ctx.fields)
        code = fields["39"]
        header = msg.header
        if header is not None and len(header) >= 6:
            header = header[:5] + ("3" if code in SIGN_IN_AGAIN else "0") + header[6:]
        tpdu = msg.tpdu
        if tpdu is not None:
            tpdu = self._reply_tpdu(tpdu)
        sign = ctx.mac_ok and ctx.session is not None and code != _MAC_ERROR
        if sign:
            fields["64"] = "00" * 8
        response = self.dialect.message(msg.response_mti(), fields, tpdu=tpdu, header=header)
        try:
            body = self.dialect.encode(response)
        except EncodeError:
            log.exception("response to terminal %s STAN %s does not encode", ctx.tid, ctx.stan)
            for key in ctx.fields:  # fall back to the bare refusal
                response.fields.pop(key, None)
            response.fields["39"] = _SYSTEM_ERROR
            body = self.dialect.encode(response)
        if sign:
            assert ctx.session is not None
            mac = compute_mac(ctx.session.mac_algorithm, ctx.session.mak, self._mac_block(body))
            wire = mac if self._mac_size == MAC_LENGTH else mac.hex().upper().encode("ascii")
            body = body[:len(body) - self._mac_size] + wire
            response.fields["64"] = mac.hex().upper()
        return Response(response, body)

    def _reply_tpdu(self, tpdu: str) -> str:
        """The response TPDU (source and destination swapped); a host sees few distinct ones, so keep them."""
        reply = self._reply_tpdus.get(tpdu)
        if reply is None:
            reply = str(reply_tpdu(tpdu, expected_id=None))
            if len(self._reply_tpdus) >= 1024:
                self._reply_tpdus.clear()
            self._reply_tpdus[tpdu] = reply
        return reply

    def _host_time(self, ctx: _Ctx, *, settlement_date: bool = True) -> None:
        clock = self._host_clock
        now = ctx.now
        if clock is None or (clock[0] is not now and clock[0] != now):  # a group shares one ``now``: format it once
            local = now.astimezone(HOST_TZ)
            day = f"{local.month:02d}{local.day:02d}"
            clock = self._host_clock = (now, f"{local.hour:02d}{local.minute:02d}{local.second:02d}", day, day)
        fields = ctx.fields
        fields["12"] = clock[1]
        fields["13"] = clock[2]
        if settlement_date:
            fields["15"] = clock[3]
        fields["32"] = self.config.acquirer.institution_id

    def _auth_code(self) -> str:
        """Six random digits. The random source is asked for many codes' bytes at once (one call, one
        system call with ``os.urandom``, per 64 approvals instead of one each)."""
        codes = self._auth_codes
        if not codes:
            raw = self.random_bytes(4 * _AUTH_CODES_AT_ONCE)
            codes = self._auth_codes = [f"{int.from_bytes(raw[i:i + 4], 'big') % 1_000_000:06d}"
                                        for i in range(0, len(raw) - 3, 4)]
        return codes.pop()

    # -- network management -------------------------------------------------------------

    def _sign_in(self, ctx: _Ctx) -> None:
        mode = ctx.sub("60.3") or ""
        if self.sessions.tmk(ctx.tid) is None:
            raise Refusal(Situation.TERMINAL_UNKNOWN, f"no TMK configured for terminal {ctx.tid}")
        session, field62 = self.sessions.sign_in(ctx.tid, mode, ctx.now, ctx.msg.get("63"))
        ctx.later(lambda: self.sessions.install(session))
        batch_no = self._sign_in_batch(ctx)
        self._host_time(ctx, settlement_date=False)
        ctx.fields["37"] = self.ledger.next_rrn(ctx.now)
        ctx.fields["60"] = "00" + batch_no + mode
        ctx.fields["62"] = field62.hex().upper()
        ctx.fields.pop("64", None)

    def _sign_in_batch(self, ctx: _Ctx) -> str:
        """The batch the terminal should use: the host's open batch, else the terminal's own,
        moved on by one if the host has already settled that number."""
        open_batch = self.ledger.open_batch(ctx.tid)
        if open_batch is not None:
            return open_batch.batch_no
        asked = ctx.sub("60.2") or "000001"
        if not asked.isdigit() or len(asked) != 6:
            asked = "000001"
        while (b := self.ledger.batch(ctx.tid, asked)) is not None and b.settled_at is not None:
            asked = f"{(int(asked) + 1) % 1_000_000:06d}"
        return asked

    def _sign_off(self, ctx: _Ctx) -> None:
        self.sessions.sign_off(ctx.tid, ctx.now)
        ctx.later(lambda: self.sessions.forget(ctx.tid))

    def _echo(self, ctx: _Ctx) -> None:
        self._host_time(ctx, settlement_date=False)

    def _parameters(self, ctx: _Ctx) -> None:
        """Parameter download: field 62 as usage-tag records (docs/protocol.md)."""
        merchant = self.registry.merchant(ctx.mid)
        tags = build_tags({
            "MN": merchant.name, "AI": self.config.acquirer.institution_id, "AN": self.config.acquirer.name,
            "HT": f"{ctx.now:%Y%m%d%H%M%S}", "RW": str(self.config.defaults.refund_window_days),
        })
        self._host_time(ctx, settlement_date=False)
        ctx.fields["62"] = tags.encode("gb18030").hex().upper()

    def _management(self, ctx: _Ctx) -> None:
        code = ctx.sub("60.3") or ""
        result = self.return_desk.handle(code, ctx.tid, ctx.mid, parse_tags(ctx.msg.get("59")))
        ctx.fields["59"] = build_tags(result.tags)

    # -- financial ------------------------------------------------------------------------

    def _batch_no(self, ctx: _Ctx) -> str:
        """60.2 must be the host's open batch for the terminal; a new number opens a batch."""
        batch_no = ctx.sub("60.2") or ""
        if not (batch_no.isdigit() and len(batch_no) == 6):
            raise Refusal(Situation.FORMAT_ERROR, "60.2 (batch number) is required")
        open_batch = self.ledger.open_batch(ctx.tid)
        if open_batch is not None:
            if open_batch.batch_no != batch_no:
                raise Refusal(Situation.BATCH_OUT_OF_STEP,
                              f"60.2 {batch_no}: the host's open batch is {open_batch.batch_no}")
            return batch_no
        existing = self.ledger.batch(ctx.tid, batch_no)
        if existing is not None and existing.settled_at is not None:
            raise Refusal(Situation.BATCH_OUT_OF_STEP, f"60.2 {batch_no}: batch already settled")
        self.ledger.start_batch(ctx.tid, ctx.mid, batch_no, ctx.now)
        return batch_no

    def _financial(self, ctx: _Ctx, txn_type: str, body: Callable[[_Ctx, str], None]) -> None:
        """Batch and duplicate checks, then ``body``; a refusal from ``body`` is recorded as a declined row."""
        batch_no = self._batch_no(ctx)
        if self.ledger.seen(ctx.tid, batch_no, ctx.stan, ctx.msg.mti):
            raise Refusal(Situation.DUPLICATE, f"STAN {ctx.stan} already used in batch {batch_no}")
        try:
            body(ctx, batch_no)
        except Refusal as refusal:
            pan = _pan_or_none(ctx.msg)
            amount = ctx.msg.fields.get("4") or "0"
            self.ledger.add_txn(ctx.now, ctx.tid, ctx.mid, batch_no, ctx.stan, ctx.msg.mti, txn_type, pan, None,
                                int(amount) if amount.isdigit() else 0, refusal.code, None, None, None, 0)
            raise

    def _approve(self, ctx: _Ctx, batch_no: str, txn_type: str, card: PresentedCard | None, card_kind: str | None,
                 amount: int, balance_effect: int, original: Txn | None = None,
                 auth_code: str | None = None) -> int:
        """Record the approval and fill the response's approval fields; the new transaction's id."""
        ledger = self.ledger
        rrn = ledger.next_rrn(ctx.now)
        auth_code = auth_code or self._auth_code()
        txn_id = ledger.add_txn(ctx.now, ctx.tid, ctx.mid, batch_no, ctx.stan, ctx.msg.mti, txn_type,
                                card.pan if card else (original.pan if original else None), card_kind, amount,
                                _APPROVED, rrn, auth_code, original.id if original else None, balance_effect)
        self._host_time(ctx)
        fields = ctx.fields
        fields["37"] = rrn
        fields["38"] = auth_code
        fields["44"] = self._field44
        fields["63"] = CARD_ORGANISATION
        return txn_id

    def _purchase(self, ctx: _Ctx) -> None:
        self._financial(ctx, "purchase", self._purchase_body)

    def _purchase_body(self, ctx: _Ctx, batch_no: str) -> None:
        card = presented_card(ctx.msg)
        amount = parse_amount(ctx.msg)
        auth = self.authorizer
        account = auth.account(card, ctx.now)
        auth.check_card(account, card, ctx.now)
        auth.check_pin(account, ctx.msg, ctx.session.pik if ctx.session else None)
        auth.check_amount(account, amount)
        self._approve(ctx, batch_no, "purchase", card, account.kind, amount, -amount)
        self.ledger.count_purchase(ctx.tid, ctx.mid, amount, 1)

    def _balance(self, ctx: _Ctx) -> None:
        self._financial(ctx, "balance", self._balance_body)

    def _balance_body(self, ctx: _Ctx, batch_no: str) -> None:
        card = presented_card(ctx.msg)
        auth = self.authorizer
        account = auth.account(card, ctx.now)
        auth.check_card(account, card, ctx.now)
        auth.check_pin(account, ctx.msg, ctx.session.pik if ctx.session else None)
        self._approve(ctx, batch_no, "balance", card, account.kind, 0, 0)
        ctx.fields.pop("15", None)
        balance = self.ledger.account(card.pan)
        assert balance is not None
        account_type = "30" if balance.kind == "credit" else "10"
        sign = "C" if balance.balance_fen >= 0 else "D"
        ctx.fields["54"] = f"{account_type}02156{sign}{abs(balance.balance_fen):012d}"

    def _original(self, ctx: _Ctx, txn_type: str) -> Txn:
        rrn = ctx.msg.get("37")
        if not rrn:
            raise Refusal(Situation.FORMAT_ERROR, "field 37 (original RRN) is required")
        original = self.ledger.approved_by_rrn(rrn, txn_type)
        if original is None:
            raise Refusal(Situation.ORIGINAL_NOT_FOUND, f"no approved {txn_type} with RRN {rrn}")
        return original

    def _void(self, ctx: _Ctx) -> None:
        self._financial(ctx, "void", self._void_body)

    def _void_body(self, ctx: _Ctx, batch_no: str) -> None:
        card = presented_card(ctx.msg)
        amount = parse_amount(ctx.msg)
        original = self._original(ctx, "purchase")
        stan61 = ctx.msg.get("61.2")
        if original.tid != ctx.tid or original.pan != card.pan or (stan61 and stan61 != original.stan):
            raise Refusal(Situation.ORIGINAL_NOT_FOUND, "the original purchase is not this card's on this terminal")
        if ctx.msg.get("38") and ctx.msg.get("38") != original.auth_code:
            raise Refusal(Situation.ORIGINAL_NOT_FOUND, "field 38 is not the original's authorisation code")
        if original.voided_by is not None or original.reversed_at is not None:
            raise Refusal(Situation.INVALID_TRANSACTION, "the original is already voided or reversed")
        batch = self.ledger.batch(original.tid, original.batch_no)
        if batch is not None and batch.settled_at is not None:
            raise Refusal(Situation.INVALID_TRANSACTION, "the original's batch is settled: refund it instead")
        if amount != original.amount_fen:
            raise Refusal(Situation.AMOUNT_MISMATCH, "field 4 is not the original amount")
        void_id = self._approve(ctx, batch_no, "void", card, original.card_kind, amount, amount, original,
                                auth_code=original.auth_code)
        self.ledger.mark_voided(original.id, void_id)
        self.ledger.count_purchase(original.tid, original.mid, -amount, -1)

    def _refund(self, ctx: _Ctx) -> None:
        self._financial(ctx, "refund", self._refund_body)

    def _refund_body(self, ctx: _Ctx, batch_no: str) -> None:
        card = presented_card(ctx.msg)
        amount = parse_amount(ctx.msg)
        original = self._original(ctx, "purchase")
        if original.mid != ctx.mid or original.pan != card.pan:
            raise Refusal(Situation.ORIGINAL_NOT_FOUND, "the original purchase is not this card's at this merchant")
        if original.voided_by is not None or original.reversed_at is not None:
            raise Refusal(Situation.INVALID_TRANSACTION, "the original is voided or reversed")
        age = (local_date(ctx.now) - date.fromisoformat(original.local_date)).days
        window = self.config.defaults.refund_window_days
        if age > window:
            raise Refusal(Situation.INVALID_TRANSACTION,
                          f"the original is {age} days old; refunds are accepted within {window} days")
        left = original.amount_fen - original.refunded_fen
        if amount > left:
            raise Refusal(Situation.AMOUNT_MISMATCH, f"refund of {amount} fen is more than the {left} fen left")
        self._approve(ctx, batch_no, "refund", card, original.card_kind, amount, amount, original)
        self.ledger.add_refunded(original.id, amount)

    def _reversal(self, ctx: _Ctx) -> None:
        """Undo the original exactly once; a repeated reversal is answered the same and changes nothing."""
        batch_no = self._batch_no(ctx)
        ttype = ctx.sub("60.1") or ""
        txn_type, original_mti = _REVERSIBLE[ttype]
        existing = self.ledger.reversal(ctx.tid, batch_no, ctx.stan)
        self._host_time(ctx, settlement_date=False)
        if existing is not None:
            self.ledger.count_repeat_reversal(existing.id)
            return
        amount = parse_amount(ctx.msg)
        original = self.ledger.by_stan(ctx.tid, batch_no, ctx.stan, original_mti)
        if original is not None and original.txn_type != txn_type:
            original = None
        applied = False
        if original is not None and original.approved and original.reversed_at is None:
            if amount != original.amount_fen:
                raise Refusal(Situation.AMOUNT_MISMATCH, "field 4 is not the original amount")
            applied = self._undo(ctx, original)
        self.ledger.record_reversal(
            now=ctx.now, tid=ctx.tid, batch_no=batch_no, stan=ctx.stan, txn_type=txn_type, amount_fen=amount,
            reason=ctx.msg.get("39"), original_id=original.id if original else None, applied=applied)

    def _undo(self, ctx: _Ctx, original: Txn) -> bool:
        if original.txn_type == "purchase" and original.voided_by is not None:
            return False  # the void already gave the money back
        if original.pan and original.balance_effect:
            self.ledger.adjust_balance(original.pan, -original.balance_effect)
        self.ledger.mark_reversed(original.id, ctx.now)
        if original.txn_type == "purchase":
            self.ledger.count_purchase(original.tid, original.mid, -original.amount_fen, -1)
        elif original.txn_type == "void" and original.original_id is not None:
            self.ledger.mark_voided(original.original_id, None)
            self.ledger.count_purchase(original.tid, original.mid, original.amount_fen, 1)
        elif original.txn_type == "refund" and original.original_id is not None:
            self.ledger.add_refunded(original.original_id, -original.amount_fen)
        return True

    # -- settlement ---------------------------------------------------------------------------

    def _settlement_batch(self, ctx: _Ctx) -> str:
        batch_no = ctx.sub("60.2") or ""
        if not (batch_no.isdigit() and len(batch_no) == 6):
            raise Refusal(Situation.FORMAT_ERROR, "60.2 (batch number) is required")
        open_batch = self.ledger.open_batch(ctx.tid)
        if open_batch is not None and open_batch.batch_no != batch_no:
            raise Refusal(Situation.BATCH_OUT_OF_STEP,
                          f"60.2 {batch_no}: the host's open batch is {open_batch.batch_no}")
        if self.ledger.batch(ctx.tid, batch_no) is None:
            self.ledger.start_batch(ctx.tid, ctx.mid, batch_no, ctx.now)  # an empty batch settles too
        return batch_no

    def _settlement(self, ctx: _Ctx) -> None:
        batch_no = self._settlement_batch(ctx)
        f48 = ctx.msg.get("48")
        if f48 is None:
            raise Refusal(Situation.FORMAT_ERROR, "field 48 (settlement totals) is required")
        terminal = parse_field48(f48)
        host = self.ledger.totals(ctx.tid, batch_no)
        domestic = RESULT_BALANCED if terminal.domestic == host.domestic else RESULT_UNBALANCED
        foreign = RESULT_BALANCED if terminal.foreign == host.foreign else RESULT_UNBALANCED
        batch = self.ledger.batch(ctx.tid, batch_no)
        assert batch is not None
        if batch.settled_at is None:
            if domestic == foreign == RESULT_BALANCED:
                self.ledger.close_batch(ctx.tid, batch_no, ctx.now, "balanced", terminal, host)
                self._settle_case(ctx, batch_no)
            else:
                self.ledger.mark_batch(ctx.tid, batch_no, "unbalanced", terminal, host)
        ctx.fields["15"] = f"{ctx.now:%m%d}"
        ctx.fields["48"] = terminal.field48(domestic, foreign)

    def _batch_upload(self, ctx: _Ctx) -> None:
        batch_no = self._settlement_batch(ctx)
        f48 = ctx.msg.get("48")
        if f48 is None:
            raise Refusal(Situation.FORMAT_ERROR, "field 48 (upload lines) is required")
        for line in parse_upload(f48):
            self.ledger.add_upload_line(ctx.tid, batch_no, ctx.now, line.pan, line.amount_fen, line.stan)

    def _upload_end(self, ctx: _Ctx) -> None:
        batch_no = self._settlement_batch(ctx)
        batch = self.ledger.batch(ctx.tid, batch_no)
        assert batch is not None
        if batch.settled_at is None:
            result = "reconciled" if ctx.sub("60.3") == "202" else "balanced"
            self.ledger.close_batch(ctx.tid, batch_no, ctx.now, result, None, self.ledger.totals(ctx.tid, batch_no))
            self._settle_case(ctx, batch_no)

    def _settle_case(self, ctx: _Ctx, batch_no: str) -> None:
        """An approved return case moves to settled once the terminal's last batch is."""
        case = self.desk.latest_case_for_terminal(ctx.tid)
        if case is None or case.state is not CaseState.APPROVED:
            return
        try:
            self.desk.record_settlement(case.id, f"terminal:{ctx.tid}", batch_no)
        except CaseError as exc:
            log.info("case %s not settled yet: %s", case.id, exc)


#: 60.1 of a reversal -> (what it reverses, that transaction's MTI)
_REVERSIBLE: dict[str, tuple[str, str]] = {"22": ("purchase", "0200"), "23": ("void", "0200"),
                                           "25": ("refund", "0220")}


def _pan_or_none(msg: Message) -> str | None:
    try:
        return presented_card(msg).pan
    except Refusal:
        return None

