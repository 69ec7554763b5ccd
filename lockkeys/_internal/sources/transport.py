"""lockkeys' own small HTTP transport interface (the urllib3 implementation is in
:mod:`lockkeys._internal.sources.urllib3_transport`, imported only when a request is made).

A transport sends ONE request and hands back the response with its body still unread. It
never follows redirects, never retries, never adds credentials and never decides what a
status code means: those are lockkeys' rules, kept in :mod:`lockkeys._internal.sources.client`
on top of any transport. Unit tests use an in-memory transport
(``tests/support/fake_transport.py``); everything else uses ``Urllib3Transport``:

- connection pooling and keep-alive (``urllib3.PoolManager``);
- TLS from :mod:`lockkeys._internal.sources.tls` (the system trust store through ``truststore``,
  plus ``SSL_CERT_FILE`` and a source's ``ca-bundle``);
- proxies from the standard environment variables (``HTTPS_PROXY``, ``HTTP_PROXY``,
  ``ALL_PROXY``, ``NO_PROXY``), an ``https://`` target tunnelled through ``CONNECT``.

Failures are the exception classes below, so that the rules above never see urllib3's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

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
    "proxy_for",
    "proxy_variable",
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
    """The proxy could not be reached, or refused the request (``status`` when it said:
    407 is its own request for credentials, for a tunnel or a plain-HTTP request alike).
    ``proxy`` is shown redacted; ``variable`` is the environment variable that named it;
    ``sent_credentials`` whether the proxy URL carried credentials."""

    def __init__(
        self,
        reason: str,
        proxy: str,
        status: int | None = None,
        *,
        variable: str | None = None,
        sent_credentials: bool = False,
    ) -> None:
        super().__init__(reason)
        self.proxy = proxy
        self.status = status
        self.variable = variable
        self.sent_credentials = sent_credentials


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

    def close(self) -> None:
        """Release the connection; the body is not read any further."""
        ...


class Transport(Protocol):
    """Sends one request; raises a :class:`TransportError` when there is no response."""

    def send(self, request: Request) -> Response:
        """Send ``request`` and return the response as soon as its headers are in."""
        ...

    def close(self) -> None:
        """Close every connection the transport keeps open."""
        ...


# -- proxies from the environment ----------------------------------------------------------------


def proxy_variable(url: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The name of the variable :func:`proxy_for` takes ``url``'s proxy from, as set."""
    env = os.environ if environ is None else environ
    scheme = urlsplit(url).scheme
    for name in (f"{scheme}_proxy", "all_proxy"):
        for spelled in (name.lower(), name.upper()):
            if env.get(spelled, "").strip():
                return spelled
    return None


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
