"""What is installed, judged by the locked wheel's own RECORD (threat-model row 14).

A distribution counts as installed and intact only when every file that the locked, verified
wheel's ``RECORD`` lists is present in the target as a regular file with that hash (sha256,
sha384 or sha512: the algorithm the wheel's ``RECORD`` uses), and every console-script launcher
and ``#!python`` script is what an installer writes for the locked wheel and this environment's
interpreter (:mod:`lockkeys._internal.install.launchers`). The installed copy's own ``RECORD`` is
never trusted for this (an edit of a file and of the installed RECORD together is still caught); it
is only read to know which files to remove on upgrade or sync. Files that no distribution owns
and byte-code are judged by :mod:`lockkeys._internal.install.strays`.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

from installer.records import parse_record_file
from installer.sources import WheelFile
from installer.utils import parse_metadata_file

from lockkeys._internal.install.environment import InstalledDist, TargetEnvironment
from lockkeys._internal.install.launchers import (
    MAX_LAUNCHER,
    EntryPoint,
    entry_points,
    headers,
    interpreters,
    launcher_problem,
)

SCHEMES = ("purelib", "platlib", "headers", "scripts", "data")
CHUNK = 1024 * 1024
STRONG = ("sha256", "sha384", "sha512")
#: Files every installer writes into a ``.dist-info`` beside the wheel's own (not code).
INSTALLER_FILES = ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json", "uv_cache.json")


@dataclass(frozen=True)
class WheelEntry:
    """One file a wheel's RECORD lists: where it goes and the digest it must have there."""

    scheme: str
    path: str  # relative to the scheme's folder, "/"-separated
    digest: str | None  # urlsafe base64 without padding, as RECORD writes it
    size: int | None
    algorithm: str = "sha256"  # the algorithm of ``digest``: what the wheel's RECORD uses
    shebang: str | None = None  # a ``#!python`` script: the rest of its first line; the digest
    # is then of the bytes after that line (installers rewrite the line)


@dataclass(frozen=True)
class WheelLayout:
    """Where each file of a wheel goes, from the wheel's own WHEEL and RECORD."""

    dist_info: str  # "name-1.0.dist-info"
    entries: tuple[WheelEntry, ...]
    launchers: tuple[EntryPoint, ...] = ()  # what the installer writes for entry points

    @property
    def scripts(self) -> tuple[str, ...]:
        """The names of the launchers the installer writes into the scripts folder."""
        return tuple(e.name for e in self.launchers)


def _record_hash(value: str) -> tuple[str, str | None]:
    algo, _, digest = value.partition("=")
    return (algo, digest) if algo in STRONG and digest else ("sha256", None)


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _script_entry(archive: zipfile.ZipFile, member: str, entry: WheelEntry) -> WheelEntry:
    """A ``.data/scripts`` file whose ``#!python`` line the installer rewrites."""
    with archive.open(member) as handle:
        first = handle.readline()
        if not first.startswith(b"#!python"):
            return entry
        digest = hashlib.new(entry.algorithm)
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    post = first[len(b"#!python") :].rstrip(b"\r\n").decode("utf-8", "replace")
    post = post if post[:1] in (" ", "\t") else ""
    return WheelEntry(
        entry.scheme, entry.path, _b64(digest.digest()), None, entry.algorithm, shebang=post
    )


def wheel_layout(wheel: Path) -> WheelLayout:
    """Read WHEEL and RECORD of a verified wheel (metadata checks already passed)."""
    with zipfile.ZipFile(wheel) as archive:
        source = WheelFile(archive)
        try:
            dist_info = source.dist_info_dir
        except ValueError as exc:
            raise ValueError(f"{wheel.name}: {exc}") from None
        try:
            wheel_text = source.read_dist_info("WHEEL")
            record_text = source.read_dist_info("RECORD")
        except (KeyError, UnicodeDecodeError) as exc:
            raise ValueError(f"{wheel.name}: no readable WHEEL and RECORD ({exc})") from None
        try:
            points = source.read_dist_info("entry_points.txt")
        except (KeyError, UnicodeDecodeError):
            points = ""
        wheel_fields = parse_metadata_file(wheel_text)
        purelib = str(wheel_fields.get("Root-Is-Purelib", "")).strip().lower() == "true"
        root = "purelib" if purelib else "platlib"
        data_dir = dist_info[: -len(".dist-info")] + ".data"
        entries: list[WheelEntry] = []
        for path, digest, size in parse_record_file(record_text.splitlines()):
            if path == f"{dist_info}/RECORD" or path.endswith("/"):
                continue
            if "__pycache__" in path.split("/")[:-1]:
                continue  # byte-code: judged against its source (strays)
            scheme, rel = root, path
            if path.startswith(data_dir + "/"):
                parts = path[len(data_dir) + 1 :].split("/", 1)
                if len(parts) != 2 or parts[0] not in SCHEMES:
                    continue
                scheme, rel = parts[0], parts[1]
            algorithm, value = _record_hash(digest)
            entry = WheelEntry(scheme, rel, value, int(size) if size.isdigit() else None, algorithm)
            if scheme == "scripts" and value is not None:
                entry = _script_entry(archive, path, entry)
            entries.append(entry)
    return WheelLayout(dist_info=dist_info, entries=tuple(entries), launchers=entry_points(points))


def _open_regular(path: str) -> int | None:
    """A read-only descriptor of the regular file at ``path`` (not through a symbolic link,
    never blocking on a FIFO), or None when there is none."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return fd


def _digest_or_none(path: str, algorithm: str = "sha256") -> str | None:
    """The RECORD-style digest of a regular file, or None when there is none at ``path``."""
    fd = _open_regular(path)
    if fd is None:
        return None
    h = hashlib.new(algorithm)
    with open(fd, "rb") as handle:
        while chunk := handle.read(CHUNK):
            h.update(chunk)
    return _b64(h.digest())


def _read_small(path: str, limit: int) -> bytes | None:
    fd = _open_regular(path)
    if fd is None:
        return None
    with open(fd, "rb") as handle:
        return handle.read(limit + 1)


def _script_problem(entry: WheelEntry, target: str, executables: tuple[str, ...]) -> str | None:
    """A ``#!python`` script: an installer's header for this environment, then the wheel's
    bytes."""
    fd = _open_regular(target)
    if fd is None:
        return "missing"
    with open(fd, "rb") as handle:
        head = handle.read(MAX_LAUNCHER)
        rest_digest = hashlib.new(entry.algorithm)
        for header in headers(executables, entry.shebang or ""):
            if head.startswith(header):
                rest_digest.update(head[len(header) :])
                break
        else:
            return "its #! line does not run this environment's interpreter"
        while chunk := handle.read(CHUNK):
            rest_digest.update(chunk)
    if _b64(rest_digest.digest()) != entry.digest:
        return "differs from the locked wheel's RECORD"
    return None


def _entry_problem(entry: WheelEntry, target: str, executables: tuple[str, ...]) -> str | None:
    if entry.digest is None:
        return None if os.path.isfile(target) else "missing"
    if entry.shebang is not None:
        return _script_problem(entry, target, executables)
    digest = _digest_or_none(target, entry.algorithm)
    if digest is None:
        return "missing" if not os.path.lexists(target) else "not a regular file"
    if digest != entry.digest:
        return "differs from the locked wheel's RECORD"
    return None


def matches(entry: WheelEntry, target: str) -> bool:
    """Whether the regular file at ``target`` is this entry of the locked wheel (a file the
    installer copies as it is)."""
    if entry.digest is None or entry.shebang is not None:
        return False
    return _digest_or_none(target, entry.algorithm) == entry.digest


def differences(layout: WheelLayout, env: TargetEnvironment) -> list[str]:
    """Files of the locked wheel that are missing or differ in the target (empty: intact),
    and launchers that are not what an installer writes for its entry points. (Plain string
    paths: this runs for every file of every package on every redeploy.)"""
    found: list[str] = []
    bases = {key: os.path.abspath(value) for key, value in env.paths.items() if key in SCHEMES}
    executables = interpreters(env)
    for entry in layout.entries:
        base = bases.get(entry.scheme)
        label = (
            entry.path
            if entry.scheme in ("purelib", "platlib")
            else (f"{entry.scheme}/{entry.path}")
        )
        target = os.path.normpath(os.path.join(base, entry.path)) if base else None
        if target is None or not target.startswith(base + os.sep):  # type: ignore[operator]
            found.append(f"{label}: outside the environment")
            continue
        problem = _entry_problem(entry, target, executables)
        if problem:
            found.append(f"{label}: {problem}")
    scripts = bases.get("scripts")
    for launcher in layout.launchers:
        label = f"scripts/{launcher.name}"
        data = _read_small(os.path.join(scripts, launcher.name), MAX_LAUNCHER) if scripts else None
        if data is None:
            found.append(f"{label}: missing")
            continue
        problem = launcher_problem(launcher, data, executables)
        if problem:
            found.append(f"{label}: {problem}")
    return found


def is_intact(layout: WheelLayout, env: TargetEnvironment) -> bool:
    """Whether the environment holds the locked wheel's files and launchers exactly."""
    return not differences(layout, env)


def recorded_files(dist: InstalledDist, env: TargetEnvironment) -> list[Path]:
    """The files an installed distribution's own RECORD lists, inside the environment only
    (a RECORD naming anything outside the prefix is ignored there), plus the metadata folder's
    own files, and the bytecode caches of its modules."""
    if dist.path is None or not dist.path.is_dir():
        return []
    prefix = Path(env.prefix)
    site = dist.path.parent
    files: list[Path] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        if path not in seen and path.is_relative_to(prefix):
            seen.add(path)
            files.append(path)

    record = dist.path / "RECORD"
    if record.is_file():
        with open(record, encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle):
                if not row or not row[0]:
                    continue
                path = Path(os.path.normpath(site / row[0]))
                add(path)
                if path.suffix == ".py":
                    cache = path.parent / "__pycache__"
                    if cache.is_dir():
                        stem = path.stem + "."
                        for pyc in cache.iterdir():
                            if pyc.name.startswith(stem) and pyc.suffix == ".pyc":
                                add(pyc)
    for path in dist.path.rglob("*"):
        if path.is_file() or path.is_symlink():
            add(path)
    return files
