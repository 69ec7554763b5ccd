"""Credentials for package sources, looked up in the order pip and uv users know.

For a request to a source's server (its URL's scheme, host and port, or a mirror's):

1. the ``user:password@`` written in the source URL (taken out of the URL when the config is
   read: the lock and every message keep the URL without it);
2. ``~/.netrc`` (or the file ``NETRC`` names), by host name;
3. the environment variables the source names: ``username-env`` and ``password-env``, or
   ``token-env`` (the password of user ``__token__``, or of ``username-env`` when given);
4. the ``keyring`` package when it is installed (``pip install 'lockkeys[keyring]'``), asked
   only after the server answered 401.

Credentials are sent as HTTP Basic authentication, only to the server they belong to (never
after a redirect to another host). Every secret read is registered with
:func:`lockkeys.redact.register_secret` at once, so no message, report or log line can carry
it. The :class:`Credentials` repr never shows the password.
"""

from __future__ import annotations

import base64
import importlib.util
import logging
import netrc
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lockkeys.redact import register_secret, strip_userinfo
from lockkeys.sources.tls import origin_of

__all__ = [
    "TOKEN_USER",
    "AuthRegistry",
    "Credentials",
    "SourceAuth",
    "keyring_installed",
]

log = logging.getLogger(__name__)

TOKEN_USER = "__token__"  # noqa: S105 (a user name, as PyPI tokens use)
PUBLIC_INDEX_HOSTS = frozenset({"pypi.org", "files.pythonhosted.org"})

Origin = tuple[str, str, int]


@dataclass(frozen=True)
class Credentials:
    """A user name and password (or token), and where they were found."""

    username: str
    password: str = field(repr=False)
    found_in: str

    def basic_header(self) -> str:
        token = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(token).decode("ascii")


@dataclass(frozen=True)
class SourceAuth:
    """What the configuration (or the lock) says about one source's credentials and trust."""

    name: str
    url: str
    mirrors: tuple[str, ...] = ()
    url_credentials: tuple[str, str | None] | None = field(default=None, repr=False)
    username_env: str | None = None
    password_env: str | None = None
    token_env: str | None = None
    ca_bundle: Path | None = None

    def origins(self) -> tuple[Origin, ...]:
        return tuple(origin_of(u) for u in (self.url, *self.mirrors))


def keyring_installed() -> bool:
    return importlib.util.find_spec("keyring") is not None


def _netrc_path(environ: Mapping[str, str]) -> Path:
    named = environ.get("NETRC", "").strip()
    if named:
        return Path(named).expanduser()
    return Path("~/.netrc").expanduser()


class AuthRegistry:
    """Credentials and source names by server, for lockkeys' own requests and resolvers'."""

    def __init__(
        self,
        sources: Sequence[SourceAuth] = (),
        *,
        environ: Mapping[str, str] | None = None,
        use_keyring: bool = True,
    ) -> None:
        self.sources = list(sources)
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.use_keyring = use_keyring
        self._by_origin: dict[Origin, SourceAuth] = {}
        for source in self.sources:
            for origin in source.origins():
                self._by_origin.setdefault(origin, source)
        self._found: dict[Origin, Credentials | None] = {}
        self._keyring: dict[Origin, Credentials | None] = {}
        self._netrc: netrc.netrc | bool | None = False  # False: not read yet
        self._lock = threading.RLock()

    # -- which source -----------------------------------------------------------------------

    def source_for(self, url: str) -> SourceAuth | None:
        return self._by_origin.get(origin_of(url))

    def describe_server(self, url: str) -> str:
        """``source 'private'`` (or the host) for messages."""
        source = self.source_for(url)
        if source is not None:
            return f"source {source.name!r}"
        scheme, host, port = origin_of(url)
        return f"{scheme}://{host}:{port}"

    # -- lookup -----------------------------------------------------------------------------

    def credentials(self, url: str) -> Credentials | None:
        """The credentials to send to ``url``'s server, without keyring (cached)."""
        origin = origin_of(url)
        with self._lock:
            if origin in self._found:
                return self._found[origin]
            found = self._lookup(origin)
            self._found[origin] = found
            return found

    def _lookup(self, origin: Origin) -> Credentials | None:
        source = self._by_origin.get(origin)
        if source is not None and source.url_credentials is not None:
            user, password = source.url_credentials
            if origin == origin_of(source.url):
                return Credentials(user, password or "", "the source URL")
        from_netrc = self._from_netrc(origin[1])
        if from_netrc is not None:
            return from_netrc
        if source is not None:
            return self._from_env(source)
        return None

    def _read_netrc(self) -> netrc.netrc | None:
        if self._netrc is False:
            path = _netrc_path(self.environ)
            parsed: netrc.netrc | None = None
            if path.is_file():
                try:
                    parsed = netrc.netrc(str(path))
                except (netrc.NetrcParseError, OSError) as exc:
                    # The parse error quotes no secret, only the file and line.
                    log.warning("ignoring %s: %s", path, getattr(exc, "msg", exc))
            self._netrc = parsed
        return self._netrc if isinstance(self._netrc, netrc.netrc) else None

    def _from_netrc(self, host: str) -> Credentials | None:
        parsed = self._read_netrc()
        if parsed is None:
            return None
        entry = parsed.authenticators(host)
        if entry is None:
            return None
        login, _account, password = entry
        register_secret(password)
        where = f"netrc ({_netrc_path(self.environ)})"
        return Credentials(login or "", password or "", where)

    def _from_env(self, source: SourceAuth) -> Credentials | None:
        env = self.environ
        user = env.get(source.username_env) if source.username_env else None
        if source.token_env:
            token = env.get(source.token_env)
            if not token:
                return None
            register_secret(token)
            names = ", ".join(n for n in (source.username_env, source.token_env) if n)
            return Credentials(user or TOKEN_USER, token, f"environment ({names})")
        if source.password_env:
            password = env.get(source.password_env)
            if not password:
                return None
            register_secret(password)
            names = ", ".join(n for n in (source.username_env, source.password_env) if n)
            return Credentials(user or "", password, f"environment ({names})")
        return None

    def keyring_credentials(self, url: str) -> Credentials | None:
        """Ask keyring (when installed) for ``url``'s credentials; cached per server."""
        origin = origin_of(url)
        with self._lock:
            if origin in self._keyring:
                return self._keyring[origin]
            found = self._from_keyring(url) if self.use_keyring else None
            self._keyring[origin] = found
            return found

    def _from_keyring(self, url: str) -> Credentials | None:
        if not keyring_installed():
            return None
        try:
            keyring = importlib.import_module("keyring")
        except Exception as exc:  # a broken keyring install must not break a lock
            log.debug("keyring cannot be imported: %s", type(exc).__name__)
            return None
        source = self.source_for(url)
        scheme, host, port = origin_of(url)
        default_port = port == (443 if scheme == "https" else 80)
        netloc = host if default_port else f"{host}:{port}"
        user = None
        if source is not None and source.username_env:
            user = self.environ.get(source.username_env) or None
        queries = [strip_userinfo(source.url)] if source is not None else []
        queries.append(netloc)
        for query in queries:
            try:
                found = keyring.get_credential(query, user)
            except Exception as exc:
                log.debug("keyring failed for %s: %s", netloc, type(exc).__name__)
                return None
            if found is not None and found.password:
                register_secret(found.password)
                return Credentials(found.username or user or "", found.password, "keyring")
        return None

    def credentials_with_keyring(self, url: str) -> Credentials | None:
        """What a resolver run needs up front: the lookup order, keyring last."""
        found = self.credentials(url)
        if found is not None:
            return found
        _, host, _ = origin_of(url)
        if host in PUBLIC_INDEX_HOSTS:
            return None
        return self.keyring_credentials(url)

    # -- for messages -------------------------------------------------------------------------

    def lookup_order(self, url: str) -> list[str]:
        """Where credentials for ``url`` are looked up, in order (names only, no secret)."""
        source = self.source_for(url)
        steps = []
        if source is not None:
            written = source.url_credentials is not None
            steps.append(
                "the source URL (user:password@host)" + (" - set" if written else " - none")
            )
        steps.append(f"netrc ({_netrc_path(self.environ)}, or the file NETRC names)")
        if source is not None:
            names = [
                f"{key} = {value} ({'set' if self.environ.get(value) else 'not set'})"
                for key, value in (
                    ("username-env", source.username_env),
                    ("password-env", source.password_env),
                    ("token-env", source.token_env),
                )
                if value
            ]
            steps.append(
                "environment variables: " + ", ".join(names)
                if names
                else "environment variables named by username-env/password-env/token-env "
                "(none configured)"
            )
        steps.append(
            "keyring"
            + ("" if keyring_installed() else " (not installed: pip install 'lockkeys[keyring]')")
        )
        return steps
