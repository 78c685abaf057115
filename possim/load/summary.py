"""What a load run counted, as the Locust master (or stand-alone process) saw it at the very end.

Locust rewrites its ``--csv`` files once a second and does not write them
again at shutdown, so their last rows can miss the final second's requests
(seen: 672 purchases in ``_stats.csv`` where the run counted 676). The
numbers a ledger is reconciled against must be exact, so the locustfile
writes this summary from Locust's own statistics after the run has stopped
and every worker's last report has arrived (``--possim-summary FILE``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from possim.errors import PossimError


@dataclass(frozen=True)
class EntryCounts:
    name: str
    requests: int
    failures: int

    @property
    def successes(self) -> int:
        return self.requests - self.failures


@dataclass(frozen=True)
class FailureCount:
    name: str
    error: str
    occurrences: int

    @property
    def code(self) -> str:
        """The response code the error text starts with (``51 Insufficient funds`` -> ``51``)."""
        return self.error.split(" ", 1)[0]


@dataclass(frozen=True)
class LoadSummary:
    requests: int
    failures: int
    rps: float
    p50_ms: float
    p99_ms: float
    entries: dict[str, EntryCounts] = field(default_factory=dict)
    errors: tuple[FailureCount, ...] = ()

    def entry(self, name: str) -> EntryCounts:
        return self.entries.get(name, EntryCounts(name, 0, 0))

    def failures_by_code(self, name: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for failure in self.errors:
            if failure.name == name:
                out[failure.code] = out.get(failure.code, 0) + failure.occurrences
        return out

    def closing_line(self) -> str:
        """``N requests, N failures, R req/s, p50 X ms, p99 Y ms`` (the first two parts are the CLI contract)."""
        return (f"{self.requests} requests, {self.failures} failures, {self.rps:.1f} req/s, "
                f"p50 {self.p50_ms:g} ms, p99 {self.p99_ms:g} ms")

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests, "failures": self.failures, "rps": self.rps,
            "p50_ms": self.p50_ms, "p99_ms": self.p99_ms,
            "entries": [{"name": e.name, "requests": e.requests, "failures": e.failures}
                        for e in self.entries.values()],
            "errors": [{"name": f.name, "error": f.error, "occurrences": f.occurrences} for f in self.errors],
        }


def summary_from_json(data: dict[str, Any]) -> LoadSummary:
    try:
        return LoadSummary(
            requests=int(data["requests"]), failures=int(data["failures"]), rps=float(data["rps"]),
            p50_ms=float(data["p50_ms"]), p99_ms=float(data["p99_ms"]),
            entries={e["name"]: EntryCounts(e["name"], int(e["requests"]), int(e["failures"]))
                     for e in data["entries"]},
            errors=tuple(FailureCount(f["name"], f["error"], int(f["occurrences"])) for f in data["errors"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise PossimError(f"load summary: missing or malformed {exc}") from None


def read_summary(path: str | Path) -> LoadSummary:
    path = Path(path)
    try:
        return summary_from_json(json.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise PossimError(f"load summary {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise PossimError(f"load summary {path}: not JSON ({exc.msg} at line {exc.lineno})") from None


def summary_from_stats(stats: Any) -> LoadSummary:
    """From Locust's ``RequestStats`` (duck-typed so this module does not import Locust)."""
    total = stats.total
    entries: dict[str, EntryCounts] = {}
    for entry in stats.entries.values():
        old = entries.get(entry.name, EntryCounts(entry.name, 0, 0))
        entries[entry.name] = EntryCounts(entry.name, old.requests + entry.num_requests,
                                          old.failures + entry.num_failures)
    errors = tuple(FailureCount(e.name, _error_text(e.error), e.occurrences) for e in stats.errors.values())
    has_requests = total.num_requests > 0
    return LoadSummary(
        requests=total.num_requests, failures=total.num_failures, rps=float(total.total_rps),
        p50_ms=float(total.get_response_time_percentile(0.5)) if has_requests else 0.0,
        p99_ms=float(total.get_response_time_percentile(0.99)) if has_requests else 0.0,
        entries=entries, errors=errors)


def _error_text(error: Any) -> str:
    return error if isinstance(error, str) else repr(error)


def write_summary(summary: LoadSummary, path: str | Path) -> None:
    Path(path).write_text(json.dumps(summary.to_json(), indent=1) + "\n", encoding="utf-8")
