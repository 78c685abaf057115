"""What a step observed, and how its expectations are checked against it.

An observation is a plain mapping (a terminal's result, a return case, a
raw response); ``request``/``response`` entries are decoded
:class:`~possim.iso8583.Message` objects, so an expectation can name a field
or subfield (``response.fields.60.1``) and ``echo`` can look at the same
field of the request. Received values are masked before anyone sees them
(PAN, track, PIN block, keys) unless the run is unmasked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from possim.iso8583 import Message
from possim.scenario.matchers import MISSING, as_text
from possim.scenario.model import Expectation

Observation = dict[str, Any]


@dataclass(frozen=True)
class Mismatch:
    path: str
    wanted: str
    received: str
    source: str
    line: int


def _message_part(msg: Message, rest: tuple[str, ...]) -> Any:
    if not rest:
        return msg
    head = rest[0]
    if head == "fields":
        if len(rest) == 1:
            return dict(msg.fields)
        try:
            value = msg.get(rest[1])
        except Exception:  # noqa: BLE001 - a subfield the dialect does not define reads as absent
            value = None
        return MISSING if value is None else value
    if head in ("mti", "tpdu", "header"):
        value = getattr(msg, head)
        return MISSING if value is None else value
    return _message_part(msg, ("fields",) + rest)  # "response.39" reads as "response.fields.39"


def resolve(obs: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = obs
    for i, part in enumerate(path):
        if isinstance(node, Message):
            return _message_part(node, path[i:])
        if isinstance(node, Mapping):
            node = node.get(part, MISSING)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return MISSING
        if node is None:
            node = MISSING
    if isinstance(node, Message):
        return node
    return node


def _field_number(path: tuple[str, ...]) -> str | None:
    if "fields" in path:
        i = path.index("fields")
        if i + 1 < len(path):
            return path[i + 1].split(".")[0]
    return None


def _echo_source(obs: Mapping[str, Any], path: tuple[str, ...]) -> Callable[[], Any]:
    number_path = path[path.index("fields") + 1] if "fields" in path and path.index("fields") + 1 < len(path) \
        else path[-1]

    def sent() -> Any:
        request = obs.get("request")
        if isinstance(request, Message):
            try:
                value = request.get(number_path)
            except Exception:  # noqa: BLE001
                value = None
            return MISSING if value is None else value
        return MISSING
    return sent


def show(value: Any, path: tuple[str, ...], obs: Mapping[str, Any], unmask: bool = False) -> str:
    """A received value as a report shows it: masked where it is card or key material."""
    if value is MISSING:
        return "absent"
    if isinstance(value, Message):
        return _show_message(value, unmask)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {as_text(v)!r}" for k, v in value.items()) + "}"
    text = as_text(value)
    number = _field_number(path)
    if number is not None and number.isdigit() and not unmask:
        msg = next((m for m in (obs.get("response"), obs.get("request")) if isinstance(m, Message)), None)
        dialect = getattr(msg, "dialect", None)
        if dialect is not None:
            text = dialect.masked_value(int(number), text)
    if "\n" in text:
        return "\n" + "\n".join(f"      | {line}" for line in text.splitlines())
    return repr(text)


def _show_message(msg: Message, unmask: bool) -> str:
    dialect = getattr(msg, "dialect", None)
    parts = [f"mti {msg.mti}"]
    for number in sorted(msg.fields, key=int):
        value = msg.fields[number]
        if dialect is not None and not unmask:
            value = dialect.masked_value(int(number), value)
        parts.append(f"{number}={value}")
    return " ".join(parts)


def check(expectations: tuple[Expectation, ...], obs: Mapping[str, Any], unmask: bool = False) -> list[Mismatch]:
    out: list[Mismatch] = []
    for exp in expectations:
        received = resolve(obs, exp.path)
        verdict = exp.matcher.check(received, _echo_source(obs, exp.path))
        if not verdict.ok:
            out.append(Mismatch(exp.shown, verdict.wanted, show(received, exp.path, obs, unmask),
                                exp.source, exp.line))
    return out
