"""What every terminal function gives back: one shape for the CLI, the ECR port, the TUI and scenarios.

``code`` is a CUP response code (field 39) and ``message`` its meaning from the
dialect's table, whether the host gave the code or the terminal decided
locally (``local=True``): no answer in time is 98, an answer that is not ours
96, a MAC that does not verify A0, an unbound terminal 58, a deregistered one
97, not signed in 22, no link to the host 91 -- the codes a host would use for
the same situation, so a script checks one field either way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

APPROVED = "00"


@dataclass
class Result:
    function: str
    code: str
    message: str
    local: bool = False
    detail: str | None = None
    amount_fen: int | None = None
    stan: str | None = None  # voucher no.
    batch: str | None = None
    rrn: str | None = None
    auth_code: str | None = None
    masked_pan: str | None = None
    host_date: str | None = None  # MMDD
    host_time: str | None = None  # hhmmss
    balance_fen: int | None = None
    receipt_text: str | None = None
    receipt_escpos: bytes | None = field(default=None, repr=False)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def approved(self) -> bool:
        return self.code == APPROVED

    def to_json(self, *, with_escpos: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"function": self.function, "code": self.code, "message": self.message,
                               "approved": self.approved, "local": self.local}
        for name in ("detail", "amount_fen", "stan", "batch", "rrn", "auth_code", "masked_pan", "host_date",
                     "host_time", "balance_fen", "receipt_text"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if with_escpos and self.receipt_escpos is not None:
            out["receipt_escpos"] = self.receipt_escpos.hex().upper()
        if self.data:
            out["data"] = self.data
        return out

    def summary(self) -> str:
        """One line for a person: code, meaning, and the numbers that identify the transaction."""
        parts = [f"{self.function}: {self.code} {self.message}"]
        if self.local:
            parts.append("(terminal)")
        for label, value in (("amount", _yuan(self.amount_fen)), ("card", self.masked_pan),
                             ("voucher", self.stan), ("batch", self.batch), ("ref", self.rrn),
                             ("auth", self.auth_code), ("balance", _yuan(self.balance_fen))):
            if value:
                parts.append(f"{label} {value}")
        line = " ".join(parts)
        return f"{line} - {self.detail}" if self.detail else line


def _yuan(fen: int | None) -> str | None:
    return None if fen is None else f"{fen // 100}.{fen % 100:02d}"
