"""Which environment `install`, `sync` and `verify --installed` act on.

`--python PATH`, else the active virtual environment (``VIRTUAL_ENV``), else ``.venv`` beside
the configuration (or the lock, when there is no configuration), else an error that says how
to choose. Never lockkeys' own environment by accident: naming it with ``--python`` is fine.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from lockkeys.errors import UsageError


def _venv_python(venv: Path) -> Path:
    for candidate in (venv / "bin" / "python", venv / "Scripts" / "python.exe"):
        if candidate.exists():
            return candidate
    return venv / "bin" / "python"


def choose_python(
    python: str | os.PathLike[str] | None,
    *,
    project_dir: Path | None,
    environ: Mapping[str, str] | None = None,
    required: bool = True,
) -> str | None:
    """The target interpreter's path.

    ``required`` False (``verify`` and ``download``, which change nothing) falls back to None,
    meaning lockkeys' own interpreter, where install and sync raise a UsageError instead.
    """
    if python is not None:
        return os.fspath(python)
    env = os.environ if environ is None else environ
    active = env.get("VIRTUAL_ENV")
    if active:
        found = _venv_python(Path(active))
        if not found.exists():
            raise UsageError(
                "VIRTUAL_ENV names a folder without a Python interpreter",
                file=active,
                fix="activate an existing virtual environment, or pass --python PATH",
            )
        return str(found)
    if project_dir is not None:
        local = project_dir / ".venv"
        if local.is_dir():
            return str(_venv_python(local))
    if not required:
        return None
    where = f" (looked for {project_dir / '.venv'})" if project_dir is not None else ""
    raise UsageError(
        "no target environment: no --python, no active virtual environment (VIRTUAL_ENV), "
        f"and no .venv beside the configuration{where}",
        fix="pass --python PATH/TO/ENV/bin/python, activate the environment, or create "
        f".venv beside the configuration (lockkeys' own interpreter is {sys.executable}; "
        "it is used only when named with --python)",
    )
