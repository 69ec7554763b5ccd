"""Credentials a host gives by origin in its environment (the deploy-side naming scheme).

For each server that needs credentials, the host chooses a tag (any name: ``CORP``) and sets::

    LOCKKEYS_INDEX_CORP_URL=https://pypi.corp.example:8443    # the origin: scheme, host, port
    LOCKKEYS_INDEX_CORP_USERNAME=ci-bot                        # optional with a token
    LOCKKEYS_INDEX_CORP_PASSWORD=...                           # or LOCKKEYS_INDEX_CORP_TOKEN=...

The credentials go to that exact origin only (the URL's path, if any, is ignored); a token
is the password of user ``__token__`` unless ``_USERNAME`` is set. The tag is the host's
choice, never a lock's: a lock's source names and URLs cannot pick another tag's secret.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from lockkeys._internal.redact import register_secret
from lockkeys._internal.sources.tls import origin_of
from lockkeys.errors import InputError

__all__ = ["PREFIX", "OriginEntry", "origin_entries", "variables_for"]

PREFIX = "LOCKKEYS_INDEX_"
TOKEN_USER = "__token__"  # noqa: S105 (a user name, as PyPI tokens use)
_URL_VAR = re.compile(r"^LOCKKEYS_INDEX_(?P<tag>[A-Z0-9_]+)_URL$")

Origin = tuple[str, str, int]


@dataclass(frozen=True)
class OriginEntry:
    """One tag's credentials, for one origin."""

    tag: str
    origin: Origin
    username: str
    password: str = field(repr=False)

    @property
    def where(self) -> str:
        """Where they came from, for messages (names only)."""
        return f"environment ({PREFIX}{self.tag}_*)"


def variables_for(tag: str, url: str) -> str:
    """The variables a host sets to give ``url``'s origin credentials under ``tag``."""
    scheme, host, port = origin_of(url)
    return (
        f"{PREFIX}{tag}_URL={scheme}://{host}:{port} with {PREFIX}{tag}_USERNAME and "
        f"{PREFIX}{tag}_PASSWORD (or {PREFIX}{tag}_TOKEN)"
    )


def _entry(tag: str, environ: Mapping[str, str]) -> OriginEntry:
    name = f"{PREFIX}{tag}_URL"
    url = environ[name].strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(
            "not an http(s) URL",
            file=name,
            expected="the origin the credentials belong to, e.g. https://pypi.corp.example",
            found=url,
        )
    if "@" in parts.netloc:
        raise InputError(
            "the URL carries credentials",
            file=name,
            fix=f"give the URL alone; the user name in {PREFIX}{tag}_USERNAME, the secret in "
            f"{PREFIX}{tag}_PASSWORD or {PREFIX}{tag}_TOKEN",
        )
    user = environ.get(f"{PREFIX}{tag}_USERNAME", "")
    password = environ.get(f"{PREFIX}{tag}_PASSWORD", "")
    token = environ.get(f"{PREFIX}{tag}_TOKEN", "")
    if password and token:
        raise InputError(
            "both a password and a token are set",
            file=f"{PREFIX}{tag}_PASSWORD, {PREFIX}{tag}_TOKEN",
            fix="set one of them",
        )
    if not (password or token):
        raise InputError(
            f"{name} is set, but no secret for it",
            file=name,
            expected=f"{PREFIX}{tag}_PASSWORD or {PREFIX}{tag}_TOKEN set and not empty",
            found="neither",
            fix="set the secret, or unset the URL variable",
        )
    register_secret(password or token)
    return OriginEntry(
        tag, origin_of(url), user or (TOKEN_USER if token else ""), password or token
    )


def origin_entries(environ: Mapping[str, str]) -> dict[Origin, OriginEntry]:
    """Every ``LOCKKEYS_INDEX_<TAG>_URL`` of ``environ``, by origin; two tags for one origin
    are an error (which one would be meant?)."""
    found: dict[Origin, OriginEntry] = {}
    for name in sorted(environ):
        match = _URL_VAR.match(name)
        if match is None:
            continue
        entry = _entry(match.group("tag"), environ)
        other = found.get(entry.origin)
        if other is not None:
            scheme, host, port = entry.origin
            raise InputError(
                "two tags give credentials for the same origin",
                file=f"{PREFIX}{other.tag}_URL, {name}",
                found=f"{scheme}://{host}:{port} twice",
                fix="keep one of them",
            )
        found[entry.origin] = entry
    return found
