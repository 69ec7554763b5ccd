"""The one redaction function: what lockkeys shows a person never carries a secret.

Two layers, applied together by :func:`redact`:

- the password part of any ``scheme://user:password@host`` in the text becomes ``****`` (the
  user name stays: an error must say which user a server refused);
- every secret lockkeys itself looked up (passwords and tokens from URLs, netrc, environment
  variables, keyring) is registered with :func:`register_secret` the moment it is read, and any
  occurrence of it in a text (a resolver's stderr, an exception, a log line) becomes ``****``.

Every URL shown to a person goes through :func:`redact_url`; errors (``lockkeys.errors``) and
log records (a filter the CLI installs) go through :func:`redact`.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import quote, urlsplit, urlunsplit

__all__ = [
    "MASK",
    "RedactingFilter",
    "redact",
    "redact_url",
    "register_secret",
    "strip_userinfo",
]

MASK = "****"
#: Secrets shorter than this are not searched for in free text (a one-letter "password" would
#: mask every such letter); they are still masked inside URLs.
_MIN_SCRUB = 4

_SECRETS: set[str] = set()
_LOCK = threading.Lock()
# scheme://user:password@  (password: anything up to the last @ before the host part)
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*):(?P<pw>[^/\s@]*)@")


def register_secret(secret: str | None) -> None:
    """Remember a secret so that :func:`redact` masks it wherever it shows up."""
    if not secret:
        return
    with _LOCK:
        _SECRETS.add(secret)
        # Also its percent-encoded form, as it appears inside a URL.
        quoted = quote(secret, safe="")
        if quoted != secret:
            _SECRETS.add(quoted)


def redact(text: str) -> str:
    """``text`` with URL passwords and every registered secret masked."""
    if not text:
        return text
    text = _URL_PASSWORD.sub(lambda m: f"{m.group('head')}:{MASK}@", text)
    with _LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        if len(secret) >= _MIN_SCRUB and secret in text:
            text = text.replace(secret, MASK)
    return text


def redact_url(url: str) -> str:
    """A URL fit to show: ``https://user:****@host/...`` (or unchanged without a password)."""
    return redact(url)


def strip_userinfo(url: str) -> str:
    """The URL without ``user:password@``: what lockkeys writes to a lock and shows."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


class RedactingFilter(logging.Filter):
    """A logging filter that redacts each record's final message (installed by the CLI)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True
