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


def _not_own(venv: Path, python: Path, what: str, required: bool) -> str:
    """``python``, unless ``venv`` is lockkeys' own environment and the command changes it:
    then only ``--python`` may name it (its packages would mix with lockkeys' own)."""
    if required and venv.resolve() == Path(sys.prefix).resolve():
        raise UsageError(
            f"the target environment, {what}, is lockkeys' own environment",
            file=str(venv),
            expected="an environment of the application, apart from lockkeys' own",
            found=f"lockkeys runs from {sys.prefix}",
            fix="make a virtual environment for the application and pass --python "
            "PATH/TO/ENV/bin/python (or activate it); to install into lockkeys' own "
            f"environment after all, name it: --python {python}",
        )
    return str(python)


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
        return _not_own(Path(active), found, "the active virtual environment", required)
    if project_dir is not None:
        local = project_dir / ".venv"
        if local.is_dir():
            return _not_own(local, _venv_python(local), f"{local}", required)
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
