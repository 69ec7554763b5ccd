"""The library surface of lockkeys: what deploy tooling calls from Python.

Every command of the ``lockkeys`` CLI is a function here, taking and returning typed objects;
the CLI parses its options, calls one of these and renders the result. Everything under
``lockkeys._internal`` is internal: its names and signatures may change in any release.
Errors are the exceptions of :mod:`lockkeys.errors` (one root, :class:`LockkeysError`, with
the exit code each kind maps to).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# -- locking and review (lock, check, diff, gate, why, export) ------------------------------


# -- keys and signatures (key generate/show, sign, verify-signature) ------------------------


# -- deploying (verify, download, install, sync, audit) -------------------------------------
#
# The lock is opened once, at the top (:func:`open_request`: read once, its lock signatures
# checked over those bytes, the same bytes parsed); the entry points take the request it
# returns and return the typed :class:`Report` of the run. Nothing installs unless every
# package verified; a refusal is a report (``report.ok`` False), a source that cannot be
# reached raises :class:`~lockkeys.errors.SourceError`.

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime
    from pathlib import Path

    from lockkeys._internal.install.report import Report as Report
    from lockkeys._internal.install.request import DeployRequest as DeployRequest
    from lockkeys._internal.install.request import Progress as Progress
    from lockkeys._internal.locktrust.locksignature import DeployLock as DeployLock


def find_lockfile(config: Path | None = None) -> Path:
    """The lock a project uses: ``config``'s `lockfile`, else the one found in the current
    folder's lockkeys.toml or pyproject.toml, else ./pylock.toml."""
    from lockkeys._internal.lockmodel.locate import find_lockfile as locate

    return locate(config)


def choose_python(python: str | None, *, project_dir: Path, required: bool) -> str | None:
    """The target interpreter: ``python``, else the active virtual environment, else .venv in
    ``project_dir``; ``required`` False allows None (the running interpreter)."""
    from lockkeys._internal.install.target import choose_python as choose

    return choose(python, project_dir=project_dir, required=required)


def open_lock(
    lock_path: Path, *, lock_signers: Sequence[Path] = (), lock_threshold: int | None = None
) -> DeployLock:
    """Read the lock once and require its signatures (``lock_signers``, else
    ``LOCKKEYS_LOCK_SIGNERS`` / ``LOCKKEYS_LOCK_THRESHOLD``; none: no requirement), then parse
    those very bytes; a refused lock raises VerificationError before anything was parsed."""
    from lockkeys._internal.locktrust.locksignature import lock_signature_policy
    from lockkeys._internal.locktrust.locksignature import open_lock as open_signed

    return open_signed(lock_path, lock_signature_policy(lock_signers, lock_threshold))


def open_request(
    lock_path: Path,
    *,
    lock_signers: Sequence[Path] = (),
    lock_threshold: int | None = None,
    python: str | None = None,
    wheelhouse: Path | None = None,
    extras: Sequence[str] = (),
    groups: Sequence[str] | None = None,
    cache_dir: Path | bool | None = True,
    timeout: float | None = None,
    installer: str | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> DeployRequest:
    """Open and verify the lock once (as :func:`open_lock`) and build the request every
    deploy function takes. ``groups`` None: the lock's default groups; ``cache_dir`` True:
    the default verified-file cache, None/False: none; ``timeout`` (seconds per network read)
    and ``installer`` (builtin, pip or uv) None: their defaults."""
    from dataclasses import replace

    from lockkeys._internal.install.request import DeployRequest

    request = DeployRequest(
        lock=open_lock(lock_path, lock_signers=lock_signers, lock_threshold=lock_threshold),
        python=python,
        wheelhouse=wheelhouse,
        extras=tuple(extras),
        groups=None if groups is None else tuple(groups),
        cache_dir=cache_dir,
        now=now,
        progress=progress,
    )
    if timeout is not None:
        request = replace(request, timeout=timeout)
    if installer is not None:
        request = replace(request, installer=installer)
    return request


def expiry_warnings(lock: DeployLock) -> list[str]:
    """One line per certificate pinned in the lock that expired or expires soon (within
    LOCKKEYS_EXPIRY_WARNING_DAYS, default 30); a warning never refuses by itself."""
    from lockkeys._internal.locktrust.keyring import lock_keyring
    from lockkeys._internal.trust.expiry import expiry_warnings as warnings
    from lockkeys._internal.trust.expiry import warning_days

    if not lock.lock.tool.signers:
        return []
    return warnings(lock_keyring(lock.lock, str(lock.path)), warning_days())


def verify(request: DeployRequest) -> Report:
    """Fetch (or read from the request's wheelhouse) and verify every package; install nothing."""
    from lockkeys._internal.install import pipeline

    return pipeline.verify(request)


def download(request: DeployRequest, dest: Path) -> Report:
    """Verify every file the target needs, then keep only verified files (and their
    signatures) in ``dest``."""
    from lockkeys._internal.install import pipeline

    return pipeline.download(request, dest)


def install(request: DeployRequest, *, dry_run: bool = False) -> Report:
    """Verify everything, then install or upgrade what is missing, other or altered, in one
    transaction (all or nothing); ``dry_run`` only reports the plan."""
    from lockkeys._internal.install import pipeline

    return pipeline.install(request, dry_run=dry_run)


def sync(request: DeployRequest, *, dry_run: bool = False) -> Report:
    """Like :func:`install`, and also remove the distributions the lock does not hold."""
    from lockkeys._internal.install import pipeline

    return pipeline.install(request, sync=True, dry_run=dry_run)


def audit(request: DeployRequest) -> Report:
    """`verify --installed`: the target against the lock (missing, extra and other-version
    distributions, installed files that differ from the verified wheel's RECORD); the
    differences are ``report.findings``."""
    from lockkeys._internal.install import pipeline

    return pipeline.audit(request)
