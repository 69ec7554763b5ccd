"""A resolution view: a PEP 503 simple index on 127.0.0.1 showing what the policy allows.

Resolvers merge candidates across every index they are given, and even read the metadata of
a same-version decoy from the wrong index. So lockkeys never hands them its sources: it starts
this view and gives the resolver that one index. For each project the view lists only the
files of the project's pinned source, or, for a project without one, of the first source (in
configured order) that offers it. Folder sources are served over HTTP by the view itself.
Where an index serves a wheel's core metadata separately (PEP 658/714), the view says so, so
the resolver reads ``<file>.metadata`` instead of downloading the wheel.
The lock's own file list is made separately, from the same source, by the locker.

The view answers only the resolver of its run: every address starts with a per-run secret
(``http://127.0.0.1:PORT/SECRET/simple/``, from :func:`secrets.token_urlsafe`), handed to the
resolver child in its environment only (never on its command line, which ``ps`` shows to every
local user). A request without it, from another local user on a shared machine, is answered
404 before anything is fetched from a source; and even with it the view serves only what it
listed: project pages of the run's sources and the folder files those pages name. The secret
is hidden in every message made from the resolver's output
(:func:`lockkeys._internal.resolve.common. redacted`), and kept resolutions never record it
(:mod:`lockkeys._internal.resolve.memo` leaves the view's URL out of its key).
"""

from __future__ import annotations

import hmac
import html
import re
import secrets
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from packaging.utils import canonicalize_name

from lockkeys._internal.resolve.common import forget_secret, hide_secret
from lockkeys._internal.resolve.memo import PageRecord
from lockkeys._internal.sources.fetch import FetchedBytes
from lockkeys._internal.sources.index import (
    JSON_TYPE,
    fetch_project_page,
    parse_project_page,
    project_url,
)
from lockkeys._internal.sources.model import RemoteFile, Source
from lockkeys._internal.sources.release_files import files_of, list_files
from lockkeys.errors import LockkeysError, SourceError

#: Pages fetched from the sources at once while resolvers ask the view (uv asks for dozens at
#: a time): no more than the HTTP client keeps connections for per host, so none is dropped.
UPSTREAM_FETCHES = 8
_upstream = threading.BoundedSemaphore(UPSTREAM_FETCHES)

#: A JSON page whose file URLs are all absolute can be handed over as it is.
_RELATIVE_JSON_URL = re.compile(rb'"url"\s*:\s*"(?!https?://)')


@dataclass(frozen=True)
class _Answer:
    index: int
    """Index of the source the files come from; -1: no source offers the project."""
    files: list[RemoteFile] | None
    """None for a page handed over as it is (``raw``), parsed only if asked."""
    records: tuple[PageRecord, ...]
    """What was read to answer: (source index, page URL, body SHA-256 or "missing")."""
    raw: FetchedBytes | None = None
    """The source's page itself, when it can be served as it is (see ``pass_through``)."""


class ResolutionView:
    """Which files of which source each project may be resolved from."""

    def __init__(
        self,
        sources: Sequence[Source],
        pinned: Mapping[str, str],
        *,
        pass_through: bool = False,
    ) -> None:
        """``pass_through``: with one index source, its JSON pages are served as they are
        (when every file URL on them is absolute), not rebuilt; the resolver then reads what
        it would read from the index itself, through lockkeys' client and page cache."""
        self.sources = list(sources)
        self.pinned: dict[str, str] = {canonicalize_name(k): v for k, v in pinned.items()}
        self.pass_through = pass_through and len(self.sources) == 1 and bool(self.sources[0].url)
        self.errors: list[LockkeysError] = []
        self.base_url = ""
        self.recording: dict[str, tuple[PageRecord, ...]] | None = None
        self._cache: dict[str, _Answer] = {}
        self._offered: set[tuple[int, str]] = set()  # folder files a served page names
        self._lock = threading.Lock()

    def start_recording(self) -> dict[str, tuple[PageRecord, ...]]:
        """Record, from now on, which pages each served project page was made from."""
        with self._lock:
            self.recording = {}
            return self.recording

    def answer(self, project: str) -> _Answer:
        """What the view offers for ``project`` (fetched once, then cached and recorded)."""
        name: str = canonicalize_name(project)
        with self._lock:
            found = self._cache.get(name)
        if found is None:
            found = self._answer(name)  # outside the lock: it may fetch from the network
        with self._lock:
            self._cache.setdefault(name, found)
            if self.recording is not None:
                self.recording[name] = found.records
        return found

    def _answer(self, name: str) -> _Answer:
        records: list[PageRecord] = []
        for index, source in enumerate(self.sources):
            if name in self.pinned and source.name != self.pinned[name]:
                continue
            if source.url is None:
                records.append((index, "folder", "folder"))
                files = [f for f in list_files(source, name) if not f.yanked]
                if files:
                    return _Answer(index, files, tuple(records))
                continue
            with _upstream:
                page = fetch_project_page(source, name)
            records.append(
                (index, project_url(source.url, name), page.sha256 if page else "missing")
            )
            if page is None:
                continue
            if self.pass_through and _servable(page):
                # Handed over as it is: what the resolver would read from the index itself
                # (yanked files included: it knows what they mean). Not parsed here.
                return _Answer(index, None, tuple(records), page)
            offered = files_of(parse_project_page(source, name, page), name)
            files = [f for f in offered if not f.yanked]
            if files:
                return _Answer(index, files, tuple(records))
        return _Answer(-1, [], tuple(records))

    def files(self, project: str) -> tuple[int, list[RemoteFile]]:
        """(index of the source used, its files) for a project; (-1, []) if none offers it."""
        found = self.answer(project)
        if found.files is not None:
            return found.index, found.files
        assert found.raw is not None  # a page handed over as it is: parsed when asked
        source = self.sources[found.index]
        name = canonicalize_name(project)
        offered = files_of(parse_project_page(source, name, found.raw), name)
        return found.index, [f for f in offered if not f.yanked]

    def page(self, project: str, base: str) -> str:
        """The simple-index HTML page the resolver sees for ``project``, links under ``base``."""
        index, files = self.files(project)
        links = []
        for remote in files:
            source = self.sources[index]
            if source.path is not None:
                href = f"{base}/files/{index}/{quote(remote.filename)}"
                with self._lock:
                    self._offered.add((index, remote.filename))
            else:
                href = remote.url.split("#", 1)[0]
            if remote.sha256:
                href += f"#sha256={remote.sha256}"
            attrs = f' href="{html.escape(href, quote=True)}"'
            if remote.requires_python:
                attrs += (
                    f' data-requires-python="{html.escape(remote.requires_python, quote=True)}"'
                )
            if remote.core_metadata and source.path is None:
                # PEP 658/714: the resolver reads METADATA from `<file url>.metadata` on the
                # source, not the whole wheel (both attribute names: pip reads either).
                value = html.escape(remote.core_metadata, quote=True)
                attrs += f' data-core-metadata="{value}" data-dist-info-metadata="{value}"'

            links.append(f"<a{attrs}>{html.escape(remote.filename)}</a><br/>")
        body = "\n".join(links)
        return f"<!DOCTYPE html>\n<html><body>\n{body}\n</body></html>\n"

    def local_file(self, index: int, filename: str) -> Path | None:
        """A folder source's file, if a page this view served named it; else None."""
        with self._lock:
            if (index, filename) not in self._offered:
                return None
        if not 0 <= index < len(self.sources):
            return None
        folder = self.sources[index].path
        if folder is None or "/" in filename or "\\" in filename or filename.startswith("."):
            return None
        path = Path(folder) / filename
        return path if path.is_file() else None


def _handler(view: ResolutionView, secret: str) -> type[BaseHTTPRequestHandler]:
    """Requests whose path does not start with ``/SECRET/`` are answered 404."""

    class Handler(BaseHTTPRequestHandler):
        # Keep-alive: a resolver asks for dozens of pages, and a new connection per page
        # made uv's run through the view twice as long (1.3 s against 0.5 s, webapp set).
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            del format, args  # quiet: the resolver reports what matters

        head_only = False

        def _send(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            # The view's address changes every run: nothing it says is worth keeping.
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if not self.head_only:
                self.wfile.write(body)

        def do_HEAD(self) -> None:
            # uv probes wheels with HEAD for range requests; no Accept-Ranges: it downloads.
            self.head_only = True
            try:
                self.do_GET()
            finally:
                self.head_only = False

        def do_GET(self) -> None:
            parts = [unquote(p) for p in urlsplit(self.path).path.split("/") if p]
            if not parts or not hmac.compare_digest(parts[0].encode(), secret.encode()):
                # Not this run's resolver: nothing is fetched, nothing is said.
                self._send(404, b"not found\n", "text/plain")
                return
            parts = parts[1:]
            base = view.base_url
            try:
                if len(parts) == 2 and parts[0] == "simple":
                    found = view.answer(parts[1])
                    if found.index < 0:
                        self._send(404, b"not found\n", "text/plain")
                    elif found.raw is not None:
                        self._send(200, found.raw.data, found.raw.content_type or JSON_TYPE)
                    else:
                        page = view.page(parts[1], base).encode("utf-8")
                        self._send(200, page, "text/html; charset=utf-8")
                    return
                if len(parts) == 3 and parts[0] == "files" and parts[1].isdigit():
                    path = view.local_file(int(parts[1]), parts[2])
                    if path is None:
                        self._send(404, b"not found\n", "text/plain")
                        return
                    self._send(200, path.read_bytes(), "application/octet-stream")
                    return
                self._send(404, b"not found\n", "text/plain")
            except LockkeysError as exc:
                # Recorded for lockkeys, which reports it once the resolver stops; a 404 makes
                # the resolver stop at once (uv and pip retry a 502 for seconds), and no
                # resolution is accepted from a run that met one (see resolving._attempt).
                view.errors.append(exc)
                self._send(404, exc.headline().encode("utf-8", "replace"), "text/plain")

    return Handler


def _servable(page: FetchedBytes) -> bool:
    """A JSON page (PEP 691) whose every file URL is absolute: served from the view as it
    is, it means the same as from the index."""
    kind = (page.content_type or "").split(";")[0].strip().lower()
    return kind == JSON_TYPE and _RELATIVE_JSON_URL.search(page.data) is None


class ViewServer:
    """Serves a :class:`ResolutionView` on 127.0.0.1, started on first use: a lock whose
    resolution is reused (lockkeys._internal.resolve.memo) never needs it."""

    def __init__(self, view: ResolutionView) -> None:
        self.view = view
        self.secret = secrets.token_urlsafe(32)
        """The first segment of every path the view answers (known to this run only)."""
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def url(self) -> str:
        """The view's index URL, ``http://127.0.0.1:PORT/SECRET/simple/``; starts serving.

        Give it to the resolver only through its environment (``ps`` shows command lines)."""
        if self._server is None:
            hide_secret(self.secret)
            server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.view, self.secret))
            server.daemon_threads = True
            # A short poll: shutdown() waits for the loop to notice, and a lock waits for it.
            thread = threading.Thread(
                target=server.serve_forever, args=(0.02,), name="lockkeys-view", daemon=True
            )
            thread.start()
            self._server, self._thread = server, thread
            port = int(server.server_address[1])
            self.view.base_url = f"http://127.0.0.1:{port}/{self.secret}"
        return f"{self.view.base_url}/simple/"

    def close(self) -> None:
        """Stop serving, forget the secret path prefix and wait for the server thread."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            forget_secret(self.secret)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None


@contextmanager
def view_server(
    sources: Sequence[Source], pinned: Mapping[str, str], *, pass_through: bool = False
) -> Iterator[ViewServer]:
    """A :class:`ViewServer` for the duration of a resolution (stopped at the end if it was
    started)."""
    server = ViewServer(ResolutionView(sources, pinned, pass_through=pass_through))
    try:
        yield server
    finally:
        server.close()


@contextmanager
def serve_view(
    sources: Sequence[Source], pinned: Mapping[str, str], *, pass_through: bool = False
) -> Iterator[tuple[str, ResolutionView]]:
    """Serve the view on 127.0.0.1 for the duration of a resolution; yields (index URL, view)."""
    with view_server(sources, pinned, pass_through=pass_through) as server:
        yield server.url(), server.view


def first_source_error(view: ResolutionView) -> SourceError | None:
    """The first source error the view met while answering, if any."""
    for exc in view.errors:
        if isinstance(exc, SourceError):
            return exc
    return None
