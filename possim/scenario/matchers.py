"""Expectation markers, in the spirit of jPOS's client simulator.

An expected value in a scenario is either a literal (compared as text, so
``amount_fen: 100`` and ``"100"`` both match 100) or one of these markers:

``present``  the value must be there (any content)
``absent``   the value must not be there
``any``      no check (documents that a value is not asserted)
``echo``     equal to the same field of the request this step sent
``{regex: PATTERN}``       the whole value matches PATTERN (``re.fullmatch``)
``{contains: TEXT | [..]}`` the value contains each text (receipt text)
``{not_contains: ...}``    the value contains none of them
``{one_of: [..]}``         equal to one of the values
``{exact: VALUE}``         a literal that happens to spell a marker word

A matcher compares and says what it wanted, in words a QA engineer reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from possim.scenario.yamlsource import ScenarioError

MISSING = object()  # the received side has no such value
MARKER_WORDS = ("present", "absent", "any", "echo")
MAPPING_FORMS = ("regex", "contains", "not_contains", "one_of", "exact")


def as_text(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    wanted: str  # what was expected, for the report


class Matcher:
    kind = "exact"

    def check(self, received: Any, echo_of: Callable[[], Any]) -> Verdict:
        raise NotImplementedError


@dataclass(frozen=True)
class Exact(Matcher):
    value: Any
    kind = "exact"

    def check(self, received: Any, echo_of: Callable[[], Any]) -> Verdict:
        wanted = repr(as_text(self.value))
        if received is MISSING or received is None:
            return Verdict(self.value is None, wanted)
        return Verdict(as_text(received) == as_text(self.value), wanted)


class Present(Matcher):
    kind = "present"

    def check(self, received: Any, echo_of: Callable[[], Any]) -> Verdict:
        return Verdict(received is not MISSING and received is not None, "present")


class Absent(Matcher):
    kind = "absent"

    def check(self, received: Any, echo_of: Callable[[], Any]) -> Verdict:
        return Verdict(received is MISSING or received is None, "absent")


class AnyValue(Matcher):
    kind = "any"

    def check(self, received: Any, echo_of: Callable[[], Any]) -> Verdict:
        return Verdict(True, "any")


class Echo(Matcher):
    kind = "echo"

    def check(self, received: Any, echo_of: Callable[[], Any]) -> Verdict:
        sent = echo_of()
        if sent is MISSING or sent is None:
            return Verdict(received is MISSING or received is None, "echo of the request (absent there)")
        ok = received is not MISSING and received is not None and as_text(received) == as_text(sent)
        return Verdict(ok, f"echo of the request: {as_text(sent)!r}")


@dataclass(frozen=True)
class Regex(Matcher):
    pattern: str
    kind = "regex"

    def check(self, received: Any, echo_of: Callable[[], Any]) -> Verdict:
        ok = received is not MISSING and received is not None and \
            re.fullmatch(self.pattern, as_text(received), re.S) is not None
        return Verdict(ok, f"matching /{self.pattern}/")


@dataclass(frozen=True)
class Contains(Matcher):
    texts: tuple[str, ...]
    negate: bool = False
    kind = "contains"

    def check(self, received: Any, echo_of: Callable[[], Any]) -> Verdict:
        shown = ", ".join(repr(t) for t in self.texts)
        if received is MISSING or received is None:
            return Verdict(self.negate, f"{'no' if self.negate else 'text containing'} {shown}")
        text = as_text(received)
        if self.negate:
            found = [t for t in self.texts if t in text]
            return Verdict(not found, f"text not containing {shown}")
        missing = [t for t in self.texts if t not in text]
        wanted = f"text containing {shown}"
        if missing and len(self.texts) > 1:
            wanted += f" (missing: {', '.join(repr(t) for t in missing)})"
        return Verdict(not missing, wanted)


@dataclass(frozen=True)
class OneOf(Matcher):
    values: tuple[str, ...]
    kind = "one_of"

    def check(self, received: Any, echo_of: Callable[[], Any]) -> Verdict:
        ok = received is not MISSING and received is not None and as_text(received) in self.values
        return Verdict(ok, f"one of {', '.join(repr(v) for v in self.values)}")


_WORDS: dict[str, Matcher] = {"present": Present(), "absent": Absent(), "any": AnyValue(), "echo": Echo()}


def _texts(value: Any, where: str, form: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or any(isinstance(i, (dict, list)) or i is None for i in items):
        raise ScenarioError(f"{where}: {form}: expected a text or a list of texts")
    return tuple(as_text(i) for i in items)


def parse_matcher(spec: Any, where: str) -> Matcher:
    """Turn one expected value from a scenario file into a matcher; ``where`` is ``file:line``."""
    if isinstance(spec, str) and spec in _WORDS:
        return _WORDS[spec]
    if isinstance(spec, Mapping):
        if len(spec) != 1:
            raise ScenarioError(f"{where}: a matcher mapping has exactly one of {', '.join(MAPPING_FORMS)}, "
                                f"got {', '.join(map(str, spec)) or 'nothing'}")
        form, value = next(iter(spec.items()))
        if form == "regex":
            if not isinstance(value, str):
                raise ScenarioError(f"{where}: regex: expected a pattern as text")
            try:
                re.compile(value)
            except re.error as exc:
                raise ScenarioError(f"{where}: regex {value!r}: {exc}") from None
            return Regex(value)
        if form == "contains":
            return Contains(_texts(value, where, form))
        if form == "not_contains":
            return Contains(_texts(value, where, form), negate=True)
        if form == "one_of":
            return OneOf(_texts(value, where, form))
        if form == "exact":
            return Exact(value)
        raise ScenarioError(f"{where}: unknown matcher {form!r}; expected one of {', '.join(MAPPING_FORMS)} "
                            f"or a word: {', '.join(MARKER_WORDS)}")
    if isinstance(spec, list):
        raise ScenarioError(f"{where}: a list is not an expected value; use {{one_of: [...]}} or {{contains: [...]}}")
    return Exact(spec)
