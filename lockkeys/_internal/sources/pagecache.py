"""A persistent cache of index project pages, so a second lock does not start cold.

Only simple-index project pages are cached (never distributions, never signatures), in
lockkeys' own cache folder (``<cache>/pages``), as HTTP says:

- a page is reused without asking while it is fresh (``Cache-Control: max-age``, at most
  :data:`MAX_FRESH` seconds, PyPI's own max-age), as pip's and uv's caches do; a page of the
  public PyPI sent without ``Cache-Control`` (a proxy stripped it) counts as fresh for that
  long (RFC 9111's heuristic freshness: PyPI never replaces a file);
- a page that lacks the version a resolver just pinned is fetched again at once (a release
  newer than the cached page);
- after that it is revalidated (``If-None-Match`` / ``If-Modified-Since``): a 304 answer
  reuses it, anything else replaces it;
- ``no-store`` pages are never written.

What a page says (sizes, hashes) stays a hint for the locker, as when it comes from the network;
``lockkeys lock --no-cache`` uses no cache at all. Entries are written atomically; an entry that
cannot be parsed is ignored, and one that is not a regular file under the cap (a FIFO planted
there would block the lock forever) is discarded with a warning (:func:`lockkeys._internal.fsutil.
read_cache_entry`).

Beside the pages (``<cache>/releases``), the files of one release as parsed from one page body
(keyed by the body's SHA-256, its final URL, its content type and the version): the page of a
project with thousands of files is parsed and checked in full once, and a later lock that pins
a release of the same page body reads a few entries instead of megabytes of JSON.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from lockkeys._internal.fsutil import read_cache_entry, write_cache_entry

__all__ = ["MAX_FRESH", "CachedPage", "PageCache", "ReleaseEntry"]

#: One parsed file of a release: filename, url, size, sha256, requires-python, yanked,
#: core-metadata (the fields of :class:`lockkeys._internal.sources.model.RemoteFile`, in that
# order).
ReleaseEntry = tuple[str, str, int | None, str | None, str | None, bool, str | None]

#: Never reuse a page without asking for longer than this, whatever the server says.
MAX_FRESH = 600.0
#: The largest entry read back: a page (at most ``sources.index.MAX_PAGE_SIZE``, 32 MiB) and
#: its header line; the files of one release parsed from such a page are smaller still.
MAX_ENTRY = 33 * 1024 * 1024
_HEX64 = re.compile(r"[0-9a-f]{64}")
_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-)?max-age\s*=\s*(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class CachedPage:
    """One cached project page: its body, where it finally came from, and its HTTP freshness."""

    url: str
    accept: str
    final_url: str
    content_type: str | None
    body: bytes
    stored_at: float
    max_age: float
    etag: str | None
    last_modified: str | None

    def fresh(self, now: float) -> bool:
        """Whether the page may be reused at ``now`` without asking the server."""
        return 0 <= now - self.stored_at < min(self.max_age, MAX_FRESH)

    def validators(self) -> dict[str, str]:
        """The conditional-request headers that revalidate this page (ETag, Last-Modified)."""
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


def max_age_of(headers: Mapping[str, str], *, immutable_files: bool = False) -> float | None:
    """Seconds a response may be reused, or None when it must not be stored.

    Without ``Cache-Control``, a page of an index whose files never change once uploaded
    (``immutable_files``: the public PyPI) gets a heuristic freshness (RFC 9111, 4.2.2) of
    PyPI's own ``max-age`` (:data:`MAX_FRESH`): some proxies strip the header PyPI sends. Any
    other index's page is then kept only if it can be revalidated: a private index may replace
    a file under the same name, and a stale page would give the lock a stale hash."""
    control = headers.get("cache-control")
    if control is None:
        return MAX_FRESH if immutable_files else 0.0
    lowered = control.lower()
    if "no-store" in lowered:
        return None
    if "no-cache" in lowered:
        return 0.0
    match = _MAX_AGE.search(control)
    return float(match.group(1)) if match else 0.0


#: Indexes that refuse to replace a file once uploaded (PyPI's rule).
IMMUTABLE_HOSTS = frozenset({"pypi.org", "test.pypi.org"})


def _immutable(url: str) -> bool:
    return (urlsplit(url).hostname or "").lower() in IMMUTABLE_HOSTS


class PageCache:
    """The page cache in one folder (``<cache>/pages``), with parsed releases beside it."""

    def __init__(self, folder: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.folder = Path(folder)
        self.clock = clock

    def _path(self, url: str, accept: str) -> Path:
        key = hashlib.sha256(f"{accept}\n{url}".encode()).hexdigest()
        return self.folder / key[:2] / key

    def get(self, url: str, accept: str) -> CachedPage | None:
        """The cached page for ``url`` and ``accept``, fresh or stale; None when there is none
        or it cannot be read."""
        path = self._path(url, accept)
        raw = read_cache_entry(path, MAX_ENTRY)
        if raw is None:
            return None
        try:
            header, _, body = raw.partition(b"\n")
            meta = json.loads(header)
            if meta.get("url") != url or not isinstance(meta.get("stored_at"), int | float):
                return None
            return CachedPage(
                url=url,
                accept=accept,
                final_url=str(meta["final_url"]),
                content_type=meta.get("content_type"),
                body=body,
                stored_at=float(meta["stored_at"]),
                max_age=float(meta.get("max_age", 0.0)),
                etag=meta.get("etag"),
                last_modified=meta.get("last_modified"),
            )
        except (ValueError, KeyError, TypeError):
            return None

    def put(
        self,
        url: str,
        accept: str,
        *,
        final_url: str,
        content_type: str | None,
        body: bytes,
        headers: Mapping[str, str],
    ) -> None:
        """Keep a page the server sent, unless its headers say it may never be reused."""
        max_age = max_age_of(headers, immutable_files=_immutable(url))
        etag = headers.get("etag")
        last_modified = headers.get("last-modified")
        if max_age is None or (max_age <= 0 and not etag and not last_modified):
            return  # nothing would ever let it be reused
        meta = {
            "url": url,
            "final_url": final_url,
            "content_type": content_type,
            "stored_at": self.clock(),
            "max_age": max_age,
            "etag": etag,
            "last_modified": last_modified,
        }
        write_cache_entry(
            self._path(url, accept), json.dumps(meta, sort_keys=True).encode() + b"\n" + body
        )

    # ---- parsed releases ---------------------------------------------------------------
    def _release_path(
        self, body_sha256: str, final_url: str, content_type: str | None, release: str
    ) -> Path:
        key = hashlib.sha256(
            f"{body_sha256}\n{final_url}\n{content_type or ''}\n{release}".encode()
        ).hexdigest()
        return self.folder.parent / "releases" / key[:2] / key

    def get_release(
        self, body_sha256: str, final_url: str, content_type: str | None, release: str
    ) -> list[ReleaseEntry] | None:
        """The entries stored by :meth:`put_release` for this page body and release, or None
        (never stored, or unreadable: the caller parses the page again)."""
        path = self._release_path(body_sha256, final_url, content_type, release)
        raw = read_cache_entry(path, MAX_ENTRY)
        if raw is None:
            return None
        try:
            document = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(document, list):
            return None
        entries: list[ReleaseEntry] = []
        for item in document:
            if not _is_entry(item):
                return None
            entries.append(tuple(item))
        return entries

    def put_release(
        self,
        body_sha256: str,
        final_url: str,
        content_type: str | None,
        release: str,
        entries: list[ReleaseEntry],
    ) -> None:
        """Keep the entries of one release as parsed from one page body (:meth:`get_release`)."""
        path = self._release_path(body_sha256, final_url, content_type, release)
        write_cache_entry(path, json.dumps([list(e) for e in entries]).encode())

    def touch(self, page: CachedPage, headers: Mapping[str, str]) -> None:
        """A 304 answer: the page is fresh again (with the new validators, if any)."""
        merged = {
            "cache-control": headers.get("cache-control", f"max-age={int(page.max_age)}"),
            "etag": headers.get("etag", page.etag or ""),
            "last-modified": headers.get("last-modified", page.last_modified or ""),
        }
        self.put(
            page.url,
            page.accept,
            final_url=page.final_url,
            content_type=page.content_type,
            body=page.body,
            headers={k: v for k, v in merged.items() if v},
        )


def _is_entry(item: object) -> bool:
    if not isinstance(item, list) or len(item) != 7:
        return False
    filename, url, size, sha256, requires_python, yanked, metadata = item
    return (
        isinstance(filename, str)
        and isinstance(url, str)
        and (size is None or (type(size) is int and size >= 0))
        and (sha256 is None or (isinstance(sha256, str) and _HEX64.fullmatch(sha256) is not None))
        and (requires_python is None or isinstance(requires_python, str))
        and isinstance(yanked, bool)
        and (metadata is None or isinstance(metadata, str))
    )
