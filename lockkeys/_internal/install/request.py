"""One deploy run's request: the lock opened and verified once, and the options every deploy
entry point (verify, download, install, sync, audit) shares.

:func:`open_request` is the one place a deploy opens its lock: it reads the file once, checks
the lock signatures over those bytes (when lock signers are required) and parses the same
bytes (:func:`lockkeys._internal.locktrust.locksignature.open_lock`). The entry points of
:mod:`lockkeys._internal.install.pipeline` take the :class:`DeployRequest` it returns and
never open the lock again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from lockkeys._internal.install.acquire import DEFAULT_TIMEOUT
from lockkeys._internal.install.installer import DEFAULT_INSTALLER
from lockkeys._internal.locktrust.locksignature import DeployLock, LockSignaturePolicy, open_lock

Progress = Callable[[str, str], None]  # (package, stage)


@dataclass(frozen=True)
class DeployRequest:
    """What a deploy run works on: the opened lock and the options of the run.

    ``python``: the target interpreter (None: the running one); ``wheelhouse``: read files
    from this folder, no network; ``extras`` and ``groups``: the application's extras and
    dependency groups (groups None: the lock's default groups); ``cache_dir``: True for the
    default verified-file cache, a folder, or None/False for none; ``installer``: builtin, pip
    or uv (install and sync only); ``now``: the time certificates are judged at (None: now);
    ``progress``: called with (package, stage) as the run goes.
    """

    lock: DeployLock
    python: str | None = None
    wheelhouse: Path | None = None
    extras: tuple[str, ...] = ()
    groups: tuple[str, ...] | None = None
    cache_dir: Path | bool | None = True
    timeout: float = DEFAULT_TIMEOUT
    installer: str = DEFAULT_INSTALLER
    now: datetime | None = None
    progress: Progress | None = None

    @property
    def lock_path(self) -> Path:
        """The lock's path (for messages; its bytes were read once, by :func:`open_request`)."""
        return self.lock.path


def open_request(
    lock_path: Path,
    *,
    lock_signature: LockSignaturePolicy | None = None,
    python: str | None = None,
    wheelhouse: Path | None = None,
    extras: Sequence[str] = (),
    groups: Sequence[str] | None = None,
    cache_dir: Path | bool | None = True,
    timeout: float = DEFAULT_TIMEOUT,
    installer: str = DEFAULT_INSTALLER,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> DeployRequest:
    """Open and verify the lock at ``lock_path`` once and build the run's request.

    ``lock_signature`` requires the lock to be signed n of m (None: as
    ``LOCKKEYS_LOCK_SIGNERS`` / ``LOCKKEYS_LOCK_THRESHOLD`` say, which may be no requirement);
    a refused lock raises :class:`~lockkeys.errors.VerificationError` before anything in it
    was parsed or fetched.
    """
    return DeployRequest(
        lock=open_lock(Path(lock_path), lock_signature),
        python=python,
        wheelhouse=wheelhouse,
        extras=tuple(extras),
        groups=None if groups is None else tuple(groups),
        cache_dir=cache_dir,
        timeout=timeout,
        installer=installer,
        now=now,
        progress=progress,
    )


__all__ = ["DeployRequest", "Progress", "open_request"]
