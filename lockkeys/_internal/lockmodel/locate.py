"""Where the lock is, without requiring a valid config (installing needs only the lock)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from lockkeys._internal.fsutil import read_regular_file
from lockkeys._internal.limits import MAX_CONFIG_FILE, load_toml
from lockkeys.errors import InputError

DEFAULT_LOCKFILE = "pylock.toml"


def _lockfile_key(config: Path) -> str | None:
    try:
        data = read_regular_file(config, "configuration file", MAX_CONFIG_FILE)
        doc = load_toml(data.decode("utf-8"), str(config))
    except (InputError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    table = doc.get("tool", {}).get("lockkeys", {}) if config.name == "pyproject.toml" else doc
    value = table.get("lockfile") if isinstance(table, dict) else None
    return value if isinstance(value, str) else None


def find_lockfile(config: Path | None = None, cwd: Path | None = None) -> Path:
    """``--config``'s `lockfile` (relative to it), else the one found in cwd, else pylock.toml."""
    cwd = cwd or Path.cwd()
    configs = [config] if config is not None else [cwd / "lockkeys.toml", cwd / "pyproject.toml"]
    for candidate in configs:
        if candidate.is_file():
            name = _lockfile_key(candidate)
            if name:
                return candidate.parent / name
            if config is not None:
                return candidate.parent / DEFAULT_LOCKFILE
    return cwd / DEFAULT_LOCKFILE
