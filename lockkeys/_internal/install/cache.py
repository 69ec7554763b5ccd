"""A cache of verified files, keyed by their sha256, so a redeploy downloads nothing again.

Layout: ``<cache dir>/files/sha256/<first two hex digits>/<sha256>`` holding the bytes. The
cache is never trusted (threat-model row 14): every hit is hashed again while it is copied out,
and an entry whose bytes no longer match its key is deleted and fetched again. Only files that
passed verification are stored, each written atomically.

The folder is ``--cache-dir``, else ``LOCKKEYS_CACHE_DIR``, else ``$XDG_CACHE_HOME/lockkeys``,
else ``~/.cache/lockkeys``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
from pathlib import Path
from typing import BinaryIO

from lockkeys._internal.fsutil import atomic_file, open_cache_entry, write_cache_entry
from lockkeys.errors import escape

log = logging.getLogger("lockkeys.install")

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1024 * 1024
#: The largest entry read without a cap from the lock (the pipeline passes each file's own).
MAX_ENTRY_SIZE = 16 * 1024**3
#: ``<cache dir>/origins/sha256/<xx>/<sha256>``: where an entry was first fetched from (a text
#: for messages only).
MAX_ORIGIN_SIZE = 4096


def default_cache_dir(environ: dict[str, str] | None = None) -> Path:
    """The cache folder when no ``--cache-dir`` is given (see the module docstring)."""
    env = dict(os.environ) if environ is None else environ
    if env.get("LOCKKEYS_CACHE_DIR"):
        return Path(env["LOCKKEYS_CACHE_DIR"])
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]) / "lockkeys"
    return Path.home() / ".cache" / "lockkeys"


class FileCache:
    """Verified files by sha256. ``root`` None disables the cache."""

    def __init__(self, root: Path | None) -> None:
        self.root = Path(root) if root is not None else None
        self.discarded: list[str] = []  # sha256 of entries found corrupt in this run

    def _entry(self, sha256: str) -> Path | None:
        if self.root is None or not _SHA256.match(sha256):
            return None
        return self.root / "files" / "sha256" / sha256[:2] / sha256

    def _origin(self, sha256: str) -> Path | None:
        if self.root is None or not _SHA256.match(sha256):
            return None
        return self.root / "origins" / "sha256" / sha256[:2] / sha256

    def fetch(self, sha256: str, dest: Path, *, max_size: int = MAX_ENTRY_SIZE) -> bool:
        """Put the entry for ``sha256`` at ``dest`` if it exists and still has that hash.

        The entry is opened without blocking and must be a regular file of at most
        ``max_size`` bytes (a FIFO planted in the cache would otherwise hang the deploy, where
        no network timeout applies); anything else is discarded with a warning. It is hashed,
        then hard-linked to ``dest`` if ``dest`` is then the very file hashed, else copied from
        the open file; the caller verifies ``dest`` again. A corrupt entry is deleted; False
        means: fetch from the source.
        """
        entry = self._entry(sha256)
        if entry is None:
            return False
        handle = open_cache_entry(entry, max_size)
        if handle is None:
            return False
        with handle:
            digest = hashlib.sha256()
            try:
                while chunk := handle.read(CHUNK):
                    digest.update(chunk)
            except OSError as exc:
                log.info("cache entry %s unreadable (%s); fetching again", entry, exc)
                return False
            if digest.hexdigest() != sha256:
                log.warning(
                    "lockkeys: cache entry %s is corrupt (sha256 %s); discarded, fetching again",
                    entry,
                    digest.hexdigest(),
                )
                self.discarded.append(sha256)
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
                return False
            return _place(entry, handle, dest)

    def origin(self, sha256: str) -> str | None:
        """Where the entry for ``sha256`` was first fetched from, as recorded when it was
        stored (None: not recorded). Said in reports only, escaped: it decides nothing."""
        path = self._origin(sha256)
        if path is None:
            return None
        handle = open_cache_entry(path, MAX_ORIGIN_SIZE)
        if handle is None:
            return None
        with handle:
            try:
                return escape(handle.read().decode("utf-8", "replace").strip()) or None
            except OSError:
                return None

    def store(self, sha256: str, source: Path, origin: str | None = None) -> None:
        """Keep a verified file (best effort: a read-only or full cache is not an error), and
        ``origin``, where it was fetched from, beside it."""
        entry = self._entry(sha256)
        if entry is None or entry.exists():
            return
        origin_path = self._origin(sha256)
        if origin and origin_path is not None:
            write_cache_entry(origin_path, origin.encode("utf-8"))
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            with (
                atomic_file(entry, mode=None, durable=False) as out,
                open(source, "rb") as src,
            ):
                shutil.copyfileobj(src, out, CHUNK)
        except OSError as exc:
            log.info("cannot store %s in the cache (%s)", source.name, exc)


def _place(entry: Path, handle: BinaryIO, dest: Path) -> bool:
    """``dest`` becomes the file just hashed through ``handle``: a hard link when the entry's
    path still names that file, else a copy of the open file (never a path swapped since)."""
    try:
        try:
            os.link(entry, dest, follow_symlinks=False)
            linked, opened = os.stat(dest, follow_symlinks=False), os.fstat(handle.fileno())
            if (linked.st_dev, linked.st_ino) == (opened.st_dev, opened.st_ino):
                return True
            dest.unlink()
        except OSError:
            pass
        handle.seek(0)
        with open(dest, "xb") as out:
            shutil.copyfileobj(handle, out, CHUNK)
    except OSError as exc:
        log.info("cannot read cache entry %s (%s); fetching again", entry, exc)
        with contextlib.suppress(FileNotFoundError):
            dest.unlink()
        return False
    return True
