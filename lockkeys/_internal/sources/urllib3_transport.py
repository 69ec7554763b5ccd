"""The transport on urllib3 (see :mod:`lockkeys._internal.sources.transport` for the interface).

Kept apart so that a lock that needs no network (fresh index pages, a reused resolution)
does not import urllib3 at all.
"""

from __future__ import annotations

import base64
import socket
import ssl
import threading
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

import urllib3
from urllib3 import exceptions as u3

from lockkeys._internal.redact import register_secret, strip_userinfo
from lockkeys._internal.sources.tls import TrustStore
from lockkeys._internal.sources.transport import (
    ConnectFailed,
    ConnectionBroken,
    ProxyFailed,
    ReadTimedOut,
    Request,
    Response,
    TLSFailed,
    proxy_for,
    proxy_variable,
)

__all__ = ["Urllib3Transport"]


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
                    if not password:  # a user name alone is a token
                        register_secret(unquote(parts.username))
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

    def _proxy_failed(self, reason: str, proxy: str, url: str, status: int | None) -> ProxyFailed:
        return ProxyFailed(
            reason,
            proxy=strip_userinfo(proxy),
            status=status,
            variable=proxy_variable(url, self._environ),
            sent_credentials=urlsplit(proxy).username is not None,
        )

    def send(self, request: Request) -> Response:
        """Send one request through urllib3 (through the proxy the environment names, if any)."""
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
            raise self._proxy_failed(
                reason, proxy or "?", request.url, _proxy_status(reason)
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
        if proxy is not None and response.status == 407 and urlsplit(request.url).scheme == "http":
            # A plain-HTTP request goes to the proxy itself: its 407 is the proxy's, not the
            # server's (an https request's 407 comes from the CONNECT, above).
            reason = f"{response.status} {response.reason or ''}".strip()
            response.close()
            response.release_conn()
            raise self._proxy_failed(reason, proxy, request.url, 407)
        return _Urllib3Response(response, shown_proxy)

    def close(self) -> None:
        """Close every pooled connection."""
        with self._lock:
            for manager in self._managers.values():
                manager.clear()
            self._managers.clear()
