"""One HTTP client per run, knowing the sources' credentials and trust.

``lockkeys lock`` builds it from the configuration, ``verify`` / ``download`` / ``install``
/ ``sync`` from the lock, and makes it current for the run
(:func:`lockkeys._internal.sources.fetch.use_client`). A lock gives its sources' URLs and mirrors
only: which credentials are sent, and to which origin, is the host's business
(:mod:`lockkeys._internal.sources.auth`). The credential-variable names older locks carry are
ignored, with one warning per source.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from lockkeys._internal.config import SourceConfig
from lockkeys._internal.sources.auth import AuthRegistry, SourceAuth, legacy_warning
from lockkeys._internal.sources.fetch import (
    USER_AGENT,
    Client,
    NotFoundError,
    fetch_bytes,
    use_client,
)
from lockkeys._internal.sources.index import ACCEPT, MAX_PAGE_SIZE, project_url
from lockkeys._internal.sources.pagecache import PageCache
from lockkeys._internal.sources.tls import TrustStore, origin_of
from lockkeys._internal.sources.transport import Transport
from lockkeys.errors import SourceError

__all__ = ["client_for", "probe_sources", "source_auth", "sources_session"]

log = logging.getLogger(__name__)
_WARNED: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
_WARNED_LOCK = threading.Lock()


def source_auth(source: Any) -> SourceAuth | None:
    """The servers and trust of a config source (``SourceConfig``) or a lock source
    (``LockSource``); None for a folder source. Only a configuration source brings
    credentials (URL userinfo, ``username-env`` ...): a lock never names a secret."""
    url = getattr(source, "url", None)
    if not url:
        return None
    ca_bundle = getattr(source, "ca_bundle", None)
    auth = SourceAuth(
        name=str(source.name),
        url=str(url),
        mirrors=tuple(getattr(source, "mirrors", ()) or ()),
        ca_bundle=Path(ca_bundle) if ca_bundle else None,
    )
    if isinstance(source, SourceConfig):
        return replace(
            auth,
            url_credentials=source.url_credentials,
            username_env=source.username_env,
            password_env=source.password_env,
            token_env=source.token_env,
        )
    _warn_legacy(source)
    return auth


def _warn_legacy(source: Any) -> None:
    """Warn once per run about a lock source that still names credential variables."""
    legacy = getattr(source, "legacy_credential_names", None)
    names: dict[str, str] = legacy() if callable(legacy) else {}
    if not names:
        return
    key = (str(source.name), tuple(sorted(names.items())))
    with _WARNED_LOCK:
        if key in _WARNED:
            return
        _WARNED.add(key)
    log.warning("%s", legacy_warning(str(source.name), names))


def trust_for(sources: Sequence[SourceAuth]) -> TrustStore:
    """The trust store for these sources: the system store plus each one's ``ca-bundle``."""
    bundles: dict[tuple[str, str, int], list[Path]] = {}
    for source in sources:
        if source.ca_bundle is None:
            continue
        for url in (source.url, *source.mirrors):
            paths = bundles.setdefault(origin_of(url), [])
            if source.ca_bundle not in paths:
                paths.append(source.ca_bundle)
    return TrustStore(bundles)


def client_for(sources: Iterable[Any], *, cache_dir: Path | None = None) -> Client:
    """A client with the credentials and trust of ``sources`` (config or lock sources), and
    a persistent page cache in ``cache_dir/pages`` when given."""
    auths = [a for a in (source_auth(s) for s in sources) if a is not None]
    trust = trust_for(auths)

    def transport() -> Transport:  # urllib3 is imported only if a request is made
        from lockkeys._internal.sources.urllib3_transport import Urllib3Transport

        return Urllib3Transport(trust, user_agent=USER_AGENT)

    pages = PageCache(cache_dir / "pages") if cache_dir is not None else None
    return Client(
        None, AuthRegistry(auths), page_cache=pages, transport_factory=transport, trust=trust
    )


@contextlib.contextmanager
def sources_session(sources: Iterable[Any], *, cache_dir: Path | None = None) -> Iterator[Client]:
    """Make a client for ``sources`` current for the block; close its connections after."""
    client = client_for(sources, cache_dir=cache_dir)
    try:
        with use_client(client):
            yield client
    finally:
        client.close()


def probe_sources(sources: Iterable[Any], project: str) -> SourceError | None:
    """Ask each index source for ``project``'s page with lockkeys' own client; the first
    failure that is the source's fault (credentials refused, TLS, proxy, unreachable) as a
    clear error, else None. Used when a resolver failed, to say why in lockkeys' words."""
    for source in sources:
        url = getattr(source, "url", None)
        if not url:
            continue
        try:
            fetch_bytes(
                project_url(str(url), project),
                max_size=MAX_PAGE_SIZE,
                accept=ACCEPT,
                connect_timeout=10,
                read_timeout=30,
                total_timeout=60,
                retries=1,
            )
        except NotFoundError:
            continue
        except SourceError as exc:
            return exc
    return None
