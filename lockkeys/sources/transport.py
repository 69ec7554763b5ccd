"""lockkeys' own small HTTP transport interface, and its implementation on urllib3.

A transport sends ONE request and hands back the response with its body still unread. It
never follows redirects, never retries, never adds credentials and never decides what a
status code means: those are lockkeys' rules, kept in :mod:`lockkeys.sources.fetch` on top of
any transport. Unit tests use an in-memory transport (``tests/support/fake_transport.py``);
everything else uses :class:`Urllib3Transport`:

- connection pooling and keep-alive (``urllib3.PoolManager``);
- TLS from :mod:`lockkeys.sources.tls` (the system trust store through ``truststore``, plus
  ``SSL_CERT_FILE`` and a source's ``ca-bundle``);
- proxies from the standard environment variables (``HTTPS_PROXY``, ``HTTP_PROXY``,
  ``ALL_PROXY``, ``NO_PROXY``), an ``https://`` target tunnelled through ``CONNECT``.

Failures are the exception classes below, so that the rules above never see urllib3's.
"""

from __future__ import annotations

import base64
import os
import socket
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import unquote, urlsplit

import urllib3
from urllib3 import exceptions as u3

from lockkeys.redact import register_secret, strip_userinfo
from lockkeys.sources.tls import TrustStore

__all__ = [
    "ConnectFailed",
    "ConnectionBroken",
    "ProxyFailed",
    "ReadTimedOut",
    "Request",
    "Response",
    "TLSFailed",
    "Transport",
    "TransportError",
    "Urllib3Transport",
    "proxy_for",
]


class TransportError(Exception):
    """A request failed below HTTP (no status). ``reason`` is for people."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ConnectFailed(TransportError):
    """No connection: refused, unreachable, name not resolved, timed out connecting."""


class ReadTimedOut(TransportError):
    """The server sent nothing within the read timeout."""


class ConnectionBroken(TransportError):
    """The connection broke (reset, closed early, malformed HTTP)."""


class TLSFailed(TransportError):
    """The TLS handshake failed: most often the server's certificate is not trusted."""


class ProxyFailed(TransportError):
    """The proxy could not be reached, or refused the request (``status`` when it said)."""

    def __init__(self, reason: str, proxy: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.proxy = proxy
        self.status = status


@dataclass(frozen=True)
class Request:
    """One request. ``url`` carries no credentials; ``headers`` may (Authorization)."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    connect_timeout: float = 10.0
    read_timeout: float = 30.0


class Response(Protocol):
    """A response whose body has not been read yet. Header names are lower case."""

    status: int
    reason: str
    headers: Mapping[str, str]

    def read(self, max_bytes: int, timeout: float) -> bytes:
        """Up to ``max_bytes`` of the body, as soon as some are there; ``b""`` at the end.

        Raises :class:`ReadTimedOut` when nothing arrives within ``timeout`` seconds and
        :class:`ConnectionBroken` when the connection fails.
        """
        ...

    def close(self) -> None: ...


class Transport(Protocol):
    """Sends one request; raises a :class:`TransportError` when there is no response."""

    def send(self, request: Request) -> Response: ...

    def close(self) -> None: ...


# -- proxies from the environment ----------------------------------------------------------------


def proxy_for(url: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The proxy URL the environment names for ``url`` (``HTTPS_PROXY`` for https,
    ``HTTP_PROXY`` for http, ``ALL_PROXY`` for both), or None (none set, or ``NO_PROXY``
    matches the host), as curl, pip and uv read them."""
    env = os.environ if environ is None else environ
    parts = urlsplit(url)
    scheme = parts.scheme
    host = parts.hostname or ""

    def get(name: str) -> str | None:
        value = env.get(name.lower()) or env.get(name.upper())
        return value.strip() if value and value.strip() else None

    proxy = get(f"{scheme}_proxy") or get("all_proxy")
    if proxy is None:
        return None
    no_proxy = get("no_proxy")
    if no_proxy:
        if no_proxy == "*":
            return None
        port = parts.port
        for entry in (e.strip().lower() for e in no_proxy.split(",")):
            if not entry:
                continue
            entry_host, entry_port = entry, ""
            if entry.count(":") == 1:
                entry_host, _, entry_port = entry.partition(":")
            if entry_port and port is not None and entry_port != str(port):
                continue
            entry_host = entry_host.lstrip(".")
            if entry_host.startswith("*."):
                entry_host = entry_host[2:]
            if host == entry_host or host.endswith("." + entry_host):
                return None
    if "://" not in proxy:
        proxy = "http://" + proxy
    return proxy


# -- urllib3 -------------------------------------------------------------------------------------


class _Urllib3Response:
    def __init__(self, response: urllib3.BaseHTTPResponse, proxy: str | None) -> None:
        self._response = response
        self._proxy = proxy
        self.status = int(response.status)
        self.reason = str(response.reason or "")
        self.headers: Mapping[str, str] = {k.lower(): v for k, v in response.headers.items()}

    def _narrow(self, timeout: float) -> None:
        """Every read waits at most ``timeout`` (urllib3 sets one read timeout per request)."""
        connection = getattr(self._response, "connection", None)
        sock = getattr(connection, "sock", None)
        if isinstance(sock, socket.socket):
            sock.settimeout(max(timeout, 0.001))

    def read(self, max_bytes: int, timeout: float) -> bytes:
        self._narrow(timeout)
        try:
            return self._response.read1(max_bytes, decode_content=False)
        except (u3.ReadTimeoutError, TimeoutError):
            raise ReadTimedOut(f"no data for {timeout:g} s") from None
        except (u3.ProtocolError, u3.HTTPError, OSError) as exc:
            raise ConnectionBroken(_describe(exc)) from None

    def close(self) -> None:
        # Drain nothing: a body not read to its end closes the connection instead of
        # returning it to the pool.
        self._response.close()
        self._response.release_conn()


def _describe(exc: BaseException) -> str:
    """The innermost useful reason of a urllib3 error, on one line."""
    reason = exc
    for _ in range(5):
        inner = getattr(reason, "reason", None) or getattr(reason, "original_error", None)
        if inner is None and reason.args and isinstance(reason.args[-1], BaseException):
            inner = reason.args[-1]
        if not isinstance(inner, BaseException) or inner is reason:
            break
        reason = inner
    text = str(reason) or type(reason).__name__
    # urllib3 prefixes "<urllib3.connection.HTTPSConnection object at 0x...>: ": drop it.
    if text.startswith("<") and ">: " in text:
        text = text.split(">: ", 1)[1]
    return " ".join(text.split())


def _tls_reason(exc: BaseException) -> str:
    seen: BaseException | None = exc
    for _ in range(6):
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen.verify_message or str(seen)
        nxt = getattr(seen, "reason", None) or (
            seen.args[0] if seen is not None and seen.args else None
        )
        seen = nxt if isinstance(nxt, BaseException) else None
        if seen is None:
            break
    return _describe(exc)


def _proxy_status(text: str) -> int | None:
    # http.client: "Tunnel connection failed: 407 Proxy Authentication Required"
    marker = "Tunnel connection failed: "
    if marker in text:
        code = text.split(marker, 1)[1][:3]
        if code.isdigit():
            return int(code)
    return None


class Urllib3Transport:
    """The real transport: urllib3 pools, one per (proxy, trust) combination."""

    def __init__(
        self,
        trust: TrustStore | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        pool_size: int = 8,
        user_agent: str = "lockkeys",
    ) -> None:
        self.trust = trust if trust is not None else TrustStore()
        self._environ = environ
        self._pool_size = pool_size
        self._user_agent = user_agent
        self._managers: dict[tuple[str | None, int], urllib3.PoolManager] = {}
        self._lock = threading.Lock()

    def _manager(self, proxy: str | None, url: str) -> urllib3.PoolManager:
        context = self.trust.context_for(url)
        key = (proxy, id(context))
        with self._lock:
            manager = self._managers.get(key)
            if manager is not None:
                return manager
            common = {
                "num_pools": 32,
                "maxsize": self._pool_size,
                "block": False,
                "retries": False,
                "ssl_context": context,
            }
            if proxy is None:
                manager = urllib3.PoolManager(**common)  # type: ignore[arg-type]
            else:
                parts = urlsplit(proxy)
                headers: dict[str, str] = {}
                if parts.username is not None:
                    password = unquote(parts.password or "")
                    register_secret(password)
                    token = f"{unquote(parts.username)}:{password}".encode()
                    headers["Proxy-Authorization"] = "Basic " + base64.b64encode(token).decode()
                manager = urllib3.ProxyManager(
                    strip_userinfo(proxy),
                    proxy_headers=headers,
                    proxy_ssl_context=self.trust.context_for(proxy),
                    **common,  # type: ignore[arg-type]
                )
            self._managers[key] = manager
            return manager

    def send(self, request: Request) -> Response:
        proxy = proxy_for(request.url, self._environ)
        shown_proxy = strip_userinfo(proxy) if proxy else None
        manager = self._manager(proxy, request.url)
        headers = {"User-Agent": self._user_agent, "Accept-Encoding": "identity"}
        headers.update(request.headers)
        try:
            response = manager.request(
                request.method,
                request.url,
                headers=headers,
                redirect=False,
                retries=False,
                preload_content=False,
                decode_content=False,
                timeout=urllib3.Timeout(
                    connect=max(request.connect_timeout, 0.001),
                    read=max(request.read_timeout, 0.001),
                ),
            )
        except u3.ProxyError as exc:
            reason = _describe(exc)
            raise ProxyFailed(
                reason, proxy=shown_proxy or "?", status=_proxy_status(reason)
            ) from None
        except u3.SSLError as exc:
            raise TLSFailed(_tls_reason(exc)) from None
        except u3.NewConnectionError as exc:
            raise ConnectFailed(_describe(exc)) from None
        except u3.ConnectTimeoutError:
            raise ConnectFailed(f"timed out connecting ({request.connect_timeout:g} s)") from None
        except u3.ReadTimeoutError:
            raise ReadTimedOut(f"no answer within {request.read_timeout:g} s") from None
        except ssl.SSLError as exc:
            raise TLSFailed(_tls_reason(exc)) from None
        except (u3.ProtocolError, u3.HTTPError, OSError) as exc:
            raise ConnectionBroken(_describe(exc)) from None
        return _Urllib3Response(response, shown_proxy)

    def close(self) -> None:
        with self._lock:
            for manager in self._managers.values():
                manager.clear()
            self._managers.clear()
