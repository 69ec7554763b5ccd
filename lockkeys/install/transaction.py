"""All or nothing for the target environment: back up what an install may change, and restore
it exactly if anything fails (threat-model rows 19 and 23).

Before the installer touches the environment, every file and folder under its site-packages
and scripts folders is recorded and hard-linked into a private backup folder inside the
environment (``<prefix>/.lockkeys-rollback-*``, mode 0700, on the same file system, so this
costs no copying); files that an installer may overwrite in place are copied instead. A
manifest written before any change makes the backup usable by a later run.

On failure (the installer exits non-zero, a wheel fails to unpack, SIGINT or SIGTERM) every
file that was added is removed, every file that was removed or replaced is put back from the
backup, folders that appeared are removed again: same distributions, same versions, same bytes.
Signals are blocked while restoring. If lockkeys itself is killed (SIGKILL, power loss), the
next lockkeys run on that environment finds the backup and restores it before anything else.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import FrameType

from lockkeys.errors import UsageError
from lockkeys.install.environment import TargetEnvironment

log = logging.getLogger("lockkeys.install")

BACKUP_PREFIX = ".lockkeys-rollback-"
MANIFEST = "manifest.json"


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; ``exit_code`` is 128 + the signal number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_code = 128 + signum


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """Turn SIGTERM (and SIGINT) into an exception, so every cleanup and rollback runs.

    Only in the main thread (where Python delivers signals); elsewhere a no-op.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_it(signum: int, _frame: FrameType | None) -> None:
        raise Interrupted(signum)

    old_term = signal.signal(signal.SIGTERM, raise_it)
    old_int = signal.signal(signal.SIGINT, raise_it)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old_term)
        signal.signal(signal.SIGINT, old_int)


@contextlib.contextmanager
def signals_blocked() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _roots(env: TargetEnvironment) -> list[Path]:
    roots: list[Path] = []
    for key in ("purelib", "platlib", "scripts"):
        value = env.paths.get(key)
        if not value:
            continue
        path = Path(value)
        if path not in roots and path.is_dir():
            roots.append(path)
    return roots


def _link_or_copy(src: Path, dst: Path) -> None:
    if src.is_symlink():
        os.symlink(os.readlink(src), dst)
        return
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _put_back(saved: Path, target: Path, *, copy: bool) -> None:
    """Replace ``target`` by the saved file, atomically (a temporary name, then rename)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.lockkeys-restore"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    if saved.is_symlink():
        os.symlink(os.readlink(saved), tmp)
    elif copy:
        shutil.copy2(saved, tmp)
    else:
        try:
            os.link(saved, tmp)
        except OSError:
            shutil.copy2(saved, tmp)
    os.replace(tmp, target)


def _same_file(a: Path, b: Path) -> bool:
    try:
        sa, sb = os.lstat(a), os.lstat(b)
    except FileNotFoundError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


class Transaction:
    """One change of an environment that either completes or is undone."""

    def __init__(self, env: TargetEnvironment) -> None:
        self.prefix = Path(env.prefix)
        self.roots = _roots(env)
        self.backup: Path | None = None
        self.files: list[list[str]] = []  # per root: relative paths that existed
        self.dirs: list[list[str]] = []  # per root: relative folders that existed
        self.copied: set[str] = set()  # "index/rel" of files saved by copy
        self.outside: dict[str, bool] = {}  # absolute path outside the roots -> existed

    # -- before -------------------------------------------------------------------------------

    def begin(self, at_risk: Iterable[Path] = ()) -> None:
        """Record and save the environment. ``at_risk``: absolute paths an installer may
        write; those that exist are copied (not linked), those outside the roots are tracked
        so that they are removed again, or restored, on rollback."""
        recover(self.prefix)
        try:
            backup = Path(
                tempfile.mkdtemp(prefix=f"{BACKUP_PREFIX}{os.getpid()}-", dir=self.prefix)
            )
        except OSError as exc:
            raise UsageError(
                "cannot write into the target environment",
                file=str(self.prefix),
                found=str(exc),
                fix="run as the environment's owner, or choose another environment with --python",
            ) from None
        self.backup = backup  # mkdtemp: mode 0700
        risky = {Path(os.path.normpath(p)) for p in at_risk}
        for index, root in enumerate(self.roots):
            files: list[str] = []
            dirs: list[str] = []
            saved = backup / "tree" / str(index)
            saved.mkdir(parents=True)
            for dirpath, dirnames, filenames in os.walk(root):
                here = Path(dirpath)
                rel_dir = here.relative_to(root)
                for name in dirnames:
                    if (here / name).is_symlink():
                        filenames.append(name)
                dirnames[:] = [d for d in dirnames if not (here / d).is_symlink()]
                for name in dirnames:
                    rel = str(rel_dir / name)
                    dirs.append(rel)
                    (saved / rel).mkdir()
                for name in filenames:
                    rel = str(rel_dir / name)
                    src = here / name
                    files.append(rel)
                    if src in risky and not src.is_symlink():
                        shutil.copy2(src, saved / rel)
                        self.copied.add(f"{index}/{rel}")
                    else:
                        _link_or_copy(src, saved / rel)
            self.files.append(files)
            self.dirs.append(dirs)
        extra = backup / "outside"
        extra.mkdir()
        for number, path in enumerate(sorted(risky)):
            if any(path.is_relative_to(root) for root in self.roots):
                continue
            exists = path.is_file() or path.is_symlink()
            self.outside[str(path)] = exists
            if exists:
                shutil.copy2(path, extra / str(number), follow_symlinks=False)
        manifest = {
            "pid": os.getpid(),
            "roots": [str(r) for r in self.roots],
            "files": self.files,
            "dirs": self.dirs,
            "copied": sorted(self.copied),
            "outside": [[p, e, str(n)] for n, (p, e) in enumerate(sorted(self.outside.items()))],
        }
        tmp = backup / f"{MANIFEST}.tmp"
        tmp.write_text(json.dumps(manifest), encoding="utf-8")
        os.replace(tmp, backup / MANIFEST)

    # -- after --------------------------------------------------------------------------------

    def commit(self) -> None:
        if self.backup is not None:
            shutil.rmtree(self.backup, ignore_errors=True)
            self.backup = None

    def rollback(self) -> list[str]:
        """Undo every change; returns what could not be restored (empty: all of it)."""
        if self.backup is None:
            return []
        with signals_blocked():
            problems = _restore(self.backup, _load(self.backup))
            shutil.rmtree(self.backup, ignore_errors=True)
            self.backup = None
        return problems


def _load(backup: Path) -> dict[str, object]:
    data = json.loads((backup / MANIFEST).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _restore(backup: Path, manifest: dict[str, object]) -> list[str]:
    problems: list[str] = []
    roots = [Path(str(r)) for r in manifest["roots"]]  # type: ignore[attr-defined]
    all_files: list[list[str]] = manifest["files"]  # type: ignore[assignment]
    all_dirs: list[list[str]] = manifest["dirs"]  # type: ignore[assignment]
    copied = set(manifest["copied"])  # type: ignore[call-overload]
    for index, root in enumerate(roots):
        files = set(all_files[index])
        dirs = set(all_dirs[index])
        saved = backup / "tree" / str(index)
        # 1. remove what appeared
        for dirpath, dirnames, filenames in os.walk(root, topdown=False):
            here = Path(dirpath)
            rel_dir = here.relative_to(root)
            for name in [*filenames, *(d for d in dirnames if (here / d).is_symlink())]:
                rel = str(rel_dir / name)
                if rel not in files:
                    try:
                        (here / name).unlink()
                    except OSError as exc:
                        problems.append(f"cannot remove {here / name}: {exc}")
            for name in dirnames:
                rel = str(rel_dir / name)
                path = here / name
                if rel not in dirs and not path.is_symlink():
                    try:
                        path.rmdir()
                    except OSError as exc:
                        problems.append(f"cannot remove folder {path}: {exc}")
        # 2. put back what was removed or replaced
        for rel in sorted(dirs):
            (root / rel).mkdir(parents=True, exist_ok=True)
        for rel in sorted(files):
            target = root / rel
            source = saved / rel
            was_copied = f"{index}/{rel}" in copied
            if not was_copied and _same_file(source, target):
                continue
            try:
                _put_back(source, target, copy=was_copied)
            except OSError as exc:
                problems.append(f"cannot restore {target}: {exc}")
    for path_text, existed, number in manifest["outside"]:  # type: ignore[attr-defined]
        path = Path(path_text)
        try:
            if existed:
                _put_back(backup / "outside" / number, path, copy=True)
            elif path.is_file() or path.is_symlink():
                path.unlink()
        except OSError as exc:
            problems.append(f"cannot restore {path}: {exc}")
    return problems


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (one owned by another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover(prefix: Path) -> list[str]:
    """Finish what a killed lockkeys left: restore from any complete backup whose owner is
    gone, and delete backups that never got a manifest (nothing had been changed yet)."""
    restored: list[str] = []
    try:
        candidates = sorted(prefix.glob(f"{BACKUP_PREFIX}*"))
    except OSError:
        return restored
    for backup in candidates:
        if not backup.is_dir() or backup.is_symlink():
            continue
        if os.lstat(backup).st_uid != os.getuid():
            continue
        manifest_path = backup / MANIFEST
        if manifest_path.is_file():
            manifest = _load(backup)
            pid = manifest.get("pid")
            if isinstance(pid, int) and pid != os.getpid() and process_alive(pid):
                continue  # another lockkeys is working on this environment right now
            with signals_blocked():
                problems = _restore(backup, manifest)
            if problems:
                log.warning("lockkeys: restoring %s: %s", backup, "; ".join(problems))
            log.warning("lockkeys: restored %s to its state before an interrupted install", prefix)
            restored.append(str(backup))
        else:
            name = backup.name[len(BACKUP_PREFIX) :]
            pid_text = name.split("-", 1)[0]
            if pid_text.isdigit() and process_alive(int(pid_text)) and int(pid_text) != os.getpid():
                continue
        shutil.rmtree(backup, ignore_errors=True)
    return restored
