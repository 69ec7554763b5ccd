"""Bounded downloads: size caps, per-read and total timeouts, bounded retries (rows 2, 3, 15).

lockkeys' rules, on top of any :class:`~lockkeys._internal.sources.transport.Transport` (urllib3 in
real runs, an in-memory fake in unit tests):

- bytes stream into the caller's sink and are hashed on the way; a download is abandoned as
  soon as it is larger than the caller allows (``Content-Length`` first, then counted bytes)
  or slower than the deadlines (each read, and the whole transfer with its retries);
- redirects are followed by lockkeys itself, at most :data:`MAX_REDIRECTS`, and only to http
  and https; credentials go only to the server they belong to, never across a redirect to
  another one;
- the caller names the destination file: nothing a server sends (``Content-Disposition``,
  redirects) can choose a path; ``file://`` URLs are read with the same caps, so a local
  folder is no more trusted than a server;
- 429, 5xx, 408, connection failures and read timeouts are retried with exponential backoff;
  a ``Retry-After`` the server sends is honoured (within the total deadline);
- 401 and 403 say which source refused which user and where credentials are looked up; a TLS
  failure names the source and the certificate problem and points to ``ca-bundle``; a proxy
  refusal names the proxy. All are :class:`SourceError` (exit 3).

The module functions (:func:`fetch_to`, :func:`fetch_bytes`, ...) use the current
:class:`Client` (:func:`current_client`); :func:`use_client` swaps it for a block: that is how
lock and install hand over the sources' credentials and trust, and how tests use a fake.

The rules live in :mod:`~lockkeys._internal.sources.client` (the client),
:mod:`~lockkeys._internal.sources.transfer` (results, errors, sink and limits of one transfer)
and :mod:`~lockkeys._internal.sources.failures` (what a failure is said as); the names other
packages use are re-exported here.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from lockkeys._internal.fsutil import atomic_file
from lockkeys._internal.redact import redact_url
from lockkeys._internal.sources.client import USER_AGENT, Client
from lockkeys._internal.sources.transfer import (
    CHUNK_SIZE,
    DEFAULT_BACKOFF,
    FetchedBytes,
    FetchResult,
    NotFoundError,
    Sink,
    TooLargeError,
    file_url_path,
    retry_after_seconds,
)
from lockkeys.errors import VerificationError, escape

__all__ = [
    "CHUNK_SIZE",
    "DEFAULT_BACKOFF",
    "USER_AGENT",
    "Client",
    "FetchResult",
    "FetchedBytes",
    "NotFoundError",
    "TooLargeError",
    "current_client",
    "fetch_bytes",
    "fetch_optional_text",
    "fetch_page",
    "fetch_to",
    "file_url_path",
    "head_size",
    "retry_after_seconds",
    "use_client",
]


# -- the current client ----------------------------------------------------------------------------

_CURRENT: Client | None = None
_CURRENT_LOCK = threading.Lock()


def current_client() -> Client:
    """The client the module functions use (made on first use: system trust, netrc)."""
    global _CURRENT
    with _CURRENT_LOCK:
        if _CURRENT is None:
            _CURRENT = Client()
        return _CURRENT


@contextlib.contextmanager
def use_client(client: Client) -> Iterator[Client]:
    """Make ``client`` the current one for the block (every thread sees it), then restore."""
    global _CURRENT
    with _CURRENT_LOCK:
        previous = _CURRENT
        _CURRENT = client
    try:
        yield client
    finally:
        with _CURRENT_LOCK:
            _CURRENT = previous


# -- the public functions ------------------------------------------------------------------------


def head_size(url: str, *, timeout: float = 30.0) -> int | None:
    """The size a server announces for a file (HEAD, Content-Length), or None if it does not
    say or cannot be asked. Only a hint for the lock: downloads are still capped and hashed."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        try:
            return file_url_path(url).stat().st_size
        except OSError:
            return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return current_client().head_size(url, timeout=timeout)


def fetch_to(
    url: str,
    dest: Path,
    *,
    max_size: int | None,
    expected_sha256: str | None = None,
    connect_timeout: float = 10,
    read_timeout: float = 30,
    total_timeout: float = 300,
    retries: int = 2,
    backoff: float = DEFAULT_BACKOFF,
) -> FetchResult:
    """Stream ``url`` (http, https or file) into ``dest``, hashing as it goes.

    Raises :class:`SourceError` when more than ``max_size`` bytes arrive, when no byte comes
    for ``read_timeout`` seconds, when everything takes longer than ``total_timeout`` seconds
    (all retries included), or when the source cannot be reached; :class:`NotFoundError`
    (a SourceError) for 404. Raises :class:`VerificationError` when ``expected_sha256`` is
    given and the bytes differ. Connection errors, 429 and 5xx answers are retried
    ``retries`` times with backoff (honouring ``Retry-After``). The bytes go to a temporary
    file beside ``dest`` that is renamed into place only on success, and deleted on any
    failure.
    """
    dest = Path(dest)
    (dest.parent if str(dest.parent) else Path(".")).mkdir(parents=True, exist_ok=True)
    with atomic_file(dest, durable=False, suffix=".part") as handle:
        sink = Sink(handle)
        current_client().run(
            url,
            sink,
            max_size=max_size,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            total_timeout=total_timeout,
            retries=retries,
            backoff=backoff,
            headers={},
        )
        digest = sink.hasher.hexdigest()
        if expected_sha256 is not None and digest != expected_sha256.lower():
            raise VerificationError(
                "sha256 of the downloaded file does not match",
                file=redact_url(escape(url)),
                expected=expected_sha256.lower(),
                found=digest,
            )
    return FetchResult(path=dest, size=sink.size, sha256=digest)


def fetch_bytes(
    url: str,
    *,
    max_size: int | None,
    accept: str | None = None,
    connect_timeout: float = 10,
    read_timeout: float = 30,
    total_timeout: float = 300,
    retries: int = 2,
    backoff: float = DEFAULT_BACKOFF,
) -> FetchedBytes:
    """Fetch a small document into memory with the same caps as :func:`fetch_to`.

    Returns the bytes, the final URL after redirects (to resolve relative links against) and
    the content type. Raises :class:`NotFoundError` for 404/410.
    """
    sink = Sink(None)
    outcome = current_client().run(
        url,
        sink,
        max_size=max_size,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        total_timeout=total_timeout,
        retries=retries,
        backoff=backoff,
        headers={"Accept": accept} if accept else {},
    )
    return FetchedBytes(
        data=b"".join(sink.chunks),
        url=outcome.url,
        content_type=outcome.content_type,
        sha256=sink.hasher.hexdigest(),
    )


def fetch_page(
    url: str,
    *,
    max_size: int,
    accept: str,
    connect_timeout: float = 10,
    read_timeout: float = 30,
    total_timeout: float = 300,
    retries: int = 2,
    backoff: float = DEFAULT_BACKOFF,
    refresh: bool = False,
) -> FetchedBytes:
    """:func:`fetch_bytes` for an index project page, through the current client's page
    cache when it has one (:mod:`lockkeys._internal.sources.pagecache`): fresh pages are reused,
    stale ones revalidated; ``refresh`` asks the server whatever the cache holds."""
    return current_client().fetch_page(
        url,
        max_size=max_size,
        accept=accept,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        total_timeout=total_timeout,
        retries=retries,
        backoff=backoff,
        refresh=refresh,
    )


def fetch_optional_text(
    url: str,
    max_size: int = 1024 * 1024,
    *,
    connect_timeout: float = 10,
    read_timeout: float = 30,
    total_timeout: float = 60,
    retries: int = 2,
    backoff: float = DEFAULT_BACKOFF,
) -> bytes | None:
    """Fetch a file that may be absent, such as a ``.asc`` signature: 404 (or no such local
    file) gives None; any other failure raises :class:`SourceError`."""
    try:
        return fetch_bytes(
            url,
            max_size=max_size,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            total_timeout=total_timeout,
            retries=retries,
            backoff=backoff,
        ).data
    except NotFoundError:
        return None
