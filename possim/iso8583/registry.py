"""Finding dialect files: the ones shipped in the wheel, and the user's own.

A user adds an acquirer's format by copying a shipped file, editing it and
either naming the file directly (``--dialect ./my-acquirer.yaml``) or putting
it in a folder listed in ``POSSIM_PROTOCOLS`` (``os.pathsep``-separated).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from possim import protocol_files
from possim.iso8583.dialect import Dialect
from possim.iso8583.errors import DialectError

# libyaml's loader when PyYAML has it (its wheels do): a tenth of the time of the pure-Python one, same result
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def dialect_files() -> dict[str, Path]:
    """Dialect name -> file; the user's folders shadow shipped files of the same name."""
    return protocol_files.files_in()


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
    path = protocol_files.resolve(name, dialect_files(), "dialect", DialectError)
    return _load_cached(str(path.resolve()), path.stat().st_mtime)


def list_dialects() -> list[Dialect]:
    return [get_dialect(name) for name in sorted(dialect_files())]
