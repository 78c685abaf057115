"""Writing what the screen shows to a file a colleague or Wireshark can open.

Only the visible (filtered) events are written, through the traffic layer's
own writers, so an export has exactly the form and the secret rules of a
``--traffic`` recording: masked unless the TUI was started with ``--unmask``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from possim.errors import PossimError
from possim.traffic import JsonlWriter, PcapWriter, TrafficEvent

FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".pcap": "pcap"}


def export_format(path: str | Path) -> str:
    """``jsonl`` or ``pcap``, from the file name's extension."""
    suffix = Path(path).suffix.lower()
    try:
        return FORMATS[suffix]
    except KeyError:
        raise PossimError(f"export file {str(path)!r}: expected a name ending in .jsonl or .pcap") from None


def export_events(events: Iterable[TrafficEvent], path: str | Path, *, unmask: bool = False) -> int:
    """Write events to ``path`` (JSON Lines or PCAP by extension); returns how many were written.

    An existing file is replaced: an export is a snapshot of the screen, not a log to append to.
    """
    fmt = export_format(path)
    target = Path(path).expanduser()
    if target.is_dir():
        raise PossimError(f"export file {str(path)!r}: is a directory")
    count = 0
    try:
        if fmt == "pcap":
            with PcapWriter(target, unmask=unmask) as pcap:
                for event in events:
                    pcap.write(event)
                    count += 1
        else:
            with open(target, "w", encoding="utf-8") as stream, JsonlWriter(stream, unmask=unmask) as jsonl:
                for event in events:
                    jsonl.write(event)
                    count += 1
    except OSError as exc:
        raise PossimError(f"export file {str(path)!r}: cannot write ({exc.strerror})") from None
    return count
