"""Files of the environment that the lock does not account for: unowned files and byte-code.

The environment's import paths (purelib, platlib) and, in a virtual environment, its scripts
folder are walked once. Every file (or symbolic link) there must have an owner:

- a locked distribution: the files its verified wheel puts there, its launchers, and its
  ``.dist-info`` folder (the wheel's own files, and the ones every installer adds:
  ``RECORD``, ``INSTALLER``, ``REQUESTED``, ``direct_url.json``, ``uv_cache.json``);
- a distribution that is installed but not in the lock at that version (an extra that `sync`
  removes, an installed version that it replaces, or one it never removes: pip, setuptools,
  wheel, and lockkeys in its own environment): what its own installed ``RECORD`` lists, its
  metadata folder, and their byte-code. Those are not verified: the lock has nothing to verify
  them against, and they are reported as extra, other-version or kept;
- the virtual environment itself: ``python``, ``python3``, ``python3.X`` and the activation
  scripts in its scripts folder.

Anything else is unowned: a ``.pth`` file (its code runs at every interpreter start), a stray
module, an ``entry_points.txt`` or a whole second ``.dist-info`` that no installed copy of a
locked project has. A locked distribution's installed ``RECORD`` never makes a file its own
(that RECORD is as easy to edit as the file). The audit reports each one; `sync` moves them
into ``<prefix>/lockkeys-quarantine/<time>/`` (outside every import and command path, nothing
deleted) and says so for each file.

Byte-code (``__pycache__/*.pyc``) of a locked source that matches the wheel is proven by the
target interpreter (:mod:`lockkeys._internal.install.bytecode`); what cannot be proven, and
byte-code of a locked source that differs from the wheel (it is reinstalled), is reported, and
`install` and `sync` delete it (the interpreter compiles it again).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from lockkeys._internal.install.bytecode import Cached, parse_cached, unproven
from lockkeys._internal.install.environment import InstalledDist, TargetEnvironment
from lockkeys._internal.install.installed import (
    INSTALLER_FILES,
    WheelEntry,
    WheelLayout,
    matches,
    recorded_files,
)

QUARANTINE = "lockkeys-quarantine"
_NOT_LOCKED_SOURCE = "cannot be proven: its source differs from the locked wheel"
_VENV_SCRIPTS = re.compile(
    r"^(python(w)?([0-9]+(\.[0-9]+)?)?|activate|activate\.(csh|fish|nu|bat|ps1)|Activate\.ps1"
    r"|activate_this\.py|deactivate\.bat|pydoc\.bat)$"
)


@dataclass(frozen=True)
class Stray:
    """A file the lock does not account for."""

    path: str  # absolute
    kind: str  # "unowned" | "bytecode"
    package: str  # for byte-code: the package whose source it claims to be; else ""
    detail: str

    def label(self, env: TargetEnvironment) -> str:
        """The file's path relative to the environment's prefix (else absolute)."""
        try:
            return str(Path(self.path).relative_to(env.prefix))
        except ValueError:
            return self.path


def _layout_files(
    env: TargetEnvironment, layout: WheelLayout
) -> Iterator[tuple[str, WheelEntry | None]]:
    for entry in layout.entries:
        base = env.paths.get(entry.scheme)
        if base:
            yield os.path.normpath(os.path.join(base, entry.path)), entry
    scripts = env.paths.get("scripts")
    if scripts:
        for name in layout.scripts:
            yield os.path.join(scripts, name), None
    for site in env.site_dirs:
        for extra in INSTALLER_FILES:
            yield os.path.join(site, layout.dist_info, extra), None


def _roots(env: TargetEnvironment) -> list[str]:
    roots = [str(site) for site in env.site_dirs]
    scripts = env.paths.get("scripts")
    if scripts and os.path.realpath(env.prefix) != os.path.realpath(env.base_prefix or ""):
        roots.append(scripts)  # elsewhere a shared folder such as /usr/local/bin
    seen: set[str] = set()
    unique = []
    for root in roots:
        real = os.path.realpath(root)
        if os.path.isdir(root) and real not in seen:
            seen.add(real)
            unique.append(os.path.abspath(root))
    return unique


def _walk(env: TargetEnvironment) -> Iterator[tuple[str, bool]]:
    """(path, is the scripts folder's top level) of every file and link under the roots."""
    scripts = os.path.abspath(env.paths.get("scripts", "")) if env.paths.get("scripts") else ""
    for root in _roots(env):
        for folder, dirs, files in os.walk(root):  # links to folders are listed, not followed
            for name in dirs:
                path = os.path.join(folder, name)
                if os.path.islink(path):
                    yield path, False  # a linked folder: not walked into, judged as a file
            for name in files:
                yield os.path.join(folder, name), folder == scripts


def survey(
    env: TargetEnvironment, layouts: Mapping[str, WheelLayout], intact: Collection[str]
) -> list[Stray]:
    """Unowned files, and byte-code of locked sources that the target interpreter cannot prove
    (see the module docstring). ``layouts``: the locked wheels by name, for the target's
    entries; ``intact``: the names whose files all match (other packages' sources are hashed
    one by one, only where there is byte-code)."""
    locked: dict[str, tuple[str, WheelEntry | None]] = {}  # path -> locked package, entry
    for name, layout in layouts.items():
        for path, entry in _layout_files(env, layout):
            locked.setdefault(path, (name, entry))
    others: set[str] = set()
    for dist in env.dists:
        if env.owns(dist) and _record_counts(dist, layouts.get(dist.name)):
            others.update(str(p) for p in recorded_files(dist, env))
    strays: list[Stray] = []
    to_prove: list[tuple[Cached, str]] = []
    for path, top_of_scripts in _walk(env):
        if path in others or path in locked:
            continue
        if top_of_scripts and _VENV_SCRIPTS.match(os.path.basename(path)):
            continue
        cached = parse_cached(path)
        source = locked.get(cached.source) if cached else None
        if cached is not None and source is not None:
            name, entry = source
            if name in intact or (entry is not None and matches(entry, cached.source)):
                to_prove.append((cached, name))
            else:  # its source is not the locked file: nothing to prove it against
                strays.append(Stray(path, "bytecode", name, _NOT_LOCKED_SOURCE))
        elif cached is None or cached.source not in others:
            strays.append(Stray(path, "unowned", "", "no distribution owns it"))
    if to_prove:
        found = unproven(env.python, [c for c, _ in to_prove])
        for cached, name in to_prove:
            if cached.pyc in found:
                strays.append(Stray(cached.pyc, "bytecode", name, found[cached.pyc]))
    return sorted(strays, key=lambda s: (s.kind, s.path))


def _record_counts(dist: InstalledDist, layout: WheelLayout | None) -> bool:
    """Whether an installed distribution's own RECORD says what it owns: not for a locked
    project at its locked version (the wheel says), whichever ``.dist-info`` is found first."""
    if layout is None:
        return True
    locked = layout.dist_info[: -len(".dist-info")].partition("-")[2]
    try:
        return Version(dist.version) != Version(locked)
    except InvalidVersion:
        return dist.version != locked


def _aside(path: str, dest: str) -> None:
    os.makedirs(os.path.dirname(dest), mode=0o700, exist_ok=True)
    try:
        os.rename(path, dest)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        shutil.move(path, dest)


def quarantine_root(env: TargetEnvironment, stamp: str) -> Path:
    """Where `sync` moves unowned files: inside the prefix, outside every import and command
    path, one folder per run."""
    return Path(env.prefix) / QUARANTINE / stamp


def destination(stray: Stray, env: TargetEnvironment, root: Path) -> Path:
    """Where a quarantined file goes under ``root``."""
    return root / stray.label(env).lstrip("/")


def clear(moves: Sequence[tuple[str, Path]], drops: Sequence[str], env: TargetEnvironment) -> None:
    """Move unowned files aside (``moves``: path and destination) and delete unproven byte-code
    (``drops``); folders left empty by it are removed, up to the environment's own folders."""
    parents: set[str] = set()
    for path, dest in moves:
        if os.path.lexists(path):
            _aside(path, str(dest))
            parents.add(os.path.dirname(path))
    for path in drops:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        parents.add(os.path.dirname(path))
    stops = {os.path.abspath(p) for p in env.paths.values()} | {os.path.abspath(env.prefix)}
    for folder in sorted(parents, key=len, reverse=True):
        while folder not in stops and folder.startswith(os.path.abspath(env.prefix) + os.sep):
            try:
                os.rmdir(folder)
            except OSError:
                break
            folder = os.path.dirname(folder)


__all__ = ["QUARANTINE", "Stray", "clear", "destination", "quarantine_root", "survey"]
