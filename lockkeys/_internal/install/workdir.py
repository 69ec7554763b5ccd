"""The private folder (mode 0700, under the system's temporary folder) a deploy run verifies
files into, and the sweeping of folders a killed lockkeys left there."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from lockkeys._internal.fsutil import hold_folder_lock
from lockkeys._internal.install.recovery import abandoned

WORKDIR_PREFIX = "lockkeys-verified-"


def sweep_stale_workdirs(root: Path) -> None:
    """Remove private folders that a killed lockkeys left.

    A folder is abandoned when nobody holds the ``flock`` its run took on it for its whole
    lifetime: correct across pid namespaces (containers sharing ``/tmp``), where a pid says
    nothing. The pid in the name is only information. A folder without a lock file (an older
    lockkeys made it) is removed only when it is over a day old."""
    with contextlib.suppress(OSError):
        for old in root.glob(f"{WORKDIR_PREFIX}*"):
            with contextlib.suppress(OSError):
                if not old.is_dir() or old.is_symlink() or old.lstat().st_uid != os.getuid():
                    continue
                with abandoned(old, legacy=_older_than_a_day) as gone:
                    if gone:
                        shutil.rmtree(old, ignore_errors=True)


def _older_than_a_day(folder: Path) -> bool:
    return time.time() - folder.lstat().st_mtime > 24 * 3600


@contextlib.contextmanager
def private_workdir(root: Path) -> Iterator[Path]:
    """A private folder (mode 0700) in ``root``, locked for as long as the block runs."""
    workdir = Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-", dir=root))
    lock_fd: int | None = None
    try:
        workdir.chmod(0o700)
        lock_fd = hold_folder_lock(workdir)
        yield workdir
    finally:
        shutil.rmtree(workdir, ignore_errors=True)  # while still locked: no sweeper races us
        if lock_fd is not None:
            os.close(lock_fd)
