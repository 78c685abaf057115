"""Values carried from one step to a later one: ``${save.rrn}``, ``${param.amount}``.

A whole-string reference (``amount: ${param.amount}``) keeps the value's
type, so a saved number stays a number; a reference inside text is
interpolated (``"refund of ${save.rrn}"``). An unknown name is an error that
names it and lists what is known, because a typo in a saved name would
otherwise surface as a confusing mismatch three steps later.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from possim.scenario.yamlsource import LineDict, LineList, ScenarioError

REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z0-9_.\-]+)\}")


def _lookup(namespaces: Mapping[str, Mapping[str, Any]], space: str, path: str, where: str) -> Any:
    if space not in namespaces:
        raise ScenarioError(f"{where}: unknown reference ${{{space}.{path}}}; known prefixes: "
                            f"{', '.join(sorted(namespaces))}")
    value: Any = namespaces[space]
    walked = space
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            known = ", ".join(sorted(map(str, value))) if isinstance(value, Mapping) else "nothing"
            raise ScenarioError(f"{where}: ${{{space}.{path}}}: no {part!r} in {walked} (known: {known or 'nothing'})")
        walked += f".{part}"
    return value


def substitute(value: Any, namespaces: Mapping[str, Mapping[str, Any]], where: str,
               only: frozenset[str] | None = None) -> Any:
    """Replace references in ``value`` (recursively); ``only`` limits which prefixes are replaced now."""
    if isinstance(value, str):
        whole = REFERENCE.fullmatch(value)
        if whole and (only is None or whole.group(1) in only):
            return _lookup(namespaces, whole.group(1), whole.group(2), where)

        def one(match: re.Match[str]) -> str:
            if only is not None and match.group(1) not in only:
                return match.group(0)
            found = _lookup(namespaces, match.group(1), match.group(2), where)
            return str(found).lower() if isinstance(found, bool) else str(found)

        return REFERENCE.sub(one, value)
    if isinstance(value, LineDict):
        out = LineDict()
        out.source, out.line, out.key_lines = value.source, value.line, dict(getattr(value, "key_lines", {}))
        for key, item in value.items():
            out[key] = substitute(item, namespaces, value.where(key), only)
        return out
    if isinstance(value, LineList):
        lst = LineList(substitute(item, namespaces, value.where(i), only) for i, item in enumerate(value))
        lst.source, lst.line, lst.item_lines = value.source, value.line, list(getattr(value, "item_lines", []))
        return lst
    if isinstance(value, dict):
        return {k: substitute(v, namespaces, where, only) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, namespaces, where, only) for v in value]
    return value


def references(value: Any) -> set[tuple[str, str]]:
    """Every ``(prefix, path)`` referenced anywhere in ``value``."""
    found: set[tuple[str, str]] = set()
    if isinstance(value, str):
        found.update(REFERENCE.findall(value))
    elif isinstance(value, dict):
        for item in value.values():
            found |= references(item)
    elif isinstance(value, list):
        for item in value:
            found |= references(item)
    return found
