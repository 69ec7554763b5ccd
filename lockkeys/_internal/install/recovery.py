"""What a killed lockkeys left behind: whether a folder's run is gone (nobody holds its
``flock``), and restoring an environment from an abandoned transaction's backup."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from lockkeys._internal.fsutil import claim_abandoned_folder
from lockkeys._internal.install.signals import signals_blocked
from lockkeys._internal.install.transaction import (
    BACKUP_PREFIX,
    MANIFEST,
    UNRECOVERED_PREFIX,
    Places,
    load_manifest,
    restore_backup,
)

log = logging.getLogger("lockkeys.install")


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists in this pid namespace (one owned by another user counts
    as alive). Only for folders an older lockkeys made without a lock file."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def abandoned(folder: Path, *, legacy: Callable[[Path], bool]) -> Iterator[bool]:
    """Whether the run that made ``folder`` (a private workdir or a backup) is gone: nobody
    holds the ``flock`` on its lock file. While the block runs the lock is held here, so no
    other lockkeys cleans the same folder at the same time. ``legacy`` judges a folder that
    has no lock file (made by an older lockkeys, or being created this instant)."""
    try:
        fd = claim_abandoned_folder(folder)
    except FileNotFoundError:
        yield legacy(folder)
        return
    except OSError:
        yield False  # a lock file we cannot open (a symlink, no permission): not ours
        return
    if fd is None:
        yield False
        return
    try:
        yield True
    finally:
        os.close(fd)


CREATION_GRACE = 60.0  # seconds: a folder this young may be getting its lock file right now


def _legacy_backup_gone(backup: Path) -> bool:
    """A backup without a lock file: an older lockkeys' (liveness by pid, as it did), or one
    being created this instant (left alone)."""
    if time.time() - backup.lstat().st_mtime < CREATION_GRACE:
        return False
    pid: object = backup.name[len(BACKUP_PREFIX) :].split("-", 1)[0]
    if (backup / MANIFEST).is_file():
        pid = load_manifest(backup).get("pid")
    if isinstance(pid, str):
        pid = int(pid) if pid.isdigit() else None
    return not (isinstance(pid, int) and pid != os.getpid() and process_alive(pid))


def _recover_one(prefix: Path, backup: Path) -> None:
    """Restore one abandoned backup that has a manifest, inside ``prefix`` only."""
    places = Places(prefix, own=False)
    with signals_blocked():
        problems = restore_backup(backup, load_manifest(backup), places)
    if problems:
        log.warning("lockkeys: restoring %s: %s", backup, "; ".join(problems))
    if places.skipped:
        kept = backup.with_name(UNRECOVERED_PREFIX + backup.name[len(BACKUP_PREFIX) :])
        os.replace(backup, kept)
        log.warning(
            "lockkeys: the interrupted install's backup in %s names paths that are not inside "
            "this environment (was the environment copied or moved?); they were left alone: "
            "%s. Check them by hand; the backup is kept in %s",
            prefix,
            "; ".join(places.skipped[:10]),
            kept,
        )
    log.warning("lockkeys: restored %s to its state before an interrupted install", prefix)


def recover(prefix: Path) -> list[str]:
    """Finish what a killed lockkeys left: restore from any complete backup whose run is gone
    (nobody holds its lock), and delete backups that never got a manifest (nothing had been
    changed yet). Only paths inside ``prefix`` (the environment the backup was found in) are
    touched, whatever the manifest says."""
    restored: list[str] = []
    prefix = Path(os.path.normpath(os.path.abspath(prefix)))
    try:
        candidates = sorted(prefix.glob(f"{BACKUP_PREFIX}*"))
    except OSError:
        return restored
    for backup in candidates:
        with contextlib.suppress(OSError):
            if not backup.is_dir() or backup.is_symlink():
                continue
            if os.lstat(backup).st_uid != os.getuid():
                continue
        with abandoned(backup, legacy=_legacy_backup_gone) as gone:
            if not gone:
                continue  # another lockkeys is working on this environment right now
            if (backup / MANIFEST).is_file():
                _recover_one(prefix, backup)
                restored.append(str(backup))
            shutil.rmtree(backup, ignore_errors=True)
    return restored
