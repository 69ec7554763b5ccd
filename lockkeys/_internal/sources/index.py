"""Read a project's page from a simple repository API index (PEP 503 HTML, PEP 691 JSON).

The request prefers JSON (``application/vnd.pypi.simple.v1+json``) and falls back to HTML,
which is what most private indexes (pypiserver) serve. Links are resolved against the page's
final URL; only http and https links are kept, so a page cannot point lockkeys at local files.
What the page claims (sizes, hashes) is a hint for the locker, never trusted for verification.
"""

from __future__ import annotations

import logging
import posixpath
import re
from collections.abc import Callable
from html.parser import HTMLParser
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

from packaging.utils import canonicalize_name

from lockkeys._internal.limits import TooDeep, load_json
from lockkeys._internal.redact import strip_userinfo
from lockkeys._internal.sources.fetch import FetchedBytes, NotFoundError, current_client, fetch_page
from lockkeys._internal.sources.model import RemoteFile, Source
from lockkeys.errors import SourceError, escape

__all__ = [
    "ACCEPT",
    "MAX_PAGE_SIZE",
    "PageError",
    "fetch_project_page",
    "list_index",
    "parse_html_page",
    "parse_json_page",
    "parse_page",
    "parse_project_page",
    "project_url",
]

log = logging.getLogger(__name__)

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPES = frozenset({"text/html", "application/vnd.pypi.simple.v1+html"})
ACCEPT = f"{JSON_TYPE}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"
MAX_PAGE_SIZE = 32 * 1024 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}")


class PageError(ValueError):
    """A project page could not be understood (turned into a SourceError by the caller)."""


def project_url(index_url: str, name: str) -> str:
    """``{index_url}/{normalized name}/``, the page of one project."""
    return f"{index_url.rstrip('/')}/{canonicalize_name(name)}/"


def _plain_filename(name: str) -> bool:
    return bool(name) and name not in (".", "..") and not any(c in name for c in "/\\\x00")


def _make_file(
    page_url: str,
    href: str,
    *,
    filename: str | None,
    size: int | None,
    sha256: str | None,
    requires_python: str | None,
    yanked: bool,
    core_metadata: str | None = None,
) -> RemoteFile | None:
    """Resolve one link; None (logged) for links lockkeys will not follow."""
    try:
        absolute, fragment = urldefrag(urljoin(page_url, href))
        # A link carrying user:password@ keeps it out of the lock and of every message;
        # credentials come from lockkeys' own lookup, by server.
        absolute = strip_userinfo(absolute)
        parts = urlsplit(absolute)
    except ValueError:  # e.g. "http://[::1" (an invalid IPv6 literal)
        log.warning("ignoring a link that is not a valid URL on %s: %r", page_url, escape(href))
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        log.warning("ignoring a non-HTTP link on %s: %s", page_url, escape(absolute))
        return None
    if filename is None:
        filename = unquote(posixpath.basename(parts.path))
    if not _plain_filename(filename):
        log.warning("ignoring a link with an unusable file name on %s: %r", page_url, filename)
        return None
    if sha256 is None and fragment:
        algorithm, _, value = fragment.partition("=")
        if algorithm == "sha256" and _SHA256.fullmatch(value.lower()):
            sha256 = value.lower()
    return RemoteFile(
        filename=filename,
        url=absolute,
        size=size,
        sha256=sha256,
        requires_python=requires_python,
        yanked=yanked,
        core_metadata=core_metadata if filename.endswith(".whl") else None,
    )


_METADATA_HASH = re.compile(r"(sha256|sha384|sha512)=([0-9a-f]{64,128})")


def _html_core_metadata(attrs: dict[str, str | None]) -> str | None:
    """PEP 714 ``data-core-metadata`` (or PEP 658's ``data-dist-info-metadata``): ``true`` or
    ``<hash name>=<hex>``; anything else (absent, ``false``, garbage) means not served."""
    for key in ("data-core-metadata", "data-dist-info-metadata"):
        if key in attrs:
            return _normalize_core_metadata(attrs[key])
    return None


def _normalize_core_metadata(value: object) -> str | None:
    if value is True:
        return "true"
    if isinstance(value, dict):
        digest = value.get("sha256")
        if isinstance(digest, str) and _SHA256.fullmatch(digest.lower()):
            return f"sha256={digest.lower()}"
        return "true" if value else None
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "true":
            return "true"
        match = _METADATA_HASH.fullmatch(text)
        if match and match.group(1) == "sha256" and len(match.group(2)) == 64:
            return text
        if match:
            return "true"  # served, with a hash lockkeys does not relay
    return None


class _AnchorParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.anchors: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "base" and self.base is None:
            href = dict(attrs).get("href")
            if href:
                self.base = href
        elif tag == "a":
            self.anchors.append(dict(attrs))


#: Which file names to build entries for (by file name, before any URL work); None: all.
Keep = Callable[[str], bool] | None


def parse_html_page(data: bytes, page_url: str, keep: Keep = None) -> list[RemoteFile]:
    """Files on a PEP 503 HTML page: ``href`` (with ``#sha256=``), ``data-requires-python``,
    ``data-yanked`` and ``data-core-metadata`` (PEP 714; or ``data-dist-info-metadata``,
    PEP 658). Anchors without ``href`` are ignored."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PageError(f"the page is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    parser = _AnchorParser()
    parser.feed(text)
    parser.close()
    try:
        base = urljoin(page_url, parser.base) if parser.base else page_url
        urlsplit(base)
    except ValueError:
        raise PageError(f"the page's <base href> is not a valid URL: {parser.base!r}") from None
    files: list[RemoteFile] = []
    for attrs in parser.anchors:
        href = attrs.get("href")
        if not href:
            continue
        if keep is not None and not keep(unquote(href.split("#", 1)[0].rsplit("/", 1)[-1])):
            continue
        made = _make_file(
            base,
            href.strip(),
            filename=None,
            size=None,
            sha256=None,
            requires_python=attrs.get("data-requires-python") or None,
            yanked="data-yanked" in attrs,
            core_metadata=_html_core_metadata(attrs),
        )
        if made is not None:
            files.append(made)
    return files


def parse_json_page(data: bytes, page_url: str, keep: Keep = None) -> list[RemoteFile]:
    """Files on a PEP 691 JSON page (API version 1.x): ``filename``, ``url``, ``hashes``,
    ``size`` (PEP 700), ``requires-python``, ``yanked`` and ``core-metadata`` (PEP 714; or
    ``dist-info-metadata``, PEP 658)."""
    try:
        document = load_json(data.decode("utf-8"))
    except TooDeep as exc:
        raise PageError(f"the JSON page is {exc}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise PageError(f"the page is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise PageError("the JSON page is not an object")
    meta = document.get("meta")
    version = meta.get("api-version") if isinstance(meta, dict) else None
    if not isinstance(version, str) or version.split(".")[0] != "1":
        raise PageError(f"unsupported simple API version {version!r} (expected 1.x)")
    entries = document.get("files")
    if not isinstance(entries, list):
        raise PageError("the JSON page has no 'files' list")
    files: list[RemoteFile] = []
    for position, entry in enumerate(entries):
        where = f"files[{position}]"
        if not isinstance(entry, dict):
            raise PageError(f"{where} is not an object")
        filename = entry.get("filename")
        url = entry.get("url")
        if not isinstance(filename, str) or not isinstance(url, str):
            raise PageError(f"{where} needs string 'filename' and 'url'")
        hashes = entry.get("hashes", {})
        if not isinstance(hashes, dict):
            raise PageError(f"{where}.hashes is not an object")
        sha256 = hashes.get("sha256")
        if sha256 is not None:
            if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256.lower()):
                raise PageError(f"{where}.hashes.sha256 is not 64 hex digits")
            sha256 = sha256.lower()
        size = entry.get("size")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
            raise PageError(f"{where}.size is not a non-negative integer")
        requires_python = entry.get("requires-python")
        if requires_python is not None and not isinstance(requires_python, str):
            raise PageError(f"{where}.requires-python is not a string")
        yanked = entry.get("yanked", False)
        if not isinstance(yanked, bool | str):
            raise PageError(f"{where}.yanked is neither a boolean nor a string")
        if keep is not None and not keep(filename):
            continue  # checked above like every entry; not wanted: no URL work
        metadata = entry.get("core-metadata", entry.get("dist-info-metadata"))
        made = _make_file(
            page_url,
            url,
            filename=filename,
            size=size,
            sha256=sha256,
            requires_python=requires_python or None,
            yanked=yanked is not False,
            core_metadata=_normalize_core_metadata(metadata),
        )
        if made is not None:
            files.append(made)
    return files


def parse_page(
    data: bytes, page_url: str, content_type: str | None, keep: Keep = None
) -> list[RemoteFile]:
    """Parse by content type; an unknown or missing type is sniffed (JSON starts with ``{``).
    ``keep`` (a file name test) skips the entries not wanted: a page of a project with
    thousands of files costs little when only one release's files are needed."""
    kind = (content_type or "").lower()
    if kind == JSON_TYPE or kind == "application/json":
        return parse_json_page(data, page_url, keep)
    if kind in HTML_TYPES:
        return parse_html_page(data, page_url, keep)
    if data.lstrip().startswith(b"{"):
        return parse_json_page(data, page_url, keep)
    return parse_html_page(data, page_url, keep)


def fetch_project_page(
    source: Source,
    name: str,
    *,
    connect_timeout: float = 10,
    read_timeout: float = 30,
    total_timeout: float = 120,
    retries: int = 2,
    max_page_size: int = MAX_PAGE_SIZE,
    refresh: bool = False,
) -> FetchedBytes | None:
    """``name``'s page of the index ``source`` as fetched (from the page cache while fresh),
    or None when the index does not know the project (404). Unreachable indexes and timeouts
    raise :class:`SourceError` naming the source and the URL."""
    if source.url is None:
        raise SourceError(f"source {source.name!r} is a folder, not an index")
    url = project_url(source.url, name)
    try:
        return fetch_page(
            url,
            max_size=max_page_size,
            accept=ACCEPT,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            total_timeout=total_timeout,
            retries=retries,
            refresh=refresh,
        )
    except NotFoundError:
        return None
    except SourceError as exc:
        raise SourceError(
            f"source {source.name!r}: cannot read the project page: {exc.message}",
            package=canonicalize_name(name),
            file=escape(url),
            expected=exc.expected,
            found=exc.found,
            details=list(exc.details),
            fix=exc.fix or f"check that {source.url} is reachable and is a simple index",
        ) from exc


def parse_project_page(
    source: Source, name: str, page: FetchedBytes, keep: Keep = None
) -> list[RemoteFile]:
    """The files on a page from :func:`fetch_project_page`; a page that cannot be parsed
    raises :class:`SourceError` naming the source and the URL."""
    try:
        return parse_page(page.data, page.url, page.content_type, keep)
    except PageError as exc:
        raise SourceError(
            f"source {source.name!r} served a project page lockkeys cannot read: {exc}",
            package=canonicalize_name(name),
            file=escape(project_url(source.url or "", name)),
            fix=f"check that {source.url} is a PEP 503/691 simple index",
        ) from None


def list_index(
    source: Source,
    name: str,
    *,
    connect_timeout: float = 10,
    read_timeout: float = 30,
    total_timeout: float = 120,
    retries: int = 2,
    max_page_size: int = MAX_PAGE_SIZE,
    refresh: bool = False,
    keep: Keep = None,
    release: str | None = None,
) -> list[RemoteFile]:
    """Every file on ``name``'s page of the index ``source``, in page order.

    ``keep`` with ``release`` (the version it keeps, as text): the result for this page body
    is remembered in the page cache, so the next lock of the same release from the same
    body does not parse the page again.

    A project the index does not know (404) gives an empty list. Unreachable indexes, timeouts
    and pages that cannot be parsed raise :class:`SourceError` naming the source and the URL.
    The page may come from the page cache; ``refresh`` asks the index again.
    """
    page = fetch_project_page(
        source,
        name,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        total_timeout=total_timeout,
        retries=retries,
        max_page_size=max_page_size,
        refresh=refresh,
    )
    if page is None:
        return []
    cache = current_client().page_cache if keep is not None and release else None
    if cache is not None and page.sha256:
        stored = cache.get_release(page.sha256, page.url, page.content_type, str(release))
        if stored is not None:
            return [RemoteFile(*entry) for entry in stored]
    files = parse_project_page(source, name, page, keep)
    if cache is not None and page.sha256:
        cache.put_release(
            page.sha256,
            page.url,
            page.content_type,
            str(release),
            [
                (
                    f.filename,
                    f.url,
                    f.size,
                    f.sha256,
                    f.requires_python,
                    f.yanked,
                    f.core_metadata,
                )
                for f in files
            ],
        )
    return files
