"""Which extras and dependency groups a deploy asked for, checked against the lock."""

from __future__ import annotations

from collections.abc import Sequence

from packaging.utils import canonicalize_name

from lockkeys._internal.lockmodel.lock import Lock
from lockkeys.errors import UsageError


def chosen(
    lock: Lock, extras: Sequence[str], groups: Sequence[str] | None, file: str
) -> tuple[frozenset[str], frozenset[str]]:
    """The extras and dependency groups asked for, normalized and checked against the lock
    (``groups`` None: the lock's ``default-groups``)."""
    wanted = frozenset(canonicalize_name(e) for e in extras)
    unknown = sorted(wanted - set(lock.extras))
    if unknown:
        raise UsageError(
            f"--extra {', '.join(unknown)}: not an extra of this lock",
            file=file,
            expected="one of: " + ", ".join(lock.extras) if lock.extras else "no extras",
            fix="add it to [project.optional-dependencies] and re-lock",
        )
    if groups is None:
        return wanted, frozenset(lock.default_groups)
    chosen_groups = frozenset(canonicalize_name(g) for g in groups)
    unknown = sorted(chosen_groups - set(lock.dependency_groups))
    if unknown:
        raise UsageError(
            f"--group {', '.join(unknown)}: not a dependency group of this lock",
            file=file,
            expected="one of: " + ", ".join(lock.dependency_groups)
            if lock.dependency_groups
            else "no dependency groups",
            fix="add it to [dependency-groups] and re-lock",
        )
    return wanted, chosen_groups


__all__ = ["chosen"]
