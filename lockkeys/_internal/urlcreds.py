"""Credentials written into an index URL (``https://user:password@host/simple/``).

A sources concern, kept in the base layer because the configuration schema (below sources)
splits them out at validation time: the URL is kept without them, the secrets are registered
with :mod:`lockkeys._internal.redact` so no message shows them.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from lockkeys._internal.redact import register_secret, strip_userinfo

__all__ = ["UrlCredentials", "split_url_credentials"]

UrlCredentials = tuple[str, str | None]


def split_url_credentials(url: str) -> tuple[str, UrlCredentials | None]:
    """``(url without user:password@, (user, password) or None)``, the secrets registered."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    raw_user, sep, raw_password = parts.netloc.rsplit("@", 1)[0].partition(":")
    password = unquote(raw_password) if sep else None
    register_secret(password)
    if not password:  # https://TOKEN@host/: the user name is the secret
        register_secret(unquote(raw_user))
    return strip_userinfo(url), (unquote(raw_user), password)
