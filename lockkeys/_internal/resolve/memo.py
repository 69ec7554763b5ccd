"""Resolutions remembered: the same request against the same index pages is not resolved again.

A resolver is a function of what it is asked and of what the index pages it reads say. When
lockkeys resolves through its resolution view (:mod:`lockkeys._internal.resolve.localindex`), the
view sees every project page the resolver asks for, and records which source pages it read to
answer, with the SHA-256 of each page body (or that the project was not there). Afterwards the pins
are kept in lockkeys' cache folder (``<cache>/resolutions``) under a key made of:

- the resolver's identity (its program, by path, size and modification time) and lockkeys'
  version;
- the request (requirements, constraints, overrides, sets, target Python, universal or not),
  the sources (names and URLs, in order) and which package may come from which source;
- the Python that runs lockkeys (its path and version).

A later lock with the same key fetches each recorded page again, through the page cache, as the
view would (a fresh page is reused, a stale one revalidated, exactly as the resolver's own run
would see it). Only if every body is byte-for-byte the one recorded, the recorded pins are the
answer: the resolver would have read the same pages and answered the same. Anything else (a
new release, a page that cannot be fetched, a damaged entry) runs the resolver as usual.

Never used with a folder source (its files can change under the same name without any page
saying so), nor with ``--no-cache``; ``lockkeys lock --re-resolve`` runs the resolver in any
case and keeps its answer. The pins
are only the resolution: every file, hash and signature is collected and checked afterwards
exactly as after a resolver run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

from lockkeys import __version__
from lockkeys._internal.fsutil import read_cache_entry, write_cache_entry
from lockkeys._internal.resolve.base import Pin, ResolveRequest

#: Format of a kept entry; entries of another format are ignored.
FORMAT = 1
#: Entries kept at most; the oldest are removed beyond it.
MAX_ENTRIES = 256
#: The largest entry read back (pins and page records of a very large resolution).
MAX_ENTRY_SIZE = 16 * 1024 * 1024

#: What the view read to answer for one project: (source index, page URL, body SHA-256 or
#: "missing" for a 404) for each source it asked, in order.
PageRecord = tuple[int, str, str]


def program_identity(path: str | None) -> str | None:
    """A resolver program's identity for the key: path, size and modification time."""
    if path is None:
        return None
    try:
        info = os.stat(path)
    except OSError:
        return None
    return f"{os.path.realpath(path)}:{info.st_size}:{info.st_mtime_ns}"


class ResolutionMemo:
    """The resolutions kept in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def key(
        self,
        resolver: str,
        identity: str,
        request: ResolveRequest,
        sources: Sequence[tuple[str, str]],
        pinned: Mapping[str, str],
    ) -> str:
        """The key of a request; ``request.indexes`` (the view's URL, new every run) and
        ``find_links`` are left out, the sources stand for them."""
        fields = asdict(request)
        fields.pop("indexes", None)
        fields.pop("find_links", None)
        material = {
            "format": FORMAT,
            "lockkeys": __version__,
            "resolver": resolver,
            "identity": identity,
            "python": [sys.executable, sys.version],
            "request": fields,
            "sources": [list(s) for s in sources],
            "pinned": sorted(pinned.items()),
        }
        return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def recall(
        self, key: str, page_digest: Callable[[int, str, str], str | None]
    ) -> list[Pin] | None:
        """The pins kept under ``key`` if every recorded page still has the recorded body.

        ``page_digest(source index, project, page URL)`` fetches the page as the view would
        and gives its body's SHA-256, "missing" for a 404, or None when it cannot tell."""
        raw = read_cache_entry(self._path(key), MAX_ENTRY_SIZE)  # never a FIFO: it would block
        if raw is None:
            return None
        try:
            document = json.loads(raw)
        except ValueError:
            return None
        parsed = _parse(document)
        if parsed is None:
            return None
        pins, pages = parsed
        for project, records in sorted(pages.items()):
            for index, url, digest in records:
                if page_digest(index, project, url) != digest:
                    return None
        with contextlib.suppress(OSError):
            os.utime(self._path(key))  # most recently used: pruned last
        return pins

    def keep(
        self, key: str, pins: Sequence[Pin], pages: Mapping[str, Sequence[PageRecord]]
    ) -> None:
        """Keep a resolution (atomically; a cache that cannot be written is skipped)."""
        document = {
            "format": FORMAT,
            "pins": [
                {"name": p.name, "version": p.version, "via": list(p.via), "marker": p.marker}
                for p in pins
            ],
            "pages": {name: [list(r) for r in records] for name, records in sorted(pages.items())},
        }
        write_cache_entry(self._path(key), json.dumps(document, sort_keys=True).encode())
        self._prune()

    def _prune(self) -> None:
        entries = sorted(self.folder.glob("*.json"), key=_mtime, reverse=True)
        for old in entries[MAX_ENTRIES:]:
            with contextlib.suppress(OSError):
                old.unlink()


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _parse(document: object) -> tuple[list[Pin], dict[str, list[PageRecord]]] | None:
    """A kept entry, checked field by field; None if anything is off."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        return None
    raw_pins, raw_pages = document.get("pins"), document.get("pages")
    if not isinstance(raw_pins, list) or not isinstance(raw_pages, dict):
        return None
    pins: list[Pin] = []
    for item in raw_pins:
        if not isinstance(item, dict):
            return None
        name, version, via, marker = (item.get(k) for k in ("name", "version", "via", "marker"))
        if not (
            isinstance(name, str)
            and isinstance(version, str)
            and isinstance(via, list)
            and all(isinstance(v, str) for v in via)
            and (marker is None or isinstance(marker, str))
        ):
            return None
        pins.append(Pin(name=name, version=version, via=tuple(via), marker=marker))
    pages: dict[str, list[PageRecord]] = {}
    for project, records in raw_pages.items():
        if not isinstance(records, list) or not records:
            return None
        checked: list[PageRecord] = []
        for record in records:
            if not (
                isinstance(record, list)
                and len(record) == 3
                and type(record[0]) is int
                and isinstance(record[1], str)
                and isinstance(record[2], str)
            ):
                return None
            checked.append((record[0], record[1], record[2]))
        pages[str(project)] = checked
    if not pages:
        return None  # nothing recorded: nothing could be checked
    return pins, pages


__all__ = ["FORMAT", "PageRecord", "ResolutionMemo", "program_identity"]
