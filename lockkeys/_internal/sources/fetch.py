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
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import logging
import os
import stat
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urljoin, urlsplit

from lockkeys._internal.fsutil import atomic_file
from lockkeys._internal.redact import redact_url, strip_userinfo
from lockkeys._internal.sources.auth import AuthRegistry, Credentials
from lockkeys._internal.sources.pagecache import CachedPage, PageCache
from lockkeys._internal.sources.tls import TrustStore
from lockkeys._internal.sources.transport import (
    ConnectFailed,
    ConnectionBroken,
    ProxyFailed,
    ReadTimedOut,
    Request,
    Response,
    TLSFailed,
    Transport,
    TransportError,
)
from lockkeys.errors import SourceError, VerificationError, escape

__all__ = [
    "CHUNK_SIZE",
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
    "use_client",
]

log = logging.getLogger(__name__)

CHUNK_SIZE = 64 * 1024
USER_AGENT = "lockkeys/0.1"
DEFAULT_BACKOFF = 0.25
MAX_BACKOFF = 2.0
MAX_REDIRECTS = 10
_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_GONE_STATUSES = frozenset({404, 410})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class NotFoundError(SourceError):
    """The URL names nothing (HTTP 404/410, or a missing local file). Exit code 3."""


class TooLargeError(SourceError):
    """More bytes than the caller allows (the lock's size cap). The installer treats it as a
    refusal (exit 1): a file that differs from the lock in size is not an outage."""


@dataclass(frozen=True)
class FetchResult:
    """A finished download: where it is, how many bytes, and their sha256 (hex)."""

    path: Path
    size: int
    sha256: str


@dataclass(frozen=True)
class FetchedBytes:
    """A small document fetched into memory, with the URL it finally came from."""

    data: bytes
    url: str
    content_type: str | None
    sha256: str = field(repr=False, default="")


@dataclass(frozen=True)
class _Outcome:
    """How one transfer ended: the final URL, content type, status and response headers."""

    url: str
    content_type: str | None
    status: int
    headers: Mapping[str, str]


class _Transient(Exception):
    """A failure worth retrying; ``retry_after`` is what the server asked for (seconds)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _Permanent(Exception):
    """A failure that retrying cannot fix; carries the SourceError to raise."""

    def __init__(self, error: SourceError) -> None:
        super().__init__(error.message)
        self.error = error


def file_url_path(url: str) -> Path:
    """The local path of a ``file://`` URL (``file:///abs`` or ``file://localhost/abs``)."""
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        raise SourceError("not a local file URL", file=escape(url))
    return Path(urllib.request.url2pathname(parts.path))


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; None if absent or
    unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


class _Sink:
    """Where the bytes of one attempt go, hashed on the way; reset between attempts."""

    def __init__(self, handle: BinaryIO | None) -> None:
        self.handle = handle
        self.chunks: list[bytes] = []
        self.size = 0
        self.hasher = hashlib.sha256()

    def reset(self) -> None:
        if self.handle is not None:
            self.handle.seek(0)
            self.handle.truncate()
        self.chunks = []
        self.size = 0
        self.hasher = hashlib.sha256()

    def write(self, chunk: bytes) -> None:
        self.hasher.update(chunk)
        self.size += len(chunk)
        if self.handle is not None:
            self.handle.write(chunk)
        else:
            self.chunks.append(chunk)


@dataclass
class _Limits:
    max_size: int | None
    connect_timeout: float
    read_timeout: float
    deadline: float
    total_timeout: float
    clock: Callable[[], float]

    def remaining(self, url: str) -> float:
        left = self.deadline - self.clock()
        if left <= 0:
            raise _Permanent(
                SourceError(
                    f"download did not finish within {self.total_timeout:g} s",
                    file=redact_url(escape(url)),
                    fix="retry later, or raise the total timeout if the source is just slow",
                )
            )
        return left

    def check_size(self, url: str, size: int) -> None:
        if self.max_size is not None and size > self.max_size:
            raise _Permanent(
                TooLargeError(
                    f"more data than allowed: over {self.max_size} bytes",
                    file=redact_url(escape(url)),
                    expected=f"at most {self.max_size} bytes",
                    found=f"{size} bytes or more",
                    fix="the source serves something else than the locked file; check it",
                )
            )


def _default_transport() -> Transport:
    from lockkeys._internal.sources.urllib3_transport import Urllib3Transport

    return Urllib3Transport(user_agent=USER_AGENT)


class Client:
    """lockkeys' HTTP rules over one transport, with the credentials of the sources in use."""

    def __init__(
        self,
        transport: Transport | None = None,
        auth: AuthRegistry | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        page_cache: PageCache | None = None,
        transport_factory: Callable[[], Transport] | None = None,
        trust: TrustStore | None = None,
    ) -> None:
        """``transport_factory`` makes the transport on first use (none given: urllib3 with
        the system trust); ``trust`` is what it trusts, for the resolvers to trust alike."""
        self._transport = transport
        self._transport_factory = transport_factory
        self.trust = trust
        self.auth = auth if auth is not None else AuthRegistry()
        self.page_cache = page_cache
        # Pages read from the page cache in this session, with their SHA-256 (a lock reads
        # each page more than once: resolution, then file data), while they stay fresh.
        self._read_pages: dict[tuple[str, str], tuple[CachedPage, FetchedBytes]] = {}
        self.sleep = sleep
        self.clock = clock
        self.wall_clock = wall_clock
        self._lock = threading.Lock()

    @property
    def transport(self) -> Transport:
        with self._lock:
            if self._transport is None:
                factory = self._transport_factory or _default_transport
                self._transport = factory()
            return self._transport

    def close(self) -> None:
        with self._lock:
            if self._transport is not None:
                self._transport.close()

    # -- one request, with redirects and credentials -------------------------------------------

    def _open(
        self,
        url: str,
        method: str,
        headers: Mapping[str, str],
        limits: _Limits,
        *,
        not_modified_ok: bool = False,
    ) -> tuple[Response, str]:
        """A 2xx response for ``url`` (after redirects), or a classified failure; also a 304
        when ``not_modified_ok`` (the caller sent validators of a cached copy)."""
        current = url
        keyring_tried: set[str] = set()
        hops = 0
        while True:
            parts = urlsplit(current)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise _Permanent(
                    SourceError("not an http(s) URL", file=redact_url(escape(current)))
                )
            if parts.netloc in keyring_tried:
                creds = self.auth.keyring_credentials(current)
            else:
                creds = self.auth.credentials(current)
            send_headers = dict(headers)
            if creds is not None:
                send_headers["Authorization"] = creds.basic_header()
            request = Request(
                method=method,
                url=strip_userinfo(current),
                headers=send_headers,
                connect_timeout=min(limits.connect_timeout, limits.remaining(current)),
                read_timeout=min(limits.read_timeout, limits.remaining(current)),
            )
            try:
                response = self.transport.send(request)
            except TransportError as exc:
                raise self._transport_failure(current, exc) from None
            status = response.status
            if status in _REDIRECTS:
                location = response.headers.get("location")
                response.close()
                hops += 1
                if not location:
                    raise _Permanent(
                        SourceError(
                            f"HTTP {status} redirect without a Location",
                            file=redact_url(escape(current)),
                        )
                    )
                target = urljoin(current, location.strip())
                if urlsplit(target).scheme not in ("http", "https"):
                    raise _Permanent(
                        SourceError(
                            "redirect to a non-HTTP URL refused",
                            file=redact_url(escape(current)),
                            found=redact_url(escape(target)),
                        )
                    )
                if hops > MAX_REDIRECTS:
                    raise _Permanent(
                        SourceError(
                            f"more than {MAX_REDIRECTS} redirects",
                            file=redact_url(escape(url)),
                        )
                    )
                current = strip_userinfo(target)
                continue
            if (
                status == 401
                and creds is None
                and parts.netloc not in keyring_tried
                and self.auth.keyring_credentials(current) is not None
            ):
                # Nothing found before keyring: ask it now, once per server.
                response.close()
                keyring_tried.add(parts.netloc)
                continue
            if 200 <= status < 300 or (status == 304 and not_modified_ok):
                return response, current
            reason = response.reason
            retry_after = retry_after_seconds(
                response.headers.get("retry-after"), self.wall_clock()
            )
            response.close()
            if status in (401, 403):
                raise _Permanent(self._auth_failure(current, status, reason, creds))
            if status in _GONE_STATUSES:
                raise _Permanent(
                    NotFoundError(f"not found (HTTP {status})", file=redact_url(escape(current)))
                )
            if status in _RETRY_STATUSES:
                raise _Transient(f"HTTP {status} {reason}".strip(), retry_after)
            raise _Permanent(
                SourceError(
                    f"the server answered HTTP {status} {reason}".strip(),
                    file=redact_url(escape(current)),
                )
            )

    def _auth_failure(
        self, url: str, status: int, reason: str, used: Credentials | None
    ) -> SourceError:
        server = self.auth.describe_server(url)
        if used is None:
            message = f"{server} asks for credentials (HTTP {status} {reason}) and none were found"
        else:
            message = (
                f"{server} refused {used.shown_user()} (HTTP {status} {reason}); the "
                f"credentials came from {used.found_in}"
            )
        return SourceError(
            message.replace("  ", " "),
            file=redact_url(escape(url)),
            details=["credentials are looked up in this order:"]
            + [f"  {n}. {step}" for n, step in enumerate(self.auth.lookup_order(url), 1)],
            fix="check the user name and password (or token) for this source"
            if used is not None
            else "give credentials for this server in one of the places above",
        )

    def _transport_failure(self, url: str, exc: TransportError) -> Exception:
        server = self.auth.describe_server(url)
        shown = redact_url(escape(url))
        if isinstance(exc, TLSFailed):
            return _Permanent(
                SourceError(
                    f"{server}: TLS certificate check failed: {exc.reason}",
                    file=shown,
                    fix='if the server uses a private CA, set ca-bundle = "path/to/ca.pem" on '
                    "the source (or SSL_CERT_FILE, or add the CA to the system trust store)",
                )
            )
        if isinstance(exc, ProxyFailed):
            return _proxy_failure(exc, server, shown)
        if isinstance(exc, ReadTimedOut):
            return _Transient(f"{exc.reason}")
        if isinstance(exc, ConnectFailed):
            return _Transient(f"cannot connect: {exc.reason}")
        if isinstance(exc, ConnectionBroken):
            return _Transient(f"connection failed: {exc.reason}")
        return _Transient(exc.reason)

    # -- one attempt -----------------------------------------------------------------------------

    def _copy_http(
        self,
        url: str,
        sink: _Sink,
        limits: _Limits,
        headers: Mapping[str, str],
        not_modified_ok: bool = False,
    ) -> _Outcome:
        response, final_url = self._open(
            url, "GET", headers, limits, not_modified_ok=not_modified_ok
        )
        try:
            if response.status == 304:
                return _Outcome(final_url, None, 304, dict(response.headers))
            declared: int | None = None
            length_header = response.headers.get("content-length")
            if length_header is not None and length_header.strip().isdigit():
                declared = int(length_header.strip())
                limits.check_size(url, declared)
            while True:
                timeout = min(limits.read_timeout, limits.remaining(url))
                try:
                    chunk = response.read(CHUNK_SIZE, timeout)
                except ReadTimedOut:
                    if self.clock() >= limits.deadline:
                        limits.remaining(url)  # raises the total-timeout error
                    raise _Transient(
                        f"no data for {limits.read_timeout:g} s after {sink.size} bytes"
                    ) from None
                except TransportError as exc:
                    if declared is not None and sink.size < declared:
                        raise _Transient(
                            f"truncated: {sink.size} of {declared} bytes ({exc.reason})"
                        ) from None
                    raise _Transient(
                        f"connection broken after {sink.size} bytes: {exc.reason}"
                    ) from None
                if not chunk:
                    break
                limits.check_size(url, sink.size + len(chunk))
                sink.write(chunk)
            if declared is not None and sink.size != declared:
                raise _Transient(f"truncated: {sink.size} of {declared} bytes")
            content_type = response.headers.get("content-type")
            if content_type is not None:
                content_type = content_type.split(";", 1)[0].strip().lower() or None
            return _Outcome(final_url, content_type, response.status, dict(response.headers))
        finally:
            response.close()

    def fetch_page(
        self,
        url: str,
        *,
        max_size: int,
        accept: str,
        connect_timeout: float,
        read_timeout: float,
        total_timeout: float,
        retries: int,
        backoff: float,
        refresh: bool = False,
    ) -> FetchedBytes:
        """A project page: from the page cache while fresh, revalidated when stale."""
        cache = self.page_cache if urlsplit(url).scheme in ("http", "https") else None
        if cache is not None and not refresh:
            with self._lock:
                seen = self._read_pages.get((url, accept))
            if seen is not None and seen[0].fresh(self.wall_clock()):
                return seen[1]
        cached = cache.get(url, accept) if cache is not None and not refresh else None
        if cached is not None and cached.fresh(self.wall_clock()):
            page = _from_cache(cached)
            with self._lock:
                self._read_pages[(url, accept)] = (cached, page)
            return page
        headers = {"Accept": accept, **(cached.validators() if cached is not None else {})}
        sink = _Sink(None)
        outcome = self.run(
            url,
            sink,
            max_size=max_size,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            total_timeout=total_timeout,
            retries=retries,
            backoff=backoff,
            headers=headers,
            not_modified_ok=cached is not None,
        )
        if outcome.status == 304 and cached is not None and cache is not None:
            cache.touch(cached, outcome.headers)
            return _from_cache(cached)
        data = b"".join(sink.chunks)
        if cache is not None:
            cache.put(
                url,
                accept,
                final_url=outcome.url,
                content_type=outcome.content_type,
                body=data,
                headers=outcome.headers,
            )
        return FetchedBytes(data, outcome.url, outcome.content_type, sink.hasher.hexdigest())

    def head_size(self, url: str, *, timeout: float = 30.0) -> int | None:
        """The size a server announces for a file (HEAD, ``Content-Length``), or None."""
        total = timeout * 2
        limits = _Limits(None, timeout, timeout, self.clock() + total, total, self.clock)
        try:
            response, _ = self._open(url, "HEAD", {}, limits)
        except (_Permanent, _Transient):
            return None
        try:
            length = response.headers.get("content-length")
            return int(length) if length is not None and length.strip().isdigit() else None
        finally:
            response.close()

    def run(
        self,
        url: str,
        sink: _Sink,
        *,
        max_size: int | None,
        connect_timeout: float,
        read_timeout: float,
        total_timeout: float,
        retries: int,
        backoff: float,
        headers: Mapping[str, str],
        not_modified_ok: bool = False,
    ) -> _Outcome:
        """Attempt a transfer up to ``retries + 1`` times within one total deadline."""
        scheme = urlsplit(url).scheme
        limits = _Limits(
            max_size=max_size,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            deadline=self.clock() + total_timeout,
            total_timeout=total_timeout,
            clock=self.clock,
        )
        attempt: Callable[[], _Outcome]
        if scheme in ("http", "https"):

            def attempt() -> _Outcome:
                return self._copy_http(url, sink, limits, headers, not_modified_ok)

        elif scheme == "file":

            def attempt() -> _Outcome:
                return _copy_file(url, sink, limits)

        else:
            raise SourceError(
                "unsupported URL scheme (only http, https and file)",
                file=redact_url(escape(url)),
            )

        failures: list[str] = []
        for number in range(retries + 1):
            sink.reset()
            try:
                return attempt()
            except _Permanent as exc:
                exc.error.details.extend(failures)
                raise exc.error from None
            except _Transient as exc:
                failures.append(f"attempt {number + 1}: {exc}")
                log.debug("fetch %s failed (%s)", redact_url(url), exc)
                asked = exc.retry_after
            if number < retries:
                delay = min(backoff * (2**number), MAX_BACKOFF)
                if asked is not None:
                    delay = max(delay, asked)
                if self.clock() + delay >= limits.deadline:
                    if asked is not None:
                        failures.append(
                            f"the server asked to retry after {asked:g} s, past the deadline"
                        )
                    break
                self.sleep(delay)
        raise SourceError(
            f"download failed after {len([f for f in failures if f.startswith('attempt')])} "
            "attempt(s)",
            file=redact_url(escape(url)),
            details=failures,
            fix="check that the source is reachable, then retry",
        )


def _proxy_failure(exc: ProxyFailed, server: str, shown: str) -> Exception:
    """A proxy's refusal, naming the proxy (redacted) and, for 407, how to give it
    credentials; other proxy failures are retried."""
    proxy = redact_url(exc.proxy)
    if exc.status == 407:
        if exc.sent_credentials:
            message = "it refused the credentials it was given"
            fix = "check the user name and password in the proxy URL"
        else:
            message = "it asks for credentials (Proxy Authentication Required), none were given"
            fix = "give them in the proxy URL"
        return _Permanent(
            SourceError(
                f"the proxy {proxy} refused to connect to {server} (HTTP 407): {message}",
                file=shown,
                found=exc.reason,
                details=[f"the proxy is the one {exc.variable} names"] if exc.variable else [],
                fix=f"{fix}: {exc.variable or 'HTTPS_PROXY'}=USER:PASSWORD@PROXY-HOST:PORT "
                "(an http:// in front is allowed; percent-encode @ : / in them), or list the "
                "host in NO_PROXY if it needs no proxy",
            )
        )
    if exc.status is not None:
        return _Permanent(
            SourceError(
                f"the proxy {proxy} refused to connect to {server} (HTTP {exc.status})",
                file=shown,
                found=exc.reason,
                fix="check HTTPS_PROXY / HTTP_PROXY (and the proxy's credentials), or list "
                "the host in NO_PROXY",
            )
        )
    return _Transient(f"proxy {proxy} failed: {exc.reason}")


def _from_cache(page: CachedPage) -> FetchedBytes:
    return FetchedBytes(
        data=page.body,
        url=page.final_url,
        content_type=page.content_type,
        sha256=hashlib.sha256(page.body).hexdigest(),
    )


def _copy_file(url: str, sink: _Sink, limits: _Limits) -> _Outcome:
    """One attempt from a ``file://`` URL, with the same caps as a download."""
    path = file_url_path(url)
    try:
        # Non-blocking open, then only a regular file: a FIFO or device would block forever.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise _Permanent(SourceError("not a regular file (a pipe or device?)", file=str(path)))
        os.set_blocking(fd, True)
        handle = os.fdopen(fd, "rb")
    except FileNotFoundError:
        raise _Permanent(NotFoundError("no such file", file=str(path))) from None
    except OSError as exc:
        raise _Permanent(
            SourceError(f"cannot read the file: {exc.strerror or exc}", file=str(path))
        ) from None
    with handle:
        try:
            limits.check_size(url, os.fstat(handle.fileno()).st_size)
            while True:
                limits.remaining(url)
                chunk = handle.read(CHUNK_SIZE)
                if not chunk:
                    break
                limits.check_size(url, sink.size + len(chunk))
                sink.write(chunk)
        except OSError as exc:
            raise _Permanent(
                SourceError(f"cannot read the file: {exc.strerror or exc}", file=str(path))
            ) from None
    return _Outcome(url, None, 200, {})


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
        sink = _Sink(handle)
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
    sink = _Sink(None)
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
