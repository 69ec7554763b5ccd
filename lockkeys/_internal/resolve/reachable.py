"""Indexes that certainly cannot answer, told before a resolver is started.

pip and uv retry a connection that fails, with backoff: measured on this machine, a closed
port on 127.0.0.1 costs pip-compile 7.7 s and uv 10.6 s of retries before they give up. On a
loopback address a refused connection is not transient: nothing listens on that port, and no
retry within seconds changes that. So an index on a loopback address is asked for one TCP
connection first; when it is refused, the resolver is not started and the source error is
raised at once. Every other outcome (a remote host, a connection made, a timeout, a name
that does not resolve) starts the resolver as before, with all of its retries: a remote
index that refuses may be restarting, and that is what the retries are for.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from lockkeys._internal.resolve.common import redacted
from lockkeys.errors import SourceError, escape

#: Seconds the one TCP connection to a loopback index may take (it answers in microseconds).
CONNECT_TIMEOUT = 1.0

_DEFAULT_PORTS = {"http": 80, "https": 443}


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only: ``localhost`` or a loopback address."""
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def refused_loopback(indexes: Iterable[str]) -> str | None:
    """The first index URL on a loopback address whose port refuses a TCP connection, or None.

    Only a refusal counts: an accepted connection, a timeout or any other error says nothing
    certain, and leaves the verdict to the resolver."""
    for url in indexes:
        parts = urlsplit(url)
        try:
            host, port = parts.hostname, parts.port or _DEFAULT_PORTS.get(parts.scheme)
        except ValueError:
            continue
        if not host or port is None or not is_loopback(host):
            continue
        try:
            with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
                pass
        except ConnectionRefusedError:
            return url
        except OSError:
            continue
    return None


def check_loopback_indexes(resolver: str, indexes: Iterable[str]) -> None:
    """Raise the :class:`SourceError` (exit 3) a resolver run would end in when an index on a
    loopback address refuses connections, without running the resolver and its retries."""
    url = refused_loopback(indexes)
    if url is None:
        return
    shown = escape(redacted(url))
    parts = urlsplit(url)
    raise SourceError(
        f"{resolver} could not reach a package source: {shown}",
        details=[
            f"connection to {parts.hostname}:{parts.port or _DEFAULT_PORTS.get(parts.scheme)} "
            "refused: nothing listens on that port of this machine (the resolver was not "
            "started)"
        ],
        fix="check that each source in [[tool.lockkeys.sources]] is up and its URL is right",
    )
