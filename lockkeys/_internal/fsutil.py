"""Deterministic, atomic file writes (temp file in the same folder, fsync, rename), and
bounded reads of local input files and cache entries (regular files only, with a size cap,
opened without blocking)."""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger("lockkeys.cache")

#: Opening never blocks (a FIFO), never follows a symbolic link, never takes a terminal.
_CACHE_OPEN = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NOCTTY", 0)
)


@contextlib.contextmanager
def atomic_file(
    path: Path,
    *,
    mode: int | None = 0o644,
    overwrite: bool = True,
    durable: bool = True,
    suffix: str = ".tmp",
) -> Iterator[BinaryIO]:
    """The one way lockkeys puts a file in place: readers see the old file or the new one.

    Yields a temporary file opened for writing in ``path``'s folder (named
    ``.<name>.<random><suffix>``); when the block ends normally the file gets ``mode`` (None:
    the temporary file's own 0600), is flushed, fsynced with its folder when ``durable``,
    and renamed onto ``path``. With ``overwrite=False`` an existing file is never replaced
    (FileExistsError), checked atomically by linking the finished file into place. When the
    block raises, the temporary file is deleted and nothing appears at ``path``.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=directory)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w+b") as handle:
            yield handle
            handle.flush()
            if mode is not None:
                os.fchmod(handle.fileno(), mode)
            if durable:
                os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails with FileExistsError when path exists
            tmp.unlink()
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    if durable:
        with contextlib.suppress(OSError):
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644, overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` durably and atomically (see :func:`atomic_file`)."""
    with atomic_file(path, mode=mode, overwrite=overwrite) as handle:
        handle.write(data)


def write_cache_entry(path: Path, data: bytes) -> None:
    """Write a cache entry atomically (temp file + rename), without ``fsync``: a cache entry lost
    in a crash is only a cache miss. A cache that cannot be written is skipped silently."""
    path = Path(path)
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path, mode=None, durable=False, suffix=".part") as handle:
            handle.write(data)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_cache_entry(path: Path, max_size: int) -> BinaryIO | None:
    """A cache entry opened for reading (blocking reads from here on), or None for a miss.

    The entry must be a regular file of at most ``max_size`` bytes. It is opened with
    ``O_NONBLOCK`` (a FIFO planted in the cache would block ``open`` and ``read`` forever, and
    no network timeout applies to a local file) and ``O_NOFOLLOW``, then checked with
    ``fstat``. A missing entry is a plain miss; anything else that is not a usable entry (a
    FIFO, a device, a socket, a folder, a symbolic link, an oversized or unreadable file) is
    discarded with a warning naming it, and the caller goes on as on a miss.
    """
    try:
        fd = os.open(path, _CACHE_OPEN)
    except FileNotFoundError:
        return None
    except OSError as exc:
        link = _is_link(path)
        discard_cache_entry(
            path, "is a symbolic link" if link else f"cannot be read ({exc.strerror})"
        )
        return None
    try:
        info = os.fstat(fd)
        problem = _entry_problem(info, max_size)
        if problem is None:
            os.set_blocking(fd, True)
            return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    discard_cache_entry(path, problem, info)
    return None


def _entry_problem(info: os.stat_result, max_size: int) -> str | None:
    if not stat.S_ISREG(info.st_mode):
        return f"is {_kind(info.st_mode)}, not a regular file"
    if info.st_size > max_size:
        return f"is {info.st_size:,} bytes, over the cache's cap of {max_size:,}"
    return None


def read_cache_entry(path: Path, max_size: int) -> bytes | None:
    """The bytes of a cache entry, or None (a miss): see :func:`open_cache_entry`."""
    handle = open_cache_entry(path, max_size)
    if handle is None:
        return None
    try:
        with handle:
            data = handle.read(max_size + 1)
    except OSError as exc:
        discard_cache_entry(path, f"cannot be read ({exc.strerror})")
        return None
    if len(data) > max_size:
        discard_cache_entry(path, f"grew past the cache's cap of {max_size:,} bytes")
        return None
    return data


def sweep_cache_folder(folder: Path) -> list[Path]:
    """Discard every FIFO, device or socket under ``folder`` (and every symbolic link to one),
    each with a warning; return them. For caches that another program reads (the resolvers'
    own), where lockkeys cannot open each entry itself: a FIFO planted there would block that
    program until its timeout. Symbolic links to folders are not followed; reading the
    folder's entries costs no ``stat`` for regular files and folders."""
    found: list[Path] = []
    pending = [Path(folder)]
    while pending:
        current = pending.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue  # missing or unreadable: the program reading it will say so
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                    continue
                if entry.is_file(follow_symlinks=False):
                    continue
                mode = os.stat(entry.path).st_mode  # a special file, or what a link names
            except OSError:
                continue  # vanished, or a dangling link: nothing can block on it
            if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
                continue
            discard_cache_entry(Path(entry.path), f"is {_kind(mode)}, not a regular file")
            found.append(Path(entry.path))
    return found


def discard_cache_entry(path: Path, problem: str, seen: os.stat_result | None = None) -> None:
    """Remove a bad cache entry (best effort) and say so: a warning naming the path.

    ``seen``: the entry as it was checked; a newer entry put there meanwhile is kept."""
    log.warning(
        "lockkeys: warning: cache entry %s %s; discarded, going on without it", path, problem
    )
    with contextlib.suppress(OSError):
        now = os.lstat(path)
        if seen is not None and (now.st_dev, now.st_ino) != (seen.st_dev, seen.st_ino):
            return
        if stat.S_ISDIR(now.st_mode):
            os.rmdir(path)  # only an empty folder: a cache never deletes a tree
        else:
            os.unlink(path)


def _is_link(path: Path) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(path).st_mode)
    except OSError:
        return False


def read_regular_file(
    path: Path, what: str, max_size: int, *, missing_fix: str | None = None
) -> bytes:
    """Read a local input file that must be a regular file of at most ``max_size`` bytes.

    Devices (``/dev/zero``), FIFOs (which would block), folders and sockets are refused before
    a byte is read, and so is a file over the cap; the file is opened without following a FIFO
    into a blocking open. Every refusal is an :class:`~lockkeys.errors.InputError` (exit 2)
    naming the file.
    """
    from lockkeys.errors import InputError

    name = str(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise InputError(f"{what} not found", file=name, fix=missing_fix) from None
    except IsADirectoryError:
        raise InputError(f"is a folder, not a {what}", file=name) from None
    except OSError as exc:
        raise InputError(f"cannot read the {what}: {exc.strerror}", file=name) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(
                f"is {_kind(info.st_mode)}, not a {what}",
                file=name,
                expected=f"a regular file of at most {max_size:,} bytes",
            )
        if info.st_size > max_size:
            raise InputError(
                f"{what} is too large: {info.st_size:,} bytes",
                file=name,
                expected=f"at most {max_size:,} bytes",
            )
        os.set_blocking(fd, True)
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(1 << 20, max_size + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_size:
                raise InputError(
                    f"{what} is too large: it grew past {max_size:,} bytes while being read",
                    file=name,
                )
        return b"".join(chunks)
    except OSError as exc:
        raise InputError(f"cannot read the {what}: {exc.strerror}", file=name) from None
    finally:
        os.close(fd)


# -- liveness of a private folder, correct across pid namespaces ---------------------------------

FOLDER_LOCK = ".lockkeys-lock"


def hold_folder_lock(folder: Path) -> int:
    """Create ``folder``'s lock file (mode 0600) and hold an exclusive ``flock`` on it
    (a :class:`~lockkeys.errors.UsageError` when that is not possible).

    The returned descriptor is the proof that the folder's owner is alive: keep it open for as
    long as the folder is in use, close it when done (the kernel also drops the lock when the
    process dies, whatever pid namespace it ran in). A pid written into a name proves nothing
    across containers that share a file system.
    """
    import fcntl

    from lockkeys.errors import UsageError

    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    path = Path(folder) / FOLDER_LOCK
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        raise UsageError(
            "cannot create the lock file of a private folder",
            file=str(path),
            found=exc.strerror,
            fix="check the folder's file system and permissions",
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        raise UsageError(
            "cannot lock a private folder (lockkeys proves that a run is alive by an flock "
            "held on its folders)",
            file=str(path),
            expected="a file system with flock support",
            found=exc.strerror,
            fix="point TMPDIR (and the environment) at a local file system",
        ) from None
    return fd


def claim_abandoned_folder(folder: Path) -> int | None:
    """Take the lock of a folder another run made, when that run is gone.

    Returns a descriptor holding the lock (the caller may now clean the folder up, then closes
    it), or None when a live process holds the lock. Never blocks. FileNotFoundError: the
    folder has no lock file (made by an older lockkeys, or being created this instant).
    """
    import fcntl

    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(Path(folder) / FOLDER_LOCK, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return None  # not ours to judge: leave it alone
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd
