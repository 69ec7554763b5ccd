"""Reading either side of a lock comparison: a lock file, or ``git:REF[:PATH]`` via git."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from lockkeys._internal.lockmodel.io import parse_lock_bytes, read_lock_bytes
from lockkeys._internal.lockmodel.lock import Lock
from lockkeys._internal.lockmodel.walk import parse_document
from lockkeys.errors import InputError, UsageError, escape

Side = tuple[Lock, str, dict[str, Any]]  # the lock, its label, and its TOML document as read


def read_side(spec: str, default_path: Path) -> tuple[Lock, str]:
    """A lock file, or ``git:REF[:PATH]`` read with ``git show REF:PATH``.

    PATH defaults to ``default_path``, relative to the current folder (``REF:./PATH``).
    """
    lock, label, _doc = read_side_document(spec, default_path)
    return lock, label


def read_side_document(spec: str, default_path: Path) -> Side:
    """:func:`read_side`, with the TOML document as it is (every key, known or not)."""
    if not spec.startswith("git:"):
        data = read_lock_bytes(Path(spec))
        return _parsed(data, spec)
    ref, _, path_text = spec[len("git:") :].partition(":")
    if not ref:
        raise UsageError(f"{spec!r}: no git revision", expected="git:REF or git:REF:PATH")
    path = Path(path_text) if path_text else default_path
    folder = path.parent if path.is_absolute() else Path.cwd() / path.parent
    try:
        proc = subprocess.run(
            ["git", "show", f"{ref}:./{path.name}"],
            cwd=folder,
            capture_output=True,
            check=False,
            timeout=60,
        )
    except FileNotFoundError:
        raise UsageError("git is not installed", fix="pass the old lock as a file") from None
    except NotADirectoryError:
        raise UsageError(f"{spec}: no such folder {folder}") from None
    label = f"{ref}:{path}"
    if proc.returncode != 0:
        raise InputError(
            f"git show {ref}:{path.name} failed: "
            + escape(
                proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:][0]
                if proc.stderr.strip()
                else f"exit {proc.returncode}"
            ),
            file=label,
            fix="name a revision and path that exist, e.g. git:main or git:HEAD~1:pylock.toml",
        )
    return _parsed(proc.stdout, label)


def _parsed(data: bytes, label: str) -> Side:
    lock = parse_lock_bytes(data, label)
    return lock, label, parse_document(data.decode("utf-8"), label)
