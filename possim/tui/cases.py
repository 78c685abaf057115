"""The return-case panel's content: the host's cases, or the return-path messages seen.

With the host's database path (``--cases-db``), cases are read through the
host's own read-only ``CaseDesk`` on a SQLite connection opened read-only, so
the screen can never change a case. Without it, the panel lists the
return-path management messages (0800/0810 with 60.3 = 801..807) as they pass,
with the case id and state the host put in field 59.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from possim.errors import PossimError
from possim.host import management
from possim.host.cases import CaseDesk
from possim.host.clock import SystemClock
from possim.tui.model import Row


@dataclass(frozen=True)
class CaseLine:
    """One line of the panel."""

    case: str
    tid: str
    state: str
    detail: str


def read_cases(db_path: str | Path) -> list[CaseLine]:
    """Every return case in the host database, newest last."""
    path = Path(db_path)
    if not path.exists():
        raise PossimError(f"cases database {str(db_path)!r}: no such file")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=2)
    except sqlite3.Error as exc:
        raise PossimError(f"cases database {str(db_path)!r}: cannot open ({exc})") from None
    try:
        desk = CaseDesk(conn, SystemClock(), None)
        cases = desk.list_cases()
    except sqlite3.Error as exc:
        raise PossimError(f"cases database {str(db_path)!r}: cannot read cases ({exc})") from None
    finally:
        conn.close()
    return [CaseLine(str(c.id), c.tid, c.state.value, c.status_line()) for c in cases]


def return_path_lines(rows: list[Row]) -> list[CaseLine]:
    """The 801..807 management messages among ``rows``, with what field 59 says of the case."""
    out = []
    for row in rows:
        msg = row.event.message
        if msg is None or not row.mti.startswith("08"):
            continue
        try:
            code = msg.get("60.3")
        except PossimError:
            continue
        if code not in management.CODES:
            continue
        try:
            tags = management.parse_tags(msg.fields.get("59"))
        except PossimError:
            tags = {}
        state = tags.get("CS", "")
        what = row.name or code
        if row.rc:
            what += f" → {row.rc} {row.rc_text}"
        out.append(CaseLine(tags.get("CI", ""), row.tid, state, what))
    return out
