"""What `lockkeys lock` (or ``lock --check``) did, as the library returns it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lockkeys._internal.lockmodel.changes import Change
from lockkeys._internal.lockmodel.lock import Lock


@dataclass(frozen=True)
class LockOutcome:
    """What a lock (or ``--check``) did: the lock built or read, and the message to print."""

    path: Path
    lock: Lock | None
    written: bool
    stale: bool  # for --check: the lock is missing or its inputs changed
    message: str
    changes: tuple[Change, ...] = ()  # from the previous lock (empty for --check)
    previous: Lock | None = None
    dry_run: bool = False


__all__ = ["LockOutcome"]
