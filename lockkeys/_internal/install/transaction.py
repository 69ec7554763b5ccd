"""All or nothing for the target environment: back up what an install may change, and restore
it exactly if anything fails (threat-model rows 19, 23 and 29).

Before the installer touches the environment, every file and folder under its site-packages
and scripts folders, and in a virtual environment under every other scheme folder inside it
(``data``, ``headers``: the prefix, with ``share/`` and ``include/``), is recorded and
hard-linked into a private backup folder inside the environment (``<prefix>/.lockkeys-rollback-*``,
mode 0700, on the same file system, so this costs no copying); files that an installer may
overwrite in place are copied instead. Every file that the RECORD of a distribution being
removed or replaced names, and every file a new wheel will write, is saved too wherever it is
(outside a virtual environment ``data`` is a system prefix, not walked whole). A manifest
written before any change makes the backup usable by a later run; its paths are relative to
the prefix.

On failure (the installer exits non-zero, a wheel fails to unpack, SIGINT or SIGTERM) every
file that was added is removed, every file that was removed or replaced is put back from the
backup, folders that appeared are removed again: same distributions, same versions, same bytes.
Signals are blocked while restoring. If lockkeys itself is killed (SIGKILL, power loss), the
next lockkeys run on that environment finds the backup and restores it before anything else.

A run holds an ``flock`` on its backup's lock file for as long as the transaction lasts; a
backup is abandoned when nobody holds it (correct across pid namespaces; the pid in the name
and manifest is information only). Recovery acts only on paths inside the prefix the backup was
found in, never through a symlink that leads out of it: a copied environment (``cp -a``, a CI
cache) recovers the copy, and leaves the original alone; anything skipped is named, and the
backup is kept as ``.lockkeys-unrecovered-*``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from lockkeys._internal.fsutil import hold_folder_lock
from lockkeys._internal.install.environment import TargetEnvironment
from lockkeys._internal.install.signals import signals_blocked
from lockkeys.errors import UsageError

log = logging.getLogger("lockkeys.install")

OWN_PREFIX = ".lockkeys-"  # lockkeys' folders in an environment: never saved or restored
BACKUP_PREFIX = ".lockkeys-rollback-"
UNRECOVERED_PREFIX = ".lockkeys-unrecovered-"
MANIFEST = "manifest.json"


ROOT_SCHEMES = ("purelib", "platlib", "scripts")
PREFIX_SCHEMES = ("data", "headers")  # their folder is (inside) the prefix in a venv


def _roots(env: TargetEnvironment) -> list[Path]:
    """The folders that are saved whole: site-packages and scripts; in a virtual environment
    also the ``data`` and ``headers`` scheme folders (the prefix itself: ``share/``,
    ``include/`` and whatever else a wheel's ``.data`` may write). Outside a virtual
    environment ``data`` is a system prefix (``/usr``): there only the files an install may
    write or remove are saved (see :meth:`Transaction.begin`)."""
    prefix = Path(os.path.normpath(os.path.abspath(env.prefix)))
    venv = bool(env.base_prefix) and os.path.realpath(env.base_prefix) != os.path.realpath(
        env.prefix
    )
    roots: list[Path] = []
    for key in ROOT_SCHEMES + (PREFIX_SCHEMES if venv else ()):
        value = env.paths.get(key)
        if not value:
            continue
        path = Path(os.path.normpath(os.path.abspath(value)))
        if key in PREFIX_SCHEMES and not path.is_relative_to(prefix):
            continue
        if path not in roots and path.is_dir():
            roots.append(path)
    return roots


def _walk(root: Path, skip: set[Path]) -> Iterator[tuple[Path, list[str], list[str]]]:
    """``os.walk`` of one root without following symlinks (a symlinked folder is listed as a
    file), leaving out the other roots nested in it and lockkeys' own backup folders."""
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        links = [d for d in dirnames if (here / d).is_symlink()]
        filenames.extend(d for d in links if here / d not in skip)
        dirnames[:] = [
            d
            for d in dirnames
            if d not in links and not d.startswith(OWN_PREFIX) and here / d not in skip
        ]
        yield here, dirnames, filenames


def _nested(root: Path, roots: list[Path]) -> set[Path]:
    return {r for r in roots if r != root and r.is_relative_to(root)}


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


def _store(path: Path, prefix: Path) -> str:
    """A path for the manifest: relative to the prefix when inside it (so that a copied
    environment's backup names the copy's files), else absolute."""
    return path.relative_to(prefix).as_posix() if path.is_relative_to(prefix) else str(path)


def _new_dirs(path: Path, prefix: Path) -> list[Path]:
    """The folders above ``path`` that do not exist yet (an install would create them)."""
    made: list[Path] = []
    folder = path.parent
    while folder != folder.parent and folder != prefix and not os.path.lexists(folder):
        made.append(folder)
        folder = folder.parent
    return made


class Places:
    """Where a manifest's paths are in the environment whose backup is being restored.

    ``own``: the run that made the backup is restoring it (a rollback); it may act on the
    absolute paths it recorded itself. Otherwise (crash recovery) only paths inside the prefix
    the backup was found in are acted on, and only when their folder does not lead outside it
    through a symlink; everything else is skipped and listed in :attr:`skipped`.
    """

    def __init__(self, prefix: Path, *, own: bool, bases: Iterable[Path] = ()) -> None:
        self.prefix = Path(os.path.normpath(os.path.abspath(prefix)))
        self.own = own
        self.bases = [os.path.realpath(self.prefix), *(os.path.realpath(b) for b in bases)]
        self.skipped: list[str] = []

    def resolve(self, text: str) -> Path | None:
        """The path a manifest entry names here, or None (skipped)."""
        absolute = os.path.isabs(text)
        path = Path(os.path.normpath(text if absolute else self.prefix / text))
        if path.is_relative_to(self.prefix) or (self.own and absolute):
            return path
        self.skipped.append(f"{text} (outside {self.prefix})")
        return None

    def safe(self, path: Path) -> bool:
        """Whether acting on ``path`` stays inside the environment (symlinks followed)."""
        if self.own and not path.is_relative_to(self.prefix):
            return True  # recorded by this very run, outside the prefix (a system scheme)
        real = os.path.realpath(path.parent)
        if any(real == b or real.startswith(b.rstrip(os.sep) + os.sep) for b in self.bases):
            return True
        self.skipped.append(f"{path} (its folder leads to {real}, outside {self.prefix})")
        return False


class Transaction:
    """One change of an environment that either completes or is undone."""

    def __init__(self, env: TargetEnvironment) -> None:
        self.prefix = Path(os.path.normpath(os.path.abspath(env.prefix)))
        self.roots = _roots(env)
        self.backup: Path | None = None
        self.files: list[list[str]] = []  # per root: relative paths that existed
        self.dirs: list[list[str]] = []  # per root: relative folders that existed
        self.copied: set[str] = set()  # "index/rel" of files saved by copy
        self.outside: dict[str, bool] = {}  # path outside the roots -> existed
        self.made: set[Path] = set()  # folders outside the roots an install may create
        self._lock: int | None = None

    # -- before -------------------------------------------------------------------------------

    def begin(self, at_risk: Iterable[Path] = (), removed: Iterable[Path] = ()) -> None:
        """Record and save the environment. ``at_risk``: absolute paths an installer may
        write; those that exist are copied (not linked). ``removed``: the files that the
        RECORDs of distributions being removed or replaced name. Those of either outside the
        saved roots are tracked one by one, so that they are removed again, or restored, on
        rollback, with the folders an install creates for them."""
        from lockkeys._internal.install.recovery import recover  # it restores with this module

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
        try:
            self._lock = hold_folder_lock(backup)  # held until commit or rollback
            self._save(backup, at_risk, removed)
        except BaseException:
            self._discard()
            raise

    def _save(self, backup: Path, at_risk: Iterable[Path], removed: Iterable[Path]) -> None:
        risky = {Path(os.path.normpath(p)) for p in at_risk}
        for index, root in enumerate(self.roots):
            self._save_root(backup / "tree" / str(index), index, root, risky)
        extra = backup / "outside"
        extra.mkdir()
        gone = {Path(os.path.normpath(p)) for p in removed}
        tracked = [
            p for p in sorted(risky | gone) if not any(p.is_relative_to(r) for r in self.roots)
        ]
        for number, path in enumerate(tracked):  # saved as outside/<number>, in this order
            exists = path.is_file() or path.is_symlink()
            self.outside[str(path)] = exists
            self.made.update(_new_dirs(path, self.prefix))
            if exists and path in risky:
                shutil.copy2(path, extra / str(number), follow_symlinks=False)
            elif exists:
                _link_or_copy(path, extra / str(number))
        manifest = {
            "format": 2,
            "pid": os.getpid(),  # information only: liveness is the lock file's flock
            "prefix": str(self.prefix),  # information only: paths below are relative to it
            "roots": [_store(r, self.prefix) for r in self.roots],
            "files": self.files,
            "dirs": self.dirs,
            "copied": sorted(self.copied),
            "outside": [
                [_store(Path(p), self.prefix), self.outside[p], str(n)]
                for n, p in enumerate(self.outside)  # insertion order: the numbers above
            ],
            "made": sorted(_store(d, self.prefix) for d in self.made),
        }
        tmp = backup / f"{MANIFEST}.tmp"
        tmp.write_text(json.dumps(manifest), encoding="utf-8")
        os.replace(tmp, backup / MANIFEST)

    def _save_root(self, saved: Path, index: int, root: Path, risky: set[Path]) -> None:
        files: list[str] = []
        dirs: list[str] = []
        saved.mkdir(parents=True)
        for here, dirnames, filenames in _walk(root, _nested(root, self.roots)):
            rel_dir = here.relative_to(root)
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

    # -- after --------------------------------------------------------------------------------

    def put_back_missing(self, keep: Iterable[str]) -> list[Path]:
        """Put back, from the backup, files of ``keep`` (real paths: files of distributions
        that stay) that an installer deleted while replacing another distribution that listed
        them too (pip and uv uninstall every file of the old RECORD). Returns those restored."""
        if self.backup is None:
            return []
        wanted = set(keep)
        restored: list[Path] = []
        for index, root in enumerate(self.roots):
            base = os.path.realpath(root)
            saved = self.backup / "tree" / str(index)
            for rel in self.files[index]:
                target = root / rel
                real = os.path.join(base, rel)
                if real in wanted and not os.path.lexists(target):
                    _put_back(saved / rel, target, copy=f"{index}/{rel}" in self.copied)
                    restored.append(target)
        return restored

    def _discard(self) -> None:
        if self.backup is not None:
            shutil.rmtree(self.backup, ignore_errors=True)  # still locked: nobody recovers it
            self.backup = None
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def commit(self) -> None:
        """Keep the changes: discard the backup."""
        self._discard()

    def rollback(self) -> list[str]:
        """Undo every change; returns what could not be restored (empty: all of it)."""
        if self.backup is None:
            return []
        with signals_blocked():
            places = Places(self.prefix, own=True, bases=self.roots)
            problems = restore_backup(self.backup, load_manifest(self.backup), places)
            problems += [f"not restored: {s}" for s in places.skipped]
            self._discard()
        return problems


def load_manifest(backup: Path) -> dict[str, object]:
    """The manifest a backup was given before any change."""
    data = json.loads((backup / MANIFEST).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def restore_backup(backup: Path, manifest: dict[str, object], places: Places) -> list[str]:
    """Put every saved root and outside path back as the manifest says; the problems met."""
    problems: list[str] = []
    roots = [places.resolve(str(r)) for r in manifest["roots"]]  # type: ignore[attr-defined]
    all_files: list[list[str]] = manifest["files"]  # type: ignore[assignment]
    all_dirs: list[list[str]] = manifest["dirs"]  # type: ignore[assignment]
    copied = set(manifest["copied"])  # type: ignore[call-overload]
    known = [r for r in roots if r is not None]
    for index, root in enumerate(roots):
        if root is None or not places.safe(root / "x"):
            continue
        saved = backup / "tree" / str(index)
        skip = _nested(root, known)
        _remove_new(root, skip, set(all_files[index]), set(all_dirs[index]), places, problems)
        _put_back_all(
            root, saved, index, all_files[index], all_dirs[index], copied, places, problems
        )
    made = [places.resolve(str(d)) for d in manifest.get("made", [])]  # type: ignore[attr-defined]
    for path_text, existed, number in manifest["outside"]:  # type: ignore[attr-defined]
        path = places.resolve(path_text)
        if path is None or not places.safe(path):
            continue
        try:
            if existed:
                _put_back(backup / "outside" / number, path, copy=True)
            elif path.is_file() or path.is_symlink():
                path.unlink()
        except OSError as exc:
            problems.append(f"cannot restore {path}: {exc}")
    for folder in sorted((d for d in made if d is not None), key=lambda d: -len(d.parts)):
        with contextlib.suppress(OSError):
            if places.safe(folder):
                folder.rmdir()  # only when empty again
    return problems


def _remove_new(
    root: Path,
    skip: set[Path],
    files: set[str],
    dirs: set[str],
    places: Places,
    problems: list[str],
) -> None:
    """Remove every file and folder under ``root`` that was not there before."""
    for here, dirnames, filenames in reversed(list(_walk(root, skip))):
        rel_dir = here.relative_to(root)
        for name in filenames:
            if str(rel_dir / name) not in files and places.safe(here / name):
                try:
                    (here / name).unlink()
                except OSError as exc:
                    problems.append(f"cannot remove {here / name}: {exc}")
        for name in dirnames:
            path = here / name
            if str(rel_dir / name) not in dirs and places.safe(path):
                try:
                    path.rmdir()
                except OSError as exc:
                    problems.append(f"cannot remove folder {path}: {exc}")


def _put_back_all(
    root: Path,
    saved: Path,
    index: int,
    files: list[str],
    dirs: list[str],
    copied: set[str],
    places: Places,
    problems: list[str],
) -> None:
    """Put back every file and folder of ``root`` that was removed or replaced."""
    for rel in sorted(dirs):
        if places.safe(root / rel):
            (root / rel).mkdir(parents=True, exist_ok=True)
    for rel in sorted(files):
        target = root / rel
        source = saved / rel
        was_copied = f"{index}/{rel}" in copied
        if not was_copied and _same_file(source, target):
            continue
        if not places.safe(target):
            continue
        try:
            _put_back(source, target, copy=was_copied)
        except OSError as exc:
            problems.append(f"cannot restore {target}: {exc}")
