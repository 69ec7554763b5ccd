"""Reading a distribution's own metadata: ``METADATA`` of a wheel, ``PKG-INFO`` of an sdist.

One reader for the whole tool: the locker reads dependents' wheels for what they ask of a
substitute, the installer reads every verified file to check it against the lock. Nothing is
extracted; member paths are checked (relative, inside the archive, no links, no duplicates)
before anything is read, and metadata files are size-capped.
"""

from __future__ import annotations

import email.parser
import lzma
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from lockkeys.errors import VerificationError

MAX_METADATA = 4 * 1024 * 1024
# What zipfile and tarfile raise for hostile archives besides their own errors (found by
# benchmarks/fuzz.py): a member name flagged UTF-8 that is not, an unsupported zip version or
# compression method, an encrypted member, a truncated stream, and (tests/test_fuzz.py) a
# member whose deflate or LZMA stream is invalid, which the decompressor raises as its own.
ARCHIVE_ERRORS: tuple[type[Exception], ...] = (
    zipfile.BadZipFile,
    tarfile.TarError,
    OSError,
    UnicodeDecodeError,
    NotImplementedError,
    RuntimeError,
    EOFError,
    ValueError,
    zlib.error,
    lzma.LZMAError,
)


@dataclass(frozen=True)
class WheelMetadata:
    """The fields of a wheel's METADATA that locking and installing use."""

    name: str
    version: str
    requires_dist: tuple[str, ...]


def read_wheel_metadata(path: Path, *, package: str) -> WheelMetadata:
    """Read ``*.dist-info/METADATA`` from a wheel; exactly one dist-info folder is allowed."""

    def refuse(message: str, found: str) -> VerificationError:
        return VerificationError(message, package=package, file=path.name, found=found)

    try:
        with zipfile.ZipFile(path) as archive:
            _check_members([info.filename for info in archive.infolist()], package, path)
            candidates = [
                info
                for info in archive.infolist()
                if info.filename.count("/") == 1 and info.filename.endswith(".dist-info/METADATA")
            ]
            if len(candidates) != 1:
                raise refuse(
                    "the wheel must hold exactly one .dist-info/METADATA",
                    f"{len(candidates)} METADATA files",
                )
            info = candidates[0]
            if info.file_size > MAX_METADATA:
                raise refuse("METADATA is implausibly large", f"{info.file_size} bytes")
            raw = archive.read(info)
    except ARCHIVE_ERRORS as exc:
        raise refuse("not a readable wheel (zip) file", str(exc)) from None
    message = email.parser.BytesParser().parsebytes(raw)
    name = message.get("Name")
    version = message.get("Version")
    if not name or not version:
        raise refuse("METADATA lacks Name or Version", "incomplete METADATA")
    return WheelMetadata(
        name=str(name).strip(),
        version=str(version).strip(),
        requires_dist=tuple(str(v).strip() for v in message.get_all("Requires-Dist") or []),
    )


def _check_members(names: list[str], package: str, path: Path) -> None:
    """Every member of the wheel stays inside the install location: no absolute paths, no
    `..`, no drive letters or backslashes, no duplicates. Installers disagree on such members
    (pip fails half-way, uv skips them), so they are refused before anything is installed."""
    seen: set[str] = set()
    for name in names:
        parts = name.split("/")
        unsafe = (
            name.startswith("/")
            or "\\" in name
            or ".." in parts
            or (len(name) > 1 and name[1] == ":")
            or "\x00" in name
        )
        if unsafe:
            raise VerificationError(
                "the wheel holds a file that would be written outside the environment",
                package=package,
                file=path.name,
                expected="relative member paths inside the wheel",
                found=repr(name),
                fix="do not install this file; it was built wrongly or on purpose to escape",
            )
        if name in seen:
            raise VerificationError(
                "the wheel holds the same member twice",
                package=package,
                file=path.name,
                found=repr(name),
            )
        seen.add(name)


def _unsafe_member(name: str) -> bool:
    parts = name.split("/")
    return (
        name.startswith("/")
        or "\\" in name
        or ".." in parts
        or (len(name) > 1 and name[1] == ":")
        or "\x00" in name
    )


def read_sdist_metadata(path: Path, *, package: str) -> tuple[WheelMetadata, bool]:
    """PKG-INFO of an sdist (.tar.gz or .zip) and whether its Requires-Dist is static.

    Member paths must be relative and inside the archive, with no links; exactly one
    top-level PKG-INFO is read, nothing is extracted.
    """

    def refuse(message: str, found: str) -> VerificationError:
        return VerificationError(message, package=package, file=path.name, found=found)

    raw: bytes | None = None
    try:
        if path.name.endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                infos = archive.infolist()
                for info in infos:
                    if _unsafe_member(info.filename):
                        raise refuse("the sdist holds a path outside itself", repr(info.filename))
                pkg_info = [
                    i
                    for i in infos
                    if i.filename.count("/") == 1 and i.filename.endswith("/PKG-INFO")
                ]
                if len(pkg_info) == 1 and pkg_info[0].file_size <= MAX_METADATA:
                    raw = archive.read(pkg_info[0])
        else:
            with tarfile.open(path, "r:*") as tar:
                members = tar.getmembers()
                for member in members:
                    if _unsafe_member(member.name) or member.issym() or member.islnk():
                        raise refuse(
                            "the sdist holds a link or a path outside itself", repr(member.name)
                        )
                tar_info = [
                    m for m in members if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO")
                ]
                if len(tar_info) == 1 and tar_info[0].size <= MAX_METADATA:
                    handle = tar.extractfile(tar_info[0])
                    raw = handle.read() if handle is not None else None
    except ARCHIVE_ERRORS as exc:
        raise refuse("not a readable sdist archive", str(exc)) from None
    if raw is None:
        raise refuse("the sdist must hold exactly one top-level PKG-INFO", "none or several")
    message = email.parser.BytesParser().parsebytes(raw)
    name, version = message.get("Name"), message.get("Version")
    if not name or not version:
        raise refuse("PKG-INFO lacks Name or Version", "incomplete PKG-INFO")
    meta_version = str(message.get("Metadata-Version") or "1.0")
    dynamic = {str(d).strip().lower() for d in message.get_all("Dynamic") or []}
    try:
        static = Version(meta_version) >= Version("2.2") and "requires-dist" not in dynamic
    except InvalidVersion:
        static = False
    return (
        WheelMetadata(
            name=str(name).strip(),
            version=str(version).strip(),
            requires_dist=tuple(str(v).strip() for v in message.get_all("Requires-Dist") or []),
        ),
        static,
    )


__all__ = ["MAX_METADATA", "WheelMetadata", "read_sdist_metadata", "read_wheel_metadata"]
