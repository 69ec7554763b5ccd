"""List the distributions in a local folder (find-links style: one flat folder).

Only ``.whl`` and ``.tar.gz`` files count as distributions. ``.asc`` files beside them are
signatures, hidden files and partial downloads are ignored, and subfolders are not searched.
The files are named by absolute ``file://`` URLs; their bytes are read (with caps) only when
fetched, so a listing reports sizes but no hashes.
"""

from __future__ import annotations

from pathlib import Path

from lockkeys._internal.sources.model import RemoteFile, Source
from lockkeys.errors import SourceError

__all__ = ["DISTRIBUTION_SUFFIXES", "is_distribution_name", "list_folder"]

DISTRIBUTION_SUFFIXES = (".whl", ".tar.gz")


def is_distribution_name(filename: str) -> bool:
    """Whether a file name in a folder is a distribution (not a signature, not hidden)."""
    return not filename.startswith(".") and filename.endswith(DISTRIBUTION_SUFFIXES)


def list_folder(source: Source) -> list[RemoteFile]:
    """Every distribution in the folder ``source.path``, sorted by file name."""
    if source.path is None:
        raise SourceError(f"source {source.name!r} is an index, not a folder")
    folder = Path(source.path).expanduser().resolve()
    if not folder.is_dir():
        raise SourceError(
            f"source {source.name!r}: the folder does not exist",
            file=str(folder),
            fix="create it, or correct the source's path (relative to the config file)",
        )
    files: list[RemoteFile] = []
    try:
        entries = sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        raise SourceError(
            f"source {source.name!r}: cannot list the folder: {exc.strerror or exc}",
            file=str(folder),
        ) from None
    for entry in entries:
        if not is_distribution_name(entry.name):
            continue
        try:
            if not entry.is_file():
                continue
            size = entry.stat().st_size
        except OSError:
            continue
        files.append(RemoteFile(filename=entry.name, url=entry.as_uri(), size=size, sha256=None))
    return files
