"""The one redaction function: what lockkeys shows a person never carries a secret.

Three layers, applied together by :func:`redact`:

- the password part of any ``scheme://user:password@host`` in the text becomes ``****`` (the
  user name stays: an error must say which user a server refused); a user name WITHOUT a
  password (``https://TOKEN@host/``, as GitLab and GitHub package registries take a token) is
  itself the secret and becomes ``****``; the whole user information is taken up to the last
  ``@`` of the authority, so a password holding an unencoded ``@`` is masked whole;
- the value of a URL query parameter whose name says it carries a secret (``token``,
  ``access_token``, ``private_token``, ``key``, ``signature``, ``sig``, ``password``,
  ``secret``, ``auth``, ``credential``, AWS / Azure / GCS pre-signed URL parameters, ...)
  becomes ``****``: a pre-signed download URL a server redirected to is shown, not usable;
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
# scheme://userinfo@ : the user information runs to the LAST @ before the path, query or
# fragment (a password may hold an unencoded @).
_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<info>[^/?#\s]*)@")
# name=value in a query string, the name saying that the value is a secret.
_SECRET_PARAM = re.compile(
    r"(?P<head>[?&;](?P<name>[A-Za-z0-9_.\-]*"
    r"(?:token|passw|secret|key|sig|auth|credential|jwt)[A-Za-z0-9_.\-]*)=)"
    r"(?P<value>[^&;#\s\"'<>]+)",
    re.IGNORECASE,
)


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
    text = _URL_USERINFO.sub(_mask_userinfo, text)
    text = _SECRET_PARAM.sub(lambda m: f"{m.group('head')}{MASK}", text)
    with _LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        if len(secret) >= _MIN_SCRUB and secret in text:
            text = text.replace(secret, MASK)
    return text


def _mask_userinfo(match: re.Match[str]) -> str:
    user, _sep, password = match.group("info").partition(":")
    if not password or not user:  # a user name alone is a token; ":password" a password
        return f"{match.group('scheme')}{MASK}@"
    return f"{match.group('scheme')}{user}:{MASK}@"


def redact_url(url: str) -> str:
    """A URL fit to show: ``https://user:****@host/...``, ``https://****@host/...`` for a
    token given as the user name, secret query values masked (else unchanged)."""
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
        """Redact the record's message in place; every record passes."""
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True
