"""YAML that remembers where each value came from.

A QA engineer fixing a failed scenario needs ``file:line``, not a Python
traceback, so every mapping and list a scenario file yields carries the line
it starts on and the line of each of its keys and items. Everything else is
plain ``yaml.safe_load`` (dates become ``datetime.date``; no arbitrary tags).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from possim.errors import PossimError


class ScenarioError(PossimError):
    """A scenario file that cannot be used; the message starts with ``file:line:``."""


class LineDict(dict):  # type: ignore[type-arg]
    """A mapping from a YAML file; ``line`` is where it starts, ``key_lines[k]`` where key ``k`` is."""

    source: str = "<text>"
    line: int = 0
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line) if hasattr(self, "key_lines") else self.line

    def where(self, key: str | None = None) -> str:
        return f"{self.source}:{self.line if key is None else self.line_of(key)}"


class LineList(list):  # type: ignore[type-arg]
    source: str = "<text>"
    line: int = 0
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        lines = getattr(self, "item_lines", [])
        return lines[index] if 0 <= index < len(lines) else self.line

    def where(self, index: int | None = None) -> str:
        return f"{self.source}:{self.line if index is None else self.line_of(index)}"


def _make_loader(source: str) -> type[yaml.SafeLoader]:
    class _Loader(yaml.SafeLoader):
        pass

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> LineDict:
        loader.flatten_mapping(node)
        out = LineDict()
        out.source, out.line, out.key_lines = source, node.start_mark.line + 1, {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, (int, float)) and not isinstance(key, bool):
                key = str(key)  # field numbers: 39: "00" means field "39"
            if not isinstance(key, str):
                raise ScenarioError(f"{source}:{key_node.start_mark.line + 1}: a key must be text, got {key!r}")
            if key in out:
                raise ScenarioError(f"{source}:{key_node.start_mark.line + 1}: key {key!r} appears twice")
            out[key] = loader.construct_object(value_node, deep=True)
            out.key_lines[key] = key_node.start_mark.line + 1
        return out

    def sequence(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> LineList:
        out = LineList(loader.construct_object(child, deep=True) for child in node.value)
        out.source, out.line = source, node.start_mark.line + 1
        out.item_lines = [child.start_mark.line + 1 for child in node.value]
        return out

    _Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    _Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, sequence)
    return _Loader


def load_text(text: str, source: str) -> Any:
    """Parse YAML text; errors become ``source:line: ...``."""
    try:
        return yaml.load(text, Loader=_make_loader(source))  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        raise ScenarioError(f"{source}:{line}: not valid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{source}: not valid YAML: {str(exc).splitlines()[0]}") from None
    except ValueError as exc:  # e.g. an impossible date such as 2024-02-30
        raise ScenarioError(f"{source}: not valid YAML: {exc}") from None


def load_file(path: Path, shown: str | None = None) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{shown or path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{shown or path}: not UTF-8 text") from None
    return load_text(text, shown or str(path))
