"""Where protocol files are found: shipped in the wheel under ``protocols/``, or in the user's folders.

Dialect files (ISO 8583) sit in ``protocols/``; ECR link files in ``protocols/ecr/``. A user's folders come
from ``POSSIM_PROTOCOLS`` (``os.pathsep``-separated) and shadow shipped files of the same name; a name that is
a path to a file is taken as it is. One place, so both kinds of file are found the same way.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Callable

SUFFIXES = (".yaml", ".yml")


def search_dirs(subfolder: str = "") -> list[Path]:
    user = [Path(p) / subfolder for p in os.environ.get("POSSIM_PROTOCOLS", "").split(os.pathsep) if p]
    return user + [Path(str(resources.files("possim") / "protocols")) / subfolder]


def files_in(subfolder: str = "", prefix: str = "") -> dict[str, Path]:
    """Name (``prefix`` + file stem) -> file, first folder wins; files starting with ``_`` are skipped."""
    found: dict[str, Path] = {}
    for folder in search_dirs(subfolder):
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            name = prefix + path.stem
            if path.is_file() and path.suffix in SUFFIXES and name not in found and not path.stem.startswith("_"):
                found[name] = path
    return found


def resolve(name: str, files: dict[str, Path], what: str, error: Callable[[str], Exception]) -> Path:
    """A file by path, or by name among ``files``; ``error(message)`` makes the exception for a miss."""
    candidate = Path(name)
    if candidate.suffix in SUFFIXES and candidate.is_file():
        return candidate
    if name not in files:
        raise error(f"unknown {what} {name!r}; known: {', '.join(sorted(files)) or 'none'}")
    return files[name]
