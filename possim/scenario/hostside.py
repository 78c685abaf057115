"""possim playing the acquirer for a scenario: the host server, its back office and the clock.

The host runs exactly as ``possim host`` does -- its server on a real
loopback port, its ledger in a real SQLite file -- with a simulated clock, so
a scenario can let 95 days pass in one step. Back-office steps (review a
return case, pay the deposit back, open a dispute, bind a terminal) act on
the same database through the host's own back-office classes, as an
acquirer's staff would, on a connection of their own (WAL lets both work).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from possim.errors import PossimError
from possim.host.cases import CaseDesk
from possim.host.clock import SimulatedClock
from possim.host.db import open_db
from possim.host.merchants import MerchantRegistry
from possim.host.policy import Inspection, SqliteFactsProvider
from possim.iso8583 import Dialect
from possim.scenario.model import Scenario, Step
from possim.scenario.outcome import Observation
from possim.scenario.relay import Relay
from possim.scenario.world import clock_start, host_config
from possim.traffic import TrafficBus

ACTOR = "acquirer:scenario"


def case_observation(case: Any) -> Observation:
    decision = case.decision
    reasons = [r.code for r in decision.reasons] if decision else []
    waived = [r.code for r in decision.waived] if decision else []
    advice = [r.advice for r in (decision.reasons or decision.waived)] if decision else []
    texts = [r.text for r in (decision.reasons or decision.waived)] if decision else []
    return {"case_id": str(case.id), "state": case.state.value, "tid": case.tid, "mid": case.mid,
            "refund_fen": case.refund_fen,
            "refund_due": case.refund_due.isoformat() if case.refund_due else None,
            "refund_method": case.refund_method, "refund_overdue": case.refund_overdue,
            "reasons": ",".join(reasons), "waived": ",".join(waived), "advice": " ".join(advice),
            "approved": decision.approved if decision else None, "status_line": case.status_line(),
            "case": case.to_json(), "reason_texts": " ".join(texts)}


class HostSide:
    def __init__(self, scenario: Scenario, workdir: Path, bus: TrafficBus, dialect: Dialect,
                 listen_url: str = "tcp://127.0.0.1:0") -> None:
        self.scenario = scenario
        self.workdir = workdir
        self.bus = bus
        self.dialect = dialect
        self.listen_url = listen_url
        self.clock = SimulatedClock(clock_start(scenario.setup))
        self.config = host_config(scenario)
        self.db_path = workdir / "host.db"
        self.server: Any = None
        self.relay: Relay | None = None
        self.conn: Any = None
        self.url = ""

    async def start(self) -> str:
        from possim.host.server import HostServer

        self.server = HostServer(self.config, self.db_path, ["tcp://127.0.0.1:0"], self.dialect, self.clock)
        urls = await self.server.start()
        self.relay = Relay(self.listen_url, urls[0], self.bus, self.dialect)
        self.url = await self.relay.start()
        self.conn = open_db(self.db_path)
        return self.url

    async def close(self) -> None:
        if self.relay is not None:
            await self.relay.close()
        if self.server is not None:
            await self.server.close()
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    # --- the back office -------------------------------------------------------------------------

    def _desk(self) -> CaseDesk:
        return CaseDesk(self.conn, self.clock, self.config.return_policy,
                        SqliteFactsProvider(self.conn, self.clock), MerchantRegistry(self.conn, self.clock))

    def _case_id(self, args: dict[str, Any], tid: str | None) -> int:
        if args.get("case") not in (None, ""):
            text = str(args["case"])
            if not text.isdigit():
                raise PossimError(f"case: expected a case number, got {text!r}")
            return int(text)
        if tid is None:
            raise PossimError("no case given and the set-up has no terminal to look one up by")
        case = self._desk().latest_case_for_terminal(tid)
        if case is None:
            raise PossimError(f"terminal {tid} has no return case")
        return case.id

    def _mid_of(self, tid: str) -> str:
        status = MerchantRegistry(self.conn, self.clock).terminal_status(tid)
        if status.mid is None:
            raise PossimError(f"terminal {tid} is not bound to a merchant")
        return status.mid

    def perform(self, step: Step, args: dict[str, Any], tid: str | None) -> Observation:
        try:
            return getattr(self, f"_do_{step.action}")(args, tid)
        except PossimError as exc:  # the back office said no: an outcome a scenario may expect
            return {"error": str(exc)}

    def _do_review(self, args: dict[str, Any], tid: str | None) -> Observation:
        desk = self._desk()
        case_id = self._case_id(args, tid)
        actor = str(args.get("actor", ACTOR))
        state = desk.get_case(case_id).state.value
        if state == "applied":
            desk.start_review(case_id, actor)
        elif state == "appealed":
            desk.start_re_review(case_id, actor)
        inspection = args.get("inspection") or {}
        unknown = sorted(set(inspection) - {"missing_accessories", "damaged", "damage_note"})
        if unknown:
            raise PossimError(f"review inspection: unknown key {unknown[0]!r} "
                              "(known: missing_accessories, damaged, damage_note)")
        found = Inspection(missing_accessories=tuple(str(i) for i in inspection.get("missing_accessories") or ()),
                           damaged=bool(inspection.get("damaged", False)),
                           damage_note=str(inspection.get("damage_note", "")))
        waive = args.get("waive") or ()
        if isinstance(waive, str):
            waive = (waive,)
        return case_observation(desk.decide(case_id, actor, inspection=found, waive=tuple(map(str, waive)),
                                            note=str(args.get("note", ""))))

    def _do_issue_refund(self, args: dict[str, Any], tid: str | None) -> Observation:
        return case_observation(self._desk().issue_refund(
            self._case_id(args, tid), str(args.get("actor", ACTOR)), method=args.get("method"),
            reference=str(args.get("reference", ""))))

    def _do_case(self, args: dict[str, Any], tid: str | None) -> Observation:
        desk = self._desk()
        return case_observation(desk.get_case(self._case_id(args, tid)))

    def _do_flag_overdue(self, args: dict[str, Any], tid: str | None) -> Observation:
        flagged = self._desk().flag_overdue(ACTOR)
        return {"flagged": ",".join(str(getattr(c, "id", c)) for c in flagged)}

    def _do_open_dispute(self, args: dict[str, Any], tid: str | None) -> Observation:
        tid = str(args.get("terminal") or tid)
        SqliteFactsProvider(self.conn, self.clock).open_dispute(tid, self._mid_of(tid), str(args["reference"]))
        return {}

    def _do_close_dispute(self, args: dict[str, Any], tid: str | None) -> Observation:
        SqliteFactsProvider(self.conn, self.clock).close_dispute(str(args["reference"]))
        return {}

    def _do_onboard(self, args: dict[str, Any], tid: str | None) -> Observation:
        registry = MerchantRegistry(self.conn, self.clock)
        tid, mid = str(args["terminal"]), str(args["merchant"])
        registry.bind(tid, mid)
        deposit = args.get("deposit", True)
        if deposit is not False and registry.merchant(mid).deposit_fen > 0:
            amount = None if deposit is True else int(deposit)
            registry.record_deposit(tid, mid, amount)
        return self._do_terminal_state({"terminal": tid}, tid)

    def _do_terminal_state(self, args: dict[str, Any], tid: str | None) -> Observation:
        tid = str(args.get("terminal") or tid)
        status = MerchantRegistry(self.conn, self.clock).terminal_status(tid)
        return {"tid": status.tid, "state": status.state.value if status.state else "unknown",
                "mid": status.mid, "may_transact": status.may_transact}

    def _do_advance_clock(self, args: dict[str, Any], tid: str | None) -> Observation:
        if "to" in args:
            moment = args["to"]
            if isinstance(moment, str):
                moment = datetime.fromisoformat(moment)
            if not isinstance(moment, datetime):
                raise PossimError("advance_clock to: expected a date-time such as 2025-06-01T10:00:00+08:00")
            self.clock.set(moment)
        else:
            amounts = {k: float(args.get(k, 0)) for k in ("days", "hours", "minutes", "seconds")}
            self.clock.advance(**amounts)
        now = self.clock.now()
        return {"now": now.isoformat(), "date": now.date().isoformat()}
