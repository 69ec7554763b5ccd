"""What a refused or failed request is said as: a server asking for or refusing
credentials, a TLS, proxy or connection failure; each a :class:`~.transfer.Permanent` (with
the SourceError to raise) or a :class:`~.transfer.Transient` (retried)."""

from __future__ import annotations

from lockkeys._internal.redact import redact_url
from lockkeys._internal.sources.auth import AuthRegistry, Credentials
from lockkeys._internal.sources.transfer import Permanent, Transient
from lockkeys._internal.sources.transport import (
    ConnectFailed,
    ConnectionBroken,
    ProxyFailed,
    ReadTimedOut,
    TLSFailed,
    TransportError,
)
from lockkeys.errors import SourceError, escape


def auth_failure(
    auth: AuthRegistry, url: str, status: int, reason: str, used: Credentials | None
) -> SourceError:
    """A 401 or 403: which server refused which user, and where credentials are looked up."""
    server = auth.describe_server(url)
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
        + [f"  {n}. {step}" for n, step in enumerate(auth.lookup_order(url), 1)],
        fix="check the user name and password (or token) for this source"
        if used is not None
        else "give credentials for this server in one of the places above",
    )


def transport_failure(auth: AuthRegistry, url: str, exc: TransportError) -> Exception:
    """A request that got no answer: TLS and proxy refusals are permanent, the rest retried."""
    server = auth.describe_server(url)
    shown = redact_url(escape(url))
    if isinstance(exc, TLSFailed):
        return Permanent(
            SourceError(
                f"{server}: TLS certificate check failed: {exc.reason}",
                file=shown,
                fix='if the server uses a private CA, set ca-bundle = "path/to/ca.pem" on '
                "the source (or SSL_CERT_FILE, or add the CA to the system trust store)",
            )
        )
    if isinstance(exc, ProxyFailed):
        return proxy_failure(exc, server, shown)
    if isinstance(exc, ReadTimedOut):
        return Transient(f"{exc.reason}")
    if isinstance(exc, ConnectFailed):
        return Transient(f"cannot connect: {exc.reason}")
    if isinstance(exc, ConnectionBroken):
        return Transient(f"connection failed: {exc.reason}")
    return Transient(exc.reason)


def proxy_failure(exc: ProxyFailed, server: str, shown: str) -> Exception:
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
        return Permanent(
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
        return Permanent(
            SourceError(
                f"the proxy {proxy} refused to connect to {server} (HTTP {exc.status})",
                file=shown,
                found=exc.reason,
                fix="check HTTPS_PROXY / HTTP_PROXY (and the proxy's credentials), or list "
                "the host in NO_PROXY",
            )
        )
    return Transient(f"proxy {proxy} failed: {exc.reason}")
