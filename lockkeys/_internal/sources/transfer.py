"""The parts of one transfer: its results and errors, the sink the bytes stream into, the
size and time limits it runs under, a ``Retry-After`` read as seconds, and a ``file://`` attempt.

:mod:`lockkeys._internal.sources.client` runs transfers over http(s); everything here is what
a transfer is made of whatever its scheme."""

from __future__ import annotations

import email.utils
import hashlib
import os
import stat
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from lockkeys._internal.redact import redact_url
from lockkeys._internal.sources.pagecache import CachedPage
from lockkeys.errors import SourceError, escape

CHUNK_SIZE = 64 * 1024
DEFAULT_BACKOFF = 0.25
MAX_BACKOFF = 2.0


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
class Outcome:
    """How one transfer ended: the final URL, content type, status and response headers."""

    url: str
    content_type: str | None
    status: int
    headers: Mapping[str, str]


class Transient(Exception):
    """A failure worth retrying; ``retry_after`` is what the server asked for (seconds)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Permanent(Exception):
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


class Sink:
    """Where the bytes of one attempt go, hashed on the way; reset between attempts."""

    def __init__(self, handle: BinaryIO | None) -> None:
        self.handle = handle
        self.chunks: list[bytes] = []
        self.size = 0
        self.hasher = hashlib.sha256()

    def reset(self) -> None:
        """Forget what a failed attempt wrote, before the next one."""
        if self.handle is not None:
            self.handle.seek(0)
            self.handle.truncate()
        self.chunks = []
        self.size = 0
        self.hasher = hashlib.sha256()

    def write(self, chunk: bytes) -> None:
        """Take one chunk: hash and count it, then write or keep it."""
        self.hasher.update(chunk)
        self.size += len(chunk)
        if self.handle is not None:
            self.handle.write(chunk)
        else:
            self.chunks.append(chunk)


@dataclass
class Limits:
    """The size cap and the deadlines one transfer (all its attempts) runs under."""

    max_size: int | None
    connect_timeout: float
    read_timeout: float
    deadline: float
    total_timeout: float
    clock: Callable[[], float]

    def remaining(self, url: str) -> float:
        """Seconds left before the total deadline; past it, the permanent total-timeout error."""
        left = self.deadline - self.clock()
        if left <= 0:
            raise Permanent(
                SourceError(
                    f"download did not finish within {self.total_timeout:g} s",
                    file=redact_url(escape(url)),
                    fix="retry later, or raise the total timeout if the source is just slow",
                )
            )
        return left

    def check_size(self, url: str, size: int) -> None:
        """Refuse (permanently) a transfer that has reached more than the size cap."""
        if self.max_size is not None and size > self.max_size:
            raise Permanent(
                TooLargeError(
                    f"more data than allowed: over {self.max_size} bytes",
                    file=redact_url(escape(url)),
                    expected=f"at most {self.max_size} bytes",
                    found=f"{size} bytes or more",
                    fix="the source serves something else than the locked file; check it",
                )
            )


def from_cache(page: CachedPage) -> FetchedBytes:
    """A cached page as the bytes a fetch returns."""
    return FetchedBytes(
        data=page.body,
        url=page.final_url,
        content_type=page.content_type,
        sha256=hashlib.sha256(page.body).hexdigest(),
    )


def copy_file(url: str, sink: Sink, limits: Limits) -> Outcome:
    """One attempt from a ``file://`` URL, with the same caps as a download."""
    path = file_url_path(url)
    try:
        # Non-blocking open, then only a regular file: a FIFO or device would block forever.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise Permanent(SourceError("not a regular file (a pipe or device?)", file=str(path)))
        os.set_blocking(fd, True)
        handle = os.fdopen(fd, "rb")
    except FileNotFoundError:
        raise Permanent(NotFoundError("no such file", file=str(path))) from None
    except OSError as exc:
        raise Permanent(
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
            raise Permanent(
                SourceError(f"cannot read the file: {exc.strerror or exc}", file=str(path))
            ) from None
    return Outcome(url, None, 200, {})
