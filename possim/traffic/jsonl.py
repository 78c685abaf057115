"""JSON Lines recordings: one event per line, readable back and replayable.

A recording is the cheapest way to turn "the terminal did something odd last
night" into a repeatable test: record with ``--traffic``, then replay the
frames one side sent. Lines are flushed as written so a crash loses at most
the line being written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from possim.errors import PossimError
from possim.traffic.event import TrafficEvent
from possim.traffic.jsonform import DialectResolver, MessageFactory, event_from_json, event_to_json


class JsonlWriter:
    """Writes events as JSON Lines to a path (appending) or an open text stream."""

    def __init__(self, target: str | Path | IO[str], *, unmask: bool = False) -> None:
        if isinstance(target, (str, Path)):
            self._stream: IO[str] = open(target, "a", encoding="utf-8")
            self._owns = True
        else:
            self._stream = target
            self._owns = False
        self.unmask = unmask
        self.count = 0

    def write(self, event: TrafficEvent) -> None:
        line = json.dumps(event_to_json(event, unmask=self.unmask), separators=(",", ":"), ensure_ascii=False)
        self._stream.write(line + "\n")
        self._stream.flush()
        self.count += 1

    def close(self) -> None:
        if self._owns:
            self._stream.close()

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def parse_jsonl_line(line: str, lineno: int) -> dict[str, Any]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise PossimError(f"traffic recording line {lineno}: not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise PossimError(f"traffic recording line {lineno}: expected a JSON object")
    return obj


def read_jsonl(
    path: str | Path,
    *,
    message_factory: MessageFactory | None = None,
    dialect_resolver: DialectResolver | None = None,
) -> Iterator[TrafficEvent]:
    """Events of a recording, in file order. Blank lines are skipped."""
    with open(path, encoding="utf-8") as stream:
        for lineno, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            obj = parse_jsonl_line(line, lineno)
            try:
                yield event_from_json(obj, message_factory=message_factory, dialect_resolver=dialect_resolver)
            except PossimError as exc:
                raise PossimError(f"traffic recording line {lineno}: {exc}") from None


@dataclass(frozen=True, slots=True)
class ReplayFrame:
    """One frame to send again, as it was recorded (body without framing)."""

    seq: int
    time: float
    link: str
    direction: str
    role: str
    raw: bytes
    framing: str | None
    masked: bool  # True: card secrets were replaced by stand-ins when recorded


def replay_frames(
    path: str | Path,
    *,
    direction: str | None = None,
    role: str | None = None,
    skip_withheld: bool = False,
) -> Iterator[ReplayFrame]:
    """Raw frames of a recording in order, optionally only one side's.

    A frame whose bytes were withheld (it did not decode, and the recording
    was not made with unmask) cannot be replayed: by default that is an error
    naming the line, since silently skipping would replay a different
    conversation; ``skip_withheld=True`` drops such frames instead.
    """
    with open(path, encoding="utf-8") as stream:
        for lineno, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            obj = parse_jsonl_line(line, lineno)
            if direction is not None and obj.get("dir") != direction:
                continue
            if role is not None and obj.get("role") != role:
                continue
            raw_hex = obj.get("raw")
            if raw_hex is None:
                if skip_withheld:
                    continue
                raise PossimError(
                    f"traffic recording line {lineno}: frame seq {obj.get('seq')} was withheld "
                    "(undecodable and recorded without --unmask); cannot replay it"
                )
            try:
                raw = bytes.fromhex(raw_hex)
            except (TypeError, ValueError):
                raise PossimError(f"traffic recording line {lineno}: 'raw' is not hex") from None
            yield ReplayFrame(
                seq=int(obj.get("seq") or 0),
                time=float(obj.get("time") or 0.0),
                link=str(obj.get("link")),
                direction=str(obj.get("dir")),
                role=str(obj.get("role")),
                raw=raw,
                framing=obj.get("framing"),
                masked=bool(obj.get("masked")),
            )
