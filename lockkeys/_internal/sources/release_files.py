"""Where distributions come from: simple indexes and local folders, read with bounded fetches.

``list_files(source, name, version)`` is the one entry point for listing: it asks exactly the
given source (never another; row 7, dependency confusion) and keeps only the files whose
names parse as distributions of that project, and optionally of that exact version.
Downloads go through :mod:`lockkeys._internal.sources.fetch`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from lockkeys._internal.sources.folder import list_folder
from lockkeys._internal.sources.index import list_index
from lockkeys._internal.sources.model import RemoteFile, Source
from lockkeys.errors import InputError

__all__ = [
    "RemoteFile",
    "Source",
    "distribution_of",
    "files_of",
    "list_files",
    "signature_urls",
]

log = logging.getLogger(__name__)


def distribution_of(filename: str) -> tuple[str, Version] | None:
    """(normalized project name, version) of a wheel or sdist file name; None if it is neither
    or does not parse."""
    try:
        if filename.endswith(".whl"):
            name, version, _build, _tags = parse_wheel_filename(filename)
            return str(name), version
        if filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
            return str(name), version
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        log.debug("ignoring a file whose name does not parse: %r", filename)
    return None


def list_files(
    source: Source,
    name: str,
    version: str | None = None,
    *,
    connect_timeout: float = 10,
    read_timeout: float = 30,
) -> list[RemoteFile]:
    """The files of project ``name`` (and of ``version``, when given) that ``source`` offers,
    sorted by file name.

    Versions compare as PEP 440 versions, so ``1.0+corp.1`` is distinct from ``1.0``. A
    project that the source does not have gives an empty list; an unreachable source raises
    :class:`lockkeys.errors.SourceError`.
    """
    wanted_name = canonicalize_name(name)
    try:
        wanted_version = Version(version) if version is not None else None
    except InvalidVersion:
        raise InputError(
            f"not a valid version: {version!r}", package=wanted_name, expected="a PEP 440 version"
        ) from None

    def pick(offered: list[RemoteFile]) -> list[RemoteFile]:
        return files_of(offered, wanted_name, wanted_version)

    if source.kind != "index":
        return pick(list_folder(source))
    keep = _release_filter(wanted_version) if wanted_version is not None else None
    release = str(wanted_version) if wanted_version is not None else None
    chosen = pick(
        list_index(
            source,
            name,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            keep=keep,
            release=release,
        )
    )
    if not chosen and wanted_version is not None:
        # A cached page may predate the release the resolver just pinned: ask again.
        chosen = pick(
            list_index(
                source,
                name,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                refresh=True,
                keep=keep,
                release=release,
            )
        )
    return chosen


def files_of(
    offered: list[RemoteFile], name: str, version: Version | None = None
) -> list[RemoteFile]:
    """The files among ``offered`` whose names parse as distributions of project ``name``
    (normalized), and of ``version`` when given; sorted by file name."""
    chosen: list[RemoteFile] = []
    for remote in offered:
        parsed = distribution_of(remote.filename)
        if parsed is None or parsed[0] != name:
            continue
        if version is not None and parsed[1] != version:
            continue
        chosen.append(remote)
    return sorted(chosen, key=lambda f: (f.filename, f.url))


def _release_filter(wanted: Version) -> Callable[[str], bool]:
    """A quick test of a file name for release ``wanted``, before any URL work: True unless
    the name's version part is surely another version (the exact check, on what passes, is
    :func:`distribution_of`)."""
    text = str(wanted)
    seen: dict[str, bool] = {}

    def keep(filename: str) -> bool:
        if filename.endswith(".whl"):
            parts = filename[:-4].split("-")
            if len(parts) not in (5, 6):
                return True
            candidate = parts[1]
        elif filename.endswith((".tar.gz", ".zip")):
            stem = filename[:-7] if filename.endswith(".tar.gz") else filename[:-4]
            candidate = stem.rpartition("-")[2]
        else:
            return False
        if candidate == text:
            return True
        if candidate not in seen:
            try:
                seen[candidate] = Version(candidate) == wanted
            except InvalidVersion:
                seen[candidate] = True
        return seen[candidate]

    return keep


def signature_urls(file: RemoteFile) -> str:
    """The URL of the detached signature published beside ``file``: ``file.url + ".asc"``."""
    return f"{file.url}.asc"
