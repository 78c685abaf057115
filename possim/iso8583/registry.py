"""Finding dialect files: the ones shipped in the wheel, and the user's own.

A user adds an acquirer's format by copying a shipped file, editing it and
either naming the file directly (``--dialect ./my-acquirer.yaml``) or putting
it in a folder listed in ``POSSIM_PROTOCOLS`` (``os.pathsep``-separated).
"""

from __future__ import annotations

import os
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from possim.iso8583.dialect import Dialect
from possim.iso8583.errors import DialectError

SUFFIXES = (".yaml", ".yml")
# libyaml's loader when PyYAML has it (its wheels do): a tenth of the time of the pure-Python one, same result
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _search_dirs() -> list[Path]:
    dirs = [Path(p) for p in os.environ.get("POSSIM_PROTOCOLS", "").split(os.pathsep) if p]
    shipped = resources.files("possim") / "protocols"
    dirs.append(Path(str(shipped)))
    return dirs


def dialect_files() -> dict[str, Path]:
    """Dialect name -> file; the user's folders shadow shipped files of the same name."""
    found: dict[str, Path] = {}
    for folder in _search_dirs():
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.suffix in SUFFIXES and path.stem not in found and not path.stem.startswith("_"):
                found[path.stem] = path
    return found


def load_file(path: Path) -> Dialect:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DialectError(f"dialect file {path}: {exc.strerror}") from None
    try:
        raw = yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" line {mark.line + 1}" if mark else ""
        raise DialectError(f"dialect file {path}{at}: not valid YAML") from None
    return Dialect(raw, source=str(path))


@lru_cache(maxsize=64)
def _load_cached(path: str, mtime: float) -> Dialect:
    return load_file(Path(path))


def get_dialect(name: str) -> Dialect:
    """A dialect by name (``cup-pos``) or by file path."""
    candidate = Path(name)
    if candidate.suffix in SUFFIXES and candidate.is_file():
        path = candidate
    else:
        files = dialect_files()
        if name not in files:
            raise DialectError(f"unknown dialect {name!r}; known: {', '.join(sorted(files)) or 'none'}")
        path = files[name]
    return _load_cached(str(path.resolve()), path.stat().st_mtime)


def list_dialects() -> list[Dialect]:
    return [get_dialect(name) for name in sorted(dialect_files())]
