"""What is installed, judged by the locked wheel's own RECORD (threat-model row 14).

A distribution counts as installed and intact only when every file that the locked, verified
wheel's ``RECORD`` lists is present in the target with that hash. The installed copy's own
``RECORD`` is never trusted for this (an edit of a file and of the installed RECORD together is
still caught); it is only read to know which files to remove on upgrade or sync.
"""

from __future__ import annotations

import base64
import configparser
import csv
import hashlib
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

from installer.records import parse_record_file

from lockkeys.install.environment import InstalledDist, TargetEnvironment

SCHEMES = ("purelib", "platlib", "headers", "scripts", "data")
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class WheelEntry:
    scheme: str
    path: str  # relative to the scheme's folder, "/"-separated
    sha256: str | None  # urlsafe base64 without padding, as RECORD writes it
    size: int | None


@dataclass(frozen=True)
class WheelLayout:
    """Where each file of a wheel goes, from the wheel's own WHEEL and RECORD."""

    dist_info: str  # "name-1.0.dist-info"
    entries: tuple[WheelEntry, ...]
    scripts: tuple[str, ...] = ()  # launchers the installer writes for entry points


def _record_sha256(value: str) -> str | None:
    algo, _, digest = value.partition("=")
    return digest if algo == "sha256" and digest else None


def wheel_layout(wheel: Path) -> WheelLayout:
    """Read WHEEL and RECORD of a verified wheel (metadata checks already passed)."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        dist_infos = sorted(
            {n.split("/", 1)[0] for n in names if n.split("/", 1)[0].endswith(".dist-info")}
        )
        if len(dist_infos) != 1:
            raise ValueError(f"{wheel.name}: expected one .dist-info folder, found {dist_infos}")
        dist_info = dist_infos[0]
        try:
            wheel_text = archive.read(f"{dist_info}/WHEEL").decode("utf-8", "replace")
            record_text = archive.read(f"{dist_info}/RECORD").decode("utf-8")
        except (KeyError, UnicodeDecodeError) as exc:
            raise ValueError(f"{wheel.name}: no readable WHEEL and RECORD ({exc})") from None
        try:
            entry_points = archive.read(f"{dist_info}/entry_points.txt").decode("utf-8")
        except KeyError:
            entry_points = ""
    purelib = any(
        line.split(":", 1)[0].strip().lower() == "root-is-purelib"
        and line.split(":", 1)[1].strip().lower() == "true"
        for line in wheel_text.splitlines()
        if ":" in line
    )
    root = "purelib" if purelib else "platlib"
    data_dir = dist_info[: -len(".dist-info")] + ".data"
    entries: list[WheelEntry] = []
    for path, digest, size in parse_record_file(record_text.splitlines()):
        if path == f"{dist_info}/RECORD" or path.endswith("/"):
            continue
        if "__pycache__" in path.split("/")[:-1]:
            continue  # installers skip these
        scheme, rel = root, path
        if path.startswith(data_dir + "/"):
            parts = path[len(data_dir) + 1 :].split("/", 1)
            if len(parts) != 2 or parts[0] not in SCHEMES:
                continue
            scheme, rel = parts[0], parts[1]
        entries.append(
            WheelEntry(scheme, rel, _record_sha256(digest), int(size) if size.isdigit() else None)
        )
    return WheelLayout(
        dist_info=dist_info, entries=tuple(entries), scripts=_script_names(entry_points)
    )


def _script_names(text: str) -> tuple[str, ...]:
    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(text)
    except configparser.Error:
        return ()
    names: set[str] = set()
    for section in ("console_scripts", "gui_scripts"):
        if parser.has_section(section):
            names.update(n for n in parser.options(section) if n and "/" not in n)
    return tuple(sorted(names))


def _b64_sha256_or_none(path: str) -> str | None:
    """The RECORD-style sha256 of a regular file, or None when there is none at ``path``."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return None
            while chunk := handle.read(CHUNK):
                h.update(chunk)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    return base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode("ascii")


def differences(layout: WheelLayout, env: TargetEnvironment) -> list[str]:
    """Files of the locked wheel that are missing or differ in the target (empty: intact).

    Scripts from ``.data/scripts`` get their ``#!`` line rewritten by every installer, so only
    their presence is checked. (Plain string paths: this runs for every file of every package
    on every redeploy.)
    """
    found: list[str] = []
    bases = {key: os.path.abspath(value) for key, value in env.paths.items() if key in SCHEMES}
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
        if entry.scheme == "scripts" or entry.sha256 is None:
            if not os.path.isfile(target):
                found.append(f"{label}: missing")
            continue
        digest = _b64_sha256_or_none(target)
        if digest is None:
            found.append(f"{label}: missing")
        elif digest != entry.sha256:
            found.append(f"{label}: differs from the locked wheel's RECORD")
    return found


def is_intact(layout: WheelLayout, env: TargetEnvironment) -> bool:
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
