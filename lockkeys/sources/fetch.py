"""Bounded downloads: size caps, per-read and total timeouts, bounded retries (rows 2, 3, 15).

Everything here streams: bytes are hashed while they are written, and a download is abandoned
as soon as it is larger than the caller allows or slower than the deadline. The caller names
the destination file; nothing a server sends (``Content-Disposition``, redirects) can choose a
path. ``file://`` URLs are read with the same caps, so a local folder is no more trusted than
a server.

Only the standard library is used (``urllib``, with redirects limited to http and https).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import logging
import os
import socket
import ssl
import stat
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from lockkeys.errors import SourceError, VerificationError, escape

__all__ = [
    "CHUNK_SIZE",
    "FetchResult",
    "FetchedBytes",
    "NotFoundError",
    "TooLargeError",
    "fetch_bytes",
    "fetch_optional_text",
    "fetch_to",
    "file_url_path",
]

log = logging.getLogger(__name__)

CHUNK_SIZE = 64 * 1024
USER_AGENT = "lockkeys/0.1 (+urllib)"
DEFAULT_BACKOFF = 0.25
MAX_BACKOFF = 2.0
_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_GONE_STATUSES = frozenset({404, 410})
#: Certificate and TLS failures are not retried: the answer would be the same.
_NOT_RETRIED = (ssl.SSLError, ssl.CertificateError)
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


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


class _Transient(Exception):
    """A failure worth retrying: connection trouble, a read timeout, a 5xx answer."""


class _Permanent(Exception):
    """A failure that retrying cannot fix; carries the SourceError to raise."""

    def __init__(self, error: SourceError) -> None:
        super().__init__(error.message)
        self.error = error


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to http and https URLs (never file:, ftp:, data:)."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        if urlsplit(newurl).scheme not in ("http", "https"):
            raise urllib.error.HTTPError(
                newurl, code, f"redirect to a non-HTTP URL refused: {newurl}", headers, fp
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


#: One TLS context for every connection: urllib would otherwise build one (and re-read the CA
#: bundle) per request, which dominated locking hundreds of files.
class _LazyTLS(urllib.request.HTTPSHandler):
    """HTTPS with one shared context, created on first use (it reads the CA bundle)."""

    _context: ssl.SSLContext | None = None

    @classmethod
    def context(cls) -> ssl.SSLContext:
        if cls._context is None:
            cls._context = ssl.create_default_context()
        return cls._context

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(http.client.HTTPSConnection, req, context=self.context())


_OPENER = urllib.request.build_opener(_LazyTLS(), _HttpOnlyRedirects)
#: Loopback never goes through a proxy from the environment.
_LOOPBACK_OPENER = urllib.request.build_opener(
    urllib.request.ProxyHandler({}), _LazyTLS(), _HttpOnlyRedirects
)


_KEEPALIVE = threading.local()


def _persistent(
    scheme: str, host: str, port: int | None, timeout: float
) -> http.client.HTTPConnection:
    """One kept-alive connection per (thread, server): connection set-up is what stalls."""
    pool: dict[tuple[str, str, int | None], http.client.HTTPConnection] = getattr(
        _KEEPALIVE, "pool", {}
    )
    _KEEPALIVE.pool = pool
    key = (scheme, host, port)
    conn = pool.get(key)
    if conn is None:
        if scheme == "https":
            conn = http.client.HTTPSConnection(
                host, port, timeout=timeout, context=_LazyTLS.context()
            )
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        pool[key] = conn
    return conn


def _head_via_urllib(url: str, timeout: float) -> int | None:
    request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": USER_AGENT})  # noqa: S310
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            return int(length) if length is not None and length.isdigit() else None
    except (OSError, ValueError, http.client.HTTPException):
        return None


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
    if parts.scheme in urllib.request.getproxies() and parts.hostname not in _LOOPBACK:
        return _head_via_urllib(url, timeout)  # a proxy is configured: let urllib use it
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    for _attempt in range(2):  # a kept-alive connection the server closed: reconnect once
        conn = _persistent(parts.scheme, parts.hostname, parts.port, timeout)
        try:
            conn.request("HEAD", path, headers={"User-Agent": USER_AGENT})
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            _KEEPALIVE.pool.pop((parts.scheme, parts.hostname, parts.port), None)
            continue
        if response.status != 200:
            return None
        length = response.headers.get("Content-Length")
        return int(length) if length is not None and length.isdigit() else None
    return None


def file_url_path(url: str) -> Path:
    """The local path of a ``file://`` URL (``file:///abs`` or ``file://localhost/abs``)."""
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        raise SourceError("not a local file URL", file=escape(url))
    return Path(urllib.request.url2pathname(parts.path))


def _set_read_timeout(response: http.client.HTTPResponse, seconds: float) -> None:
    """Narrow the socket timeout for the next read (urllib only sets one at connect time)."""
    raw = getattr(response.fp, "raw", None)
    sock = getattr(raw, "_sock", None)
    if isinstance(sock, socket.socket):
        sock.settimeout(max(seconds, 0.001))


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

    def remaining(self, url: str) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise _Permanent(
                SourceError(
                    f"download did not finish within {self.total_timeout:g} s",
                    file=escape(url),
                    fix="retry later, or raise the total timeout if the source is just slow",
                )
            )
        return left

    def check_size(self, url: str, size: int) -> None:
        if self.max_size is not None and size > self.max_size:
            raise _Permanent(
                TooLargeError(
                    f"more data than allowed: over {self.max_size} bytes",
                    file=escape(url),
                    expected=f"at most {self.max_size} bytes",
                    found=f"{size} bytes or more",
                    fix="the source serves something else than the locked file; check it",
                )
            )


def _copy_http(
    url: str, sink: _Sink, limits: _Limits, headers: Mapping[str, str]
) -> tuple[str, str | None]:
    """One attempt over HTTP; returns (final URL, content type)."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise _Permanent(SourceError("not an http(s) URL", file=escape(url)))
    # The scheme is checked just above, and redirects are limited to http(s).
    request = urllib.request.Request(  # noqa: S310
        url, headers={"User-Agent": USER_AGENT, **headers}
    )
    try:
        opener = _LOOPBACK_OPENER if urlsplit(url).hostname in _LOOPBACK else _OPENER
        opened = opener.open(request, timeout=min(limits.connect_timeout, limits.remaining(url)))
    except urllib.error.HTTPError as exc:
        with contextlib.closing(exc):
            if exc.code in _GONE_STATUSES:
                raise _Permanent(
                    NotFoundError(f"not found (HTTP {exc.code})", file=escape(url))
                ) from None
            if exc.code in _RETRY_STATUSES:
                raise _Transient(f"HTTP {exc.code} {exc.reason}") from None
            raise _Permanent(
                SourceError(f"the server answered HTTP {exc.code} {exc.reason}", file=escape(url))
            ) from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            raise _Transient(f"timed out connecting ({limits.connect_timeout:g} s)") from None
        if isinstance(reason, OSError) and not isinstance(reason, _NOT_RETRIED):
            raise _Transient(f"cannot connect: {reason}") from None
        raise _Permanent(SourceError(f"cannot open the URL: {reason}", file=escape(url))) from None
    except TimeoutError:
        raise _Transient(f"timed out connecting ({limits.connect_timeout:g} s)") from None
    except (OSError, http.client.HTTPException) as exc:
        raise _Transient(f"connection failed: {exc!r}") from None

    with contextlib.closing(opened):
        if not isinstance(opened, http.client.HTTPResponse):
            raise _Permanent(SourceError("not an HTTP response", file=escape(url)))
        response = opened
        declared: int | None = None
        length_header = response.headers.get("Content-Length")
        if length_header is not None and length_header.strip().isdigit():
            declared = int(length_header.strip())
            limits.check_size(url, declared)
        try:
            while True:
                _set_read_timeout(response, min(limits.read_timeout, limits.remaining(url)))
                chunk = response.read1(CHUNK_SIZE)
                if not chunk:
                    break
                limits.check_size(url, sink.size + len(chunk))
                sink.write(chunk)
        except TimeoutError:
            if time.monotonic() >= limits.deadline:
                limits.remaining(url)  # raises the total-timeout error
            raise _Transient(
                f"no data for {limits.read_timeout:g} s after {sink.size} bytes"
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            raise _Transient(f"connection broken after {sink.size} bytes: {exc!r}") from None
        if declared is not None and sink.size != declared:
            raise _Transient(f"truncated: {sink.size} of {declared} bytes")
        return response.geturl(), response.headers.get_content_type()


def _copy_file(url: str, sink: _Sink, limits: _Limits) -> tuple[str, str | None]:
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
    return url, None


def _run(
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
) -> tuple[str, str | None]:
    """Attempt a transfer up to ``retries + 1`` times within one total deadline."""
    scheme = urlsplit(url).scheme
    limits = _Limits(
        max_size=max_size,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        deadline=time.monotonic() + total_timeout,
        total_timeout=total_timeout,
    )
    attempt: Callable[[], tuple[str, str | None]]
    if scheme in ("http", "https"):

        def attempt() -> tuple[str, str | None]:
            return _copy_http(url, sink, limits, headers)

    elif scheme == "file":

        def attempt() -> tuple[str, str | None]:
            return _copy_file(url, sink, limits)

    else:
        raise SourceError("unsupported URL scheme (only http, https and file)", file=escape(url))

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
            log.debug("fetch %s failed (%s)", url, exc)
        if number < retries:
            delay = min(backoff * (2**number), MAX_BACKOFF)
            if time.monotonic() + delay >= limits.deadline:
                break
            time.sleep(delay)
    raise SourceError(
        f"download failed after {len(failures)} attempt(s)",
        file=escape(url),
        details=failures,
        fix="check that the source is reachable, then retry",
    )


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
    given and the bytes differ. Connection errors and 5xx answers are retried ``retries``
    times with a short backoff. The bytes go to a temporary file beside ``dest`` that is
    renamed into place only on success, and deleted on any failure.
    """
    dest = Path(dest)
    directory = dest.parent if str(dest.parent) else Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=directory)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w+b") as handle:
            sink = _Sink(handle)
            _run(
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
            handle.flush()
        digest = sink.hasher.hexdigest()
        if expected_sha256 is not None and digest != expected_sha256.lower():
            raise VerificationError(
                "sha256 of the downloaded file does not match",
                file=escape(url),
                expected=expected_sha256.lower(),
                found=digest,
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
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
    final_url, content_type = _run(
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
        url=final_url,
        content_type=content_type,
        sha256=sink.hasher.hexdigest(),
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
