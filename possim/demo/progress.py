"""Turning what each demo step observed into lines a person reads, and adding them up.

Pure functions over the observations the scenario drivers return; no I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FINANCIAL = ("purchase", "void", "refund", "balance")
NAMES = {"purchase": "sale", "void": "void", "refund": "refund", "balance": "balance", "settle": "settlement",
         "sign_in": "sign-in", "return_apply": "return application", "return_status": "return status",
         "appeal": "appeal", "unbind": "unbind", "deregister": "deregister", "confirm_refund": "refund confirmed",
         "review": "review", "issue_refund": "deposit refund", "onboard": "onboarding", "send": "raw message",
         "advance_clock": "clock"}


def yuan(fen: Any) -> str:
    value = int(fen)
    sign = "-" if value < 0 else ""
    return f"{sign}{abs(value) // 100}.{abs(value) % 100:02d}"


def outcome(action: str, obs: dict[str, Any], response_text: Any) -> str:
    """The result part of a progress line: code and meaning, amount, masked card; or a case's state."""
    if obs.get("error"):
        return f"refused: {obs['error']}"
    if "code" in obs:
        parts = [f"{obs['code']} {obs.get('message', '')}".strip()]
        if obs.get("local"):
            parts.append("(decided by the terminal)")
        if obs.get("amount_fen") is not None:
            parts.append(f"RMB {yuan(obs['amount_fen'])}")
        if obs.get("masked_pan"):
            parts.append(str(obs["masked_pan"]))
        if obs.get("balance_fen") is not None:
            parts.append(f"balance RMB {yuan(obs['balance_fen'])}")
        data = obs.get("data") or {}
        if data.get("case_state"):
            parts.append(f"case {data.get('case_id', '')} {data['case_state']}".replace("  ", " "))
        if "balanced" in data:
            parts.append("balanced" if data["balanced"] else "NOT balanced")
        return "  ".join(parts)
    if action == "send":
        fields = obs.get("fields") or {}
        code = str(fields.get("39", ""))
        return f"{obs.get('mti', '')} {code} {response_text(code) or ''}".strip()
    if "state" in obs:
        parts = [str(obs["state"])]
        if obs.get("reasons"):
            parts.append(f"reasons {obs['reasons']}: {obs.get('reason_texts', '')}".strip())
            if obs.get("advice"):
                parts.append(f"advice: {obs['advice']}")
        if obs.get("refund_fen") is not None and obs.get("approved"):
            parts.append(f"deposit refund RMB {yuan(obs['refund_fen'])} due {obs.get('refund_due')} "
                         f"by {obs.get('refund_method')}")
        return "  ".join(parts)
    if obs.get("now"):
        return f"now {obs['now']}"
    return ""


@dataclass
class Tally:
    """The summary table's numbers."""

    transactions: int = 0
    approved: int = 0
    declined: int = 0
    refused_locally: int = 0
    by_kind: dict[str, list[int]] = field(default_factory=dict)  # kind -> [count, amount_fen]
    settled: dict[str, Any] = field(default_factory=dict)
    deposit_refund_fen: int | None = None
    deposit_due: str | None = None
    case_state: str | None = None
    receipts: list[tuple[str, str]] = field(default_factory=list)

    def add(self, action: str, label: str, obs: dict[str, Any]) -> None:
        if obs.get("receipt"):
            self.receipts.append((label, str(obs["receipt"])))
        if action in FINANCIAL and "code" in obs:
            self.transactions += 1
            if obs.get("local"):
                self.refused_locally += 1
            elif obs.get("approved"):
                self.approved += 1
                entry = self.by_kind.setdefault(NAMES[action], [0, 0])
                entry[0] += 1
                entry[1] += int(obs.get("amount_fen") or 0)
            else:
                self.declined += 1
        if action == "settle" and obs.get("code") == "00":
            self.settled = dict(obs.get("data") or {})
        if action == "issue_refund" and obs.get("refund_fen") is not None:
            self.deposit_refund_fen = int(obs["refund_fen"])
            self.deposit_due = obs.get("refund_due")
        state = (obs.get("data") or {}).get("case_state") or (obs.get("state") if action in (
            "review", "issue_refund", "case") else None)
        if state:
            self.case_state = str(state)

    def table(self) -> list[str]:
        rows = [("transactions sent", str(self.transactions)), ("approved", str(self.approved)),
                ("declined by the host", str(self.declined)),
                ("refused by the terminal", str(self.refused_locally))]
        for kind, (count, amount) in sorted(self.by_kind.items()):
            rows.append((f"  {kind}", f"{count} x" if kind == "balance" else f"{count} x, RMB {yuan(amount)}"))
        if self.settled:
            rows.append(("settlement", "balanced" if self.settled.get("balanced") else "NOT balanced"))
            totals = self.settled.get("totals") or {}
            if totals:
                rows.append(("  sales (debit)", f"{totals.get('debit_count', 0)} x, "
                                                 f"RMB {yuan(totals.get('debit_fen', 0))}"))
                rows.append(("  refunds (credit)", f"{totals.get('credit_count', 0)} x, "
                                                    f"RMB {yuan(totals.get('credit_fen', 0))}"))
        if self.deposit_refund_fen is not None:
            rows.append(("deposit refunded", f"RMB {yuan(self.deposit_refund_fen)}, due {self.deposit_due}"))
        if self.case_state:
            rows.append(("return case", self.case_state))
        width = max(len(k) for k, _ in rows)
        return [f"  {k:<{width}}  {v}" for k, v in rows]
