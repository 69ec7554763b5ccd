"""One HTTP client per run, knowing the sources' credentials and trust.

``lockkeys lock`` builds it from the configuration, ``verify`` / ``download`` / ``install``
from the lock (which keeps each source's URL without credentials, and only the NAMES of the
environment variables that hold them), and makes it current for the run
(:func:`lockkeys.sources.fetch.use_client`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from lockkeys.errors import SourceError
from lockkeys.sources.auth import AuthRegistry, SourceAuth
from lockkeys.sources.fetch import USER_AGENT, Client, NotFoundError, fetch_bytes, use_client
from lockkeys.sources.index import ACCEPT, MAX_PAGE_SIZE, project_url
from lockkeys.sources.pagecache import PageCache
from lockkeys.sources.tls import TrustStore, origin_of
from lockkeys.sources.transport import Transport

__all__ = ["client_for", "probe_sources", "source_auth", "sources_session"]


def source_auth(source: Any) -> SourceAuth | None:
    """The credentials and trust settings of a config source (``SourceConfig``) or a lock
    source (``LockSource``); None for a folder source."""
    url = getattr(source, "url", None)
    if not url:
        return None
    ca_bundle = getattr(source, "ca_bundle", None)
    return SourceAuth(
        name=str(source.name),
        url=str(url),
        mirrors=tuple(getattr(source, "mirrors", ()) or ()),
        url_credentials=getattr(source, "url_credentials", None),
        username_env=getattr(source, "username_env", None),
        password_env=getattr(source, "password_env", None),
        token_env=getattr(source, "token_env", None),
        ca_bundle=Path(ca_bundle) if ca_bundle else None,
    )


def trust_for(sources: Sequence[SourceAuth]) -> TrustStore:
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
        from lockkeys.sources.urllib3_transport import Urllib3Transport

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
