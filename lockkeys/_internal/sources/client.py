"""The :class:`Client`: lockkeys' HTTP rules (redirects, credentials, retries with backoff,
deadlines, the page cache) over one :class:`~lockkeys._internal.sources.transport.Transport`."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from urllib.parse import urljoin, urlsplit

from lockkeys._internal.redact import redact_url, strip_userinfo
from lockkeys._internal.sources.auth import AuthRegistry, Credentials
from lockkeys._internal.sources.failures import auth_failure, transport_failure
from lockkeys._internal.sources.pagecache import CachedPage, PageCache
from lockkeys._internal.sources.tls import TrustStore
from lockkeys._internal.sources.transfer import (
    CHUNK_SIZE,
    MAX_BACKOFF,
    FetchedBytes,
    Limits,
    NotFoundError,
    Outcome,
    Permanent,
    Sink,
    Transient,
    copy_file,
    from_cache,
    retry_after_seconds,
)
from lockkeys._internal.sources.transport import (
    ReadTimedOut,
    Request,
    Response,
    Transport,
    TransportError,
)
from lockkeys.errors import SourceError, escape

log = logging.getLogger("lockkeys._internal.sources.fetch")

USER_AGENT = "lockkeys/0.1"
MAX_REDIRECTS = 10
_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_GONE_STATUSES = frozenset({404, 410})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


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
        """The transport requests go through, made on first use."""
        with self._lock:
            if self._transport is None:
                factory = self._transport_factory or _default_transport
                self._transport = factory()
            return self._transport

    def close(self) -> None:
        """Close the transport's connections (the client may be used again)."""
        with self._lock:
            if self._transport is not None:
                self._transport.close()

    # -- one request, with redirects and credentials -------------------------------------------

    def _open(
        self,
        url: str,
        method: str,
        headers: Mapping[str, str],
        limits: Limits,
        *,
        not_modified_ok: bool = False,
    ) -> tuple[Response, str]:
        """A 2xx response for ``url`` (after redirects), or a classified failure; also a 304
        when ``not_modified_ok`` (the caller sent validators of a cached copy)."""
        current = url
        keyring_tried: set[str] = set()
        hops = 0
        while True:
            netloc = urlsplit(current).netloc
            response, creds = self._send(current, method, headers, limits, keyring_tried)
            status = response.status
            if status in _REDIRECTS:
                hops += 1
                current = _redirect_target(url, current, response, hops)
                continue
            if (
                status == 401
                and creds is None
                and netloc not in keyring_tried
                and self.auth.keyring_credentials(current) is not None
            ):
                # Nothing found before keyring: ask it now, once per server.
                response.close()
                keyring_tried.add(netloc)
                continue
            if 200 <= status < 300 or (status == 304 and not_modified_ok):
                return response, current
            raise self._refusal(current, response, creds)

    def _send(
        self,
        current: str,
        method: str,
        headers: Mapping[str, str],
        limits: Limits,
        keyring_tried: set[str],
    ) -> tuple[Response, Credentials | None]:
        """One request to ``current`` with the credentials that belong to its server (from
        keyring once a 401 asked for them), and the credentials sent."""
        parts = urlsplit(current)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Permanent(SourceError("not an http(s) URL", file=redact_url(escape(current))))
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
            return self.transport.send(request), creds
        except TransportError as exc:
            raise transport_failure(self.auth, current, exc) from None

    def _refusal(
        self, current: str, response: Response, creds: Credentials | None
    ) -> Permanent | Transient:
        """What a non-2xx, non-redirect answer means (the response is closed)."""
        status, reason = response.status, response.reason
        retry_after = retry_after_seconds(response.headers.get("retry-after"), self.wall_clock())
        response.close()
        if status in (401, 403):
            return Permanent(auth_failure(self.auth, current, status, reason, creds))
        if status in _GONE_STATUSES:
            return Permanent(
                NotFoundError(f"not found (HTTP {status})", file=redact_url(escape(current)))
            )
        if status in _RETRY_STATUSES:
            return Transient(f"HTTP {status} {reason}".strip(), retry_after)
        return Permanent(
            SourceError(
                f"the server answered HTTP {status} {reason}".strip(),
                file=redact_url(escape(current)),
            )
        )

    # -- one attempt -----------------------------------------------------------------------------

    def _copy_http(
        self,
        url: str,
        sink: Sink,
        limits: Limits,
        headers: Mapping[str, str],
        not_modified_ok: bool = False,
    ) -> Outcome:
        response, final_url = self._open(
            url, "GET", headers, limits, not_modified_ok=not_modified_ok
        )
        try:
            if response.status == 304:
                return Outcome(final_url, None, 304, dict(response.headers))
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
                    raise Transient(
                        f"no data for {limits.read_timeout:g} s after {sink.size} bytes"
                    ) from None
                except TransportError as exc:
                    if declared is not None and sink.size < declared:
                        raise Transient(
                            f"truncated: {sink.size} of {declared} bytes ({exc.reason})"
                        ) from None
                    raise Transient(
                        f"connection broken after {sink.size} bytes: {exc.reason}"
                    ) from None
                if not chunk:
                    break
                limits.check_size(url, sink.size + len(chunk))
                sink.write(chunk)
            if declared is not None and sink.size != declared:
                raise Transient(f"truncated: {sink.size} of {declared} bytes")
            content_type = response.headers.get("content-type")
            if content_type is not None:
                content_type = content_type.split(";", 1)[0].strip().lower() or None
            return Outcome(final_url, content_type, response.status, dict(response.headers))
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
            page = from_cache(cached)
            with self._lock:
                self._read_pages[(url, accept)] = (cached, page)
            return page
        headers = {"Accept": accept, **(cached.validators() if cached is not None else {})}
        sink = Sink(None)
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
            return from_cache(cached)
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
        limits = Limits(None, timeout, timeout, self.clock() + total, total, self.clock)
        try:
            response, _ = self._open(url, "HEAD", {}, limits)
        except (Permanent, Transient):
            return None
        try:
            length = response.headers.get("content-length")
            return int(length) if length is not None and length.strip().isdigit() else None
        finally:
            response.close()

    def run(
        self,
        url: str,
        sink: Sink,
        *,
        max_size: int | None,
        connect_timeout: float,
        read_timeout: float,
        total_timeout: float,
        retries: int,
        backoff: float,
        headers: Mapping[str, str],
        not_modified_ok: bool = False,
    ) -> Outcome:
        """Attempt a transfer up to ``retries + 1`` times within one total deadline."""
        scheme = urlsplit(url).scheme
        limits = Limits(
            max_size=max_size,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            deadline=self.clock() + total_timeout,
            total_timeout=total_timeout,
            clock=self.clock,
        )
        attempt: Callable[[], Outcome]
        if scheme in ("http", "https"):

            def attempt() -> Outcome:
                return self._copy_http(url, sink, limits, headers, not_modified_ok)

        elif scheme == "file":

            def attempt() -> Outcome:
                return copy_file(url, sink, limits)

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
            except Permanent as exc:
                exc.error.details.extend(failures)
                raise exc.error from None
            except Transient as exc:
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


def _redirect_target(url: str, current: str, response: Response, hops: int) -> str:
    """Where a redirect from ``current`` leads (the response is closed): only to http(s), at
    most :data:`MAX_REDIRECTS` hops from ``url``, never with credentials in the URL."""
    location = response.headers.get("location")
    response.close()
    if not location:
        raise Permanent(
            SourceError(
                f"HTTP {response.status} redirect without a Location",
                file=redact_url(escape(current)),
            )
        )
    target = urljoin(current, location.strip())
    if urlsplit(target).scheme not in ("http", "https"):
        raise Permanent(
            SourceError(
                "redirect to a non-HTTP URL refused",
                file=redact_url(escape(current)),
                found=redact_url(escape(target)),
            )
        )
    if hops > MAX_REDIRECTS:
        raise Permanent(
            SourceError(f"more than {MAX_REDIRECTS} redirects", file=redact_url(escape(url)))
        )
    return strip_userinfo(target)
