"""The message list's columns: how one row is written as one line of text.

Kept out of the widget so the exact text is unit-tested and the widget only
paints it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from rich.text import Text

from possim.tui.model import Row


@dataclass(frozen=True)
class Column:
    title: str
    width: int
    right: bool = False


COLUMNS: tuple[Column, ...] = (
    Column("#", 6, right=True),
    Column("time", 12),
    Column("link", 22),
    Column("dir", 3),
    Column("MTI", 4),
    Column("transaction", 20),
    Column("STAN", 6),
    Column("TID", 8),
    Column("amount", 10, right=True),
    Column("RC", 2),
    Column("meaning", 22),
    Column("latency", 8, right=True),
    Column("pair", 7),
)

PROBLEM_STYLE = "red"
RESPONSE_STYLE = ""
REQUEST_STYLE = ""


def _fit(text: str, width: int, right: bool = False, keep_end: bool = False) -> str:
    if len(text) > width:
        text = ("…" + text[-(width - 1):]) if keep_end else (text[:width - 1] + "…")
    return text.rjust(width) if right else text.ljust(width)


def format_time(t: float, tz: tzinfo | None = None) -> str:
    """``HH:MM:SS.mmm`` in ``tz`` (the machine's zone when None)."""
    moment = datetime.fromtimestamp(t, tz)
    return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def format_latency(ms: float | None) -> str:
    if ms is None:
        return ""
    return f"{ms:.1f}ms" if ms < 1000 else f"{ms / 1000:.2f}s"


def header_text() -> str:
    return " ".join(_fit(c.title, c.width, c.right) for c in COLUMNS)


def row_cells(row: Row, partner: int | None, tz: tzinfo | None = None) -> list[str]:
    event = row.event
    mti = row.mti or "????"
    name = row.name or ("undecodable: " + row.error if row.error else "")
    return [
        str(row.number),
        format_time(event.time, tz),
        event.link,
        "T→H" if row.toward_host else "H→T",
        mti,
        name,
        row.stan,
        row.tid,
        row.amount,
        row.rc,
        row.rc_text if row.rc else (row.error or ""),
        format_latency(event.latency_ms),
        f"↔{partner}" if partner is not None else "",
    ]


def row_text(row: Row, partner: int | None, tz: tzinfo | None = None) -> Text:
    """The whole list line for ``row``; problems (undecodable, declined) in red."""
    cells = row_cells(row, partner, tz)
    parts = []
    for col, cell in zip(COLUMNS, cells):
        parts.append(_fit(cell, col.width, col.right, keep_end=col.title == "link"))
    text = Text(" ".join(parts), no_wrap=True, overflow="ignore")
    if row.problem:
        text.stylize(PROBLEM_STYLE)
    return text
