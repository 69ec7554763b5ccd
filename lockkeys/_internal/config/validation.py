"""Shared pieces of the configuration schema: the model settings, the error that carries a
TOML key path, name and threshold checks, and the resolution of paths against the config
folder."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, TypeAlias

from pydantic import ConfigDict
from pydantic_core import PydanticCustomError

__all__ = [
    "MODEL_CONFIG",
    "NAME",
    "SIGNATURE_CHECKS",
    "Resolver",
    "Verify",
    "check_name",
    "check_signer_list",
    "check_threshold",
    "is_url",
    "key_prefix_for",
    "problem",
    "relative",
    "under",
]

Verify: TypeAlias = Literal["hashes", "signatures", "hashes+signatures", "none"]
Resolver: TypeAlias = Literal["pip-tools", "uv"]

SIGNATURE_CHECKS: frozenset[str] = frozenset({"signatures", "hashes+signatures"})
NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")


def _kebab(name: str) -> str:
    return name.replace("_", "-")


MODEL_CONFIG = ConfigDict(
    frozen=True,
    extra="forbid",
    alias_generator=_kebab,
    validate_by_name=True,
    validate_by_alias=True,
    serialize_by_alias=True,
)


def problem(message: str, *at: str | int, fix: str | None = None) -> PydanticCustomError:
    """A validation error whose key path continues below the model's own location by ``at``."""
    return PydanticCustomError(
        "lockkeys",
        "{message}",
        {"message": message, "at": tuple(at), "fix": fix},
    )


def check_name(value: str, what: str) -> str:
    """``value`` if it is a valid source/signer name, else a :func:`problem`."""
    if not NAME.match(value):
        raise problem(
            f"invalid {what} name {value!r}",
            fix="use letters, digits, '.', '_' and '-', starting and ending with a letter or digit",
        )
    return value


def check_signer_list(signers: Sequence[str]) -> None:
    """Refuse a signer listed twice (``threshold`` counts distinct signers)."""
    seen: set[str] = set()
    for index, name in enumerate(signers):
        if name in seen:
            raise problem(
                f"signer {name!r} is listed twice",
                "signers",
                index,
                fix="list each signer once; `threshold` counts distinct signers",
            )
        seen.add(name)


def check_threshold(threshold: int | None, count: int, *, inherited: bool = False) -> None:
    """Refuse a threshold below 1 or above the ``count`` signers it counts."""
    if threshold is None:
        return
    if threshold < 1:
        raise problem(
            f"{threshold} is below 1: at least one signature must be required",
            "threshold",
            fix="set 1 <= threshold <= the number of signers",
        )
    if threshold > count:
        where = " in [tool.lockkeys.default]" if inherited else ""
        noun = "signer" if count == 1 else "signers"
        raise problem(
            f"{threshold} exceeds the {count} {noun} listed{where}",
            "threshold",
            fix=f"lower threshold to at most {count}, or list more signers",
        )


def under(root: Path, path: Path) -> Path:
    """``path`` (``~`` expanded) resolved against the config folder ``root``, normalized."""
    return Path(os.path.normpath(os.path.join(root, os.path.expanduser(path))))


def is_url(value: str) -> bool:
    """Whether a store entry is an http(s) URL rather than a folder."""
    return value.startswith(("http://", "https://"))


def relative(path: Path | str, root: Path) -> str:
    """``path`` relative to ``root`` with ``/`` (as given when on another Windows drive)."""
    try:
        return Path(os.path.relpath(path, root)).as_posix()
    except ValueError:  # another drive on Windows
        return Path(path).as_posix()


def key_prefix_for(path: Path) -> str:
    """``tool.lockkeys.`` for a pyproject.toml, empty for a lockkeys.toml."""
    return "tool.lockkeys." if path.name == "pyproject.toml" else ""
