"""Finding the configuration file and loading it into a validated :class:`LockkeysConfig`."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from lockkeys._internal.config.messages import convert_validation_error
from lockkeys._internal.config.project import (
    dependency_groups,
    project_dependencies,
    project_extras,
    project_requires_python,
)
from lockkeys._internal.config.schema import INTERNAL_KEYS, LockkeysConfig
from lockkeys._internal.config.validation import key_prefix_for
from lockkeys._internal.fsutil import read_regular_file
from lockkeys._internal.limits import MAX_CONFIG_FILE, load_toml
from lockkeys.errors import InputError, UsageError

__all__ = ["find_config", "load_config"]


def _read_toml(path: Path, display: str) -> dict[str, Any]:
    if not path.exists() and not path.is_symlink():
        raise UsageError(
            "configuration file not found",
            file=display,
            fix="correct --config PATH",
        )
    data = read_regular_file(path, "configuration file", MAX_CONFIG_FILE)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"not UTF-8 text: {exc.reason} at byte {exc.start}",
            file=display,
            fix="save the file as UTF-8",
        ) from None
    try:
        return load_toml(text, display)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = re.search(r"^(.*) \(at line (\d+), column (\d+)\)$", message)
        if match:
            reason, line, column = match.groups()
            message = f"invalid TOML at line {line}, column {column}: {reason}"
        else:
            message = f"invalid TOML: {message}"
        raise InputError(message, file=display, fix="correct the TOML syntax") from None


def _has_lockkeys_table(doc: Mapping[str, Any]) -> bool:
    tool = doc.get("tool")
    return isinstance(tool, Mapping) and "lockkeys" in tool


def find_config(cwd: Path | None = None) -> Path:
    """The config file in ``cwd``: a pyproject.toml with [tool.lockkeys], or lockkeys.toml."""
    folder = Path(cwd) if cwd is not None else Path.cwd()
    pyproject = folder / "pyproject.toml"
    lockkeys_toml = folder / "lockkeys.toml"
    candidates: list[Path] = []
    if pyproject.is_file() and _has_lockkeys_table(_read_toml(pyproject, "pyproject.toml")):
        candidates.append(pyproject)
    if lockkeys_toml.is_file():
        candidates.append(lockkeys_toml)
    if len(candidates) == 2:
        raise UsageError(
            "both pyproject.toml (with [tool.lockkeys]) and lockkeys.toml configure lockkeys",
            file=str(folder),
            fix="pass --config PATH to choose one, or remove the other",
        )
    if not candidates:
        raise UsageError(
            "no lockkeys configuration found: neither pyproject.toml with a [tool.lockkeys] "
            "table nor lockkeys.toml",
            file=str(folder),
            fix="add a [tool.lockkeys] table to pyproject.toml, create lockkeys.toml, "
            "or pass --config PATH",
        )
    return candidates[0]


def load_config(config: Path | None = None, cwd: Path | None = None) -> LockkeysConfig:
    """Load and validate the configuration.

    ``config`` (``--config PATH``) picks the file: a ``pyproject.toml`` is read for its
    ``[tool.lockkeys]`` table, any other name holds the keys at top level. Without it, the file
    is found in ``cwd`` (:func:`find_config`). Raises :class:`UsageError` when no (or more than
    one) configuration is found and :class:`InputError` when it is invalid.
    """
    folder = Path(cwd) if cwd is not None else Path.cwd()
    if config is not None:
        path = Path(config)
        if not path.is_absolute():
            path = folder / path
        display = str(config)
    else:
        path = find_config(folder)
        display = path.name
    doc = _read_toml(path, display)
    prefix = key_prefix_for(path)
    project: dict[str, Any] = {
        "project-dependencies": None,
        "project-requires-python": None,
        "project-extras": {},
        "project-groups": {},
    }
    if prefix:
        tool = doc.get("tool")
        table = tool.get("lockkeys") if isinstance(tool, Mapping) else None
        if table is None:
            raise UsageError(
                "no [tool.lockkeys] table",
                file=display,
                fix="add a [tool.lockkeys] table, or pass the lockkeys.toml with --config",
            )
        project = _project_tables(doc, display)
    else:
        table = doc
    if not isinstance(table, Mapping):
        raise InputError(f"{prefix.rstrip('.')}: expected a table", file=display)
    for key in table:
        if key in INTERNAL_KEYS:
            raise InputError(f"{prefix}{key}: unknown key {key!r}", file=display)
    data: dict[str, Any] = {**table, "config-path": path, **project}
    try:
        return LockkeysConfig.model_validate(data, by_alias=True, by_name=False)
    except ValidationError as exc:
        raise convert_validation_error(exc, table, display, prefix) from None


def _project_tables(doc: Mapping[str, Any], display: str) -> dict[str, Any]:
    """The [project] and [dependency-groups] values a pyproject.toml gives the config."""
    return {
        "project-dependencies": project_dependencies(doc, display),
        "project-requires-python": project_requires_python(doc, display),
        "project-extras": project_extras(doc, display),
        "project-groups": dependency_groups(doc, display),
    }
