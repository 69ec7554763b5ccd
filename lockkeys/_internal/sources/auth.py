"""Credentials for package sources: whose they are, and the one server they go to.

Credentials go only to the exact origin (scheme, host, port) they belong to. For a request,
by its URL's origin:

1. the ``user:password@`` (or ``TOKEN@``) written in a configured source URL, for that URL's
   origin (taken out of the URL when the config is read: the lock and every message keep the
   URL without it);
2. the host's own ``LOCKKEYS_INDEX_<TAG>_URL`` / ``_USERNAME`` / ``_PASSWORD`` / ``_TOKEN``
   variables (:mod:`lockkeys._internal.sources.originenv`), for exactly the origin ``_URL`` names;

and only when the origin is a source's own (its URL or a mirror's):

3. ``~/.netrc`` (or the file ``NETRC`` names), by host name; its ``default`` entry only
   when ``LOCKKEYS_NETRC_DEFAULT=1`` (it would hand one secret to every server);
4. the environment variables a *configuration* source names (``username-env`` and
   ``password-env``, or ``token-env``): lock time only. A lock never names a secret: the
   same keys in an older lock are ignored (with a warning, :func:`legacy_warning`);
5. the ``keyring`` package when it is installed (``pip install 'lockkeys[keyring]'``), asked
   only after the server answered 401, for that origin's URL.

A request to any other origin (a redirect elsewhere, a file on another server) carries
none of them. Credentials are sent as HTTP Basic authentication. Every secret read is
registered with :func:`lockkeys._internal.redact.register_secret` at once, so no message, report or
log line can carry it; a token given as the URL's user name counts as a secret. The
:class:`Credentials` repr never shows the password.
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

from lockkeys._internal.redact import register_secret, strip_userinfo
from lockkeys._internal.sources.originenv import PREFIX, OriginEntry, origin_entries, variables_for
from lockkeys._internal.sources.tls import origin_of

__all__ = [
    "NETRC_DEFAULT_ENV",
    "TOKEN_USER",
    "AuthRegistry",
    "Credentials",
    "SourceAuth",
    "keyring_installed",
    "legacy_warning",
]

log = logging.getLogger(__name__)

TOKEN_USER = "__token__"  # noqa: S105 (a user name, as PyPI tokens use)
NETRC_DEFAULT_ENV = "LOCKKEYS_NETRC_DEFAULT"
PUBLIC_INDEX_HOSTS = frozenset({"pypi.org", "files.pythonhosted.org"})

Origin = tuple[str, str, int]


@dataclass(frozen=True)
class Credentials:
    """A user name and password (or token), and where they were found."""

    username: str = field(repr=False)
    password: str = field(repr=False)
    found_in: str
    secret_username: bool = False
    """The user name IS the secret (a token given as ``https://TOKEN@host/``)."""

    def shown_user(self) -> str:
        """The user for messages: its name, or what it is when the name is a secret."""
        if self.secret_username:
            return "the token given as the URL's user name"
        return f"user {self.username!r}"

    def basic_header(self) -> str:
        """The ``Authorization`` header value for HTTP basic authentication."""
        token = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(token).decode("ascii")


@dataclass(frozen=True)
class SourceAuth:
    """One source's servers and trust; ``url_credentials`` and the ``*_env`` names come from
    a lock-time configuration only, never from a lock."""

    name: str
    url: str
    mirrors: tuple[str, ...] = ()
    url_credentials: tuple[str, str | None] | None = field(default=None, repr=False)
    username_env: str | None = None
    password_env: str | None = None
    token_env: str | None = None
    ca_bundle: Path | None = None

    def origins(self) -> tuple[Origin, ...]:
        """The origins (scheme, host, port) of the source's URL and its mirrors."""
        return tuple(origin_of(u) for u in (self.url, *self.mirrors))

    def url_for(self, origin: Origin) -> str:
        """The configured URL (the source's or a mirror's) whose origin is ``origin``."""
        for url in (self.url, *self.mirrors):
            if origin_of(url) == origin:
                return strip_userinfo(url)
        return strip_userinfo(self.url)


def legacy_warning(source: str, names: Mapping[str, str]) -> str:
    """The one warning for a lock source that still names credential variables."""
    keys = ", ".join(f"{key} = {value!r}" for key, value in sorted(names.items()))
    return (
        f"lockkeys: warning: the lock's source {source!r} names credential variables "
        f"({keys}); they are ignored: a lock never chooses which secret is read. Give this "
        "host's credentials by origin (netrc, keyring, or "
        f"{PREFIX}<TAG>_URL with _USERNAME and _PASSWORD or _TOKEN), and run `lockkeys lock` "
        "to rewrite the lock without them"
    )


def keyring_installed() -> bool:
    """Whether the ``keyring`` package can be imported (it is looked up last)."""
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
        self.netrc_default = self.environ.get(NETRC_DEFAULT_ENV, "").strip() == "1"
        self._origin_env: dict[Origin, OriginEntry] | None = None
        self._netrc_default_skipped: set[str] = set()
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
        """The source whose URL or a mirror has ``url``'s origin, or None."""
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
                if not password:  # https://TOKEN@host/: the user name is the secret
                    register_secret(user)
                    return Credentials(user, "", "the source URL", secret_username=True)
                return Credentials(user, password, "the source URL")
        entry = self.origin_env().get(origin)
        if entry is not None:
            return Credentials(entry.username, entry.password, entry.where)
        if source is None:  # not a source's own server: nothing else goes there
            return None
        from_netrc = self._from_netrc(origin[1])
        if from_netrc is not None:
            return from_netrc
        return self._from_env(source)

    def origin_env(self) -> dict[Origin, OriginEntry]:
        """The host's ``LOCKKEYS_INDEX_<TAG>_*`` credentials by origin (read once)."""
        with self._lock:
            if self._origin_env is None:
                self._origin_env = origin_entries(self.environ)
            return self._origin_env

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
        if host not in parsed.hosts:
            if "default" not in parsed.hosts:
                return None
            if not self.netrc_default:
                self._netrc_default_skipped.add(host)
                return None
        entry = parsed.authenticators(host)
        if entry is None:
            return None
        login, _account, password = entry
        register_secret(password)
        if not password:
            register_secret(login)
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
        if source is None:  # keyring answers for a source's own servers only
            return None
        origin = origin_of(url)
        scheme, host, port = origin
        default_port = port == (443 if scheme == "https" else 80)
        netloc = host if default_port else f"{host}:{port}"
        user = None
        if source.username_env:
            user = self.environ.get(source.username_env) or None
        # The URL of THIS origin (the source's or the mirror's), never another one's.
        queries = [source.url_for(origin), netloc]
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
        scheme, host, port = origin = origin_of(url)
        entry = self.origin_env().get(origin)
        steps = []
        if source is not None:
            written = source.url_credentials is not None
            steps.append(
                "the source URL (user:password@host or TOKEN@host)"
                + (" - set" if written else " - none")
            )
        steps.append(
            f"this host's environment, by origin: {variables_for('<TAG>', url)}"
            + (f" - set ({entry.where})" if entry is not None else " - none for this origin")
        )
        if source is None:
            steps.append(
                f"nothing else: {scheme}://{host}:{port} is not the origin of a configured "
                "source, and netrc, keyring and username-env/password-env/token-env "
                "credentials go only to a source's own origin (a redirect elsewhere drops them)"
            )
            return steps
        steps.append(self._netrc_step(host))
        steps.append(self._env_names_step(source))
        steps.append(
            "keyring"
            + ("" if keyring_installed() else " (not installed: pip install 'lockkeys[keyring]')")
        )
        return steps

    def _netrc_step(self, host: str) -> str:
        step = f"netrc ({_netrc_path(self.environ)}, or the file NETRC names), by host name"
        if host in self._netrc_default_skipped:
            step += (
                f"; it has no entry for {host}, and its `default` entry was NOT used: set "
                f"{NETRC_DEFAULT_ENV}=1 to send it (it goes to every server without an entry)"
            )
        return step

    def _env_names_step(self, source: SourceAuth) -> str:
        names = [
            f"{key} = {value} ({'set' if self.environ.get(value) else 'not set'})"
            for key, value in (
                ("username-env", source.username_env),
                ("password-env", source.password_env),
                ("token-env", source.token_env),
            )
            if value
        ]
        if names:
            return "environment variables the configuration names: " + ", ".join(names)
        return (
            "environment variables named by username-env/password-env/token-env in the "
            "lock-time configuration (none here; a lock never names them)"
        )
