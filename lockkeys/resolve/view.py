"""A resolution view: a PEP 503 simple index on 127.0.0.1 showing what the policy allows.

Resolvers merge candidates across every index they are given, and even read the metadata of
a same-version decoy from the wrong index. So lockkeys never hands them its sources: it starts
this view and gives the resolver that one index. For each project the view lists only the
files of the project's pinned source, or, for a project without one, of the first source (in
configured order) that offers it. Folder sources are served over HTTP by the view itself.
Where an index serves a wheel's core metadata separately (PEP 658/714), the view says so, so
the resolver reads ``<file>.metadata`` instead of downloading the wheel.
The lock's own file list is made separately, from the same source, by the locker.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from packaging.utils import canonicalize_name

from lockkeys.errors import LockkeysError, SourceError
from lockkeys.sources import list_files
from lockkeys.sources.model import RemoteFile, Source


class ResolutionView:
    """Which files of which source each project may be resolved from."""

    def __init__(self, sources: Sequence[Source], pinned: Mapping[str, str]) -> None:
        self.sources = list(sources)
        self.pinned = {canonicalize_name(k): v for k, v in pinned.items()}
        self.errors: list[LockkeysError] = []
        self.base_url = ""
        self._cache: dict[str, tuple[int, list[RemoteFile]]] = {}
        self._lock = threading.Lock()

    def files(self, project: str) -> tuple[int, list[RemoteFile]]:
        """(index of the source used, its files) for a project; (-1, []) if none offers it."""
        name = canonicalize_name(project)
        with self._lock:
            if name in self._cache:
                return self._cache[name]
        allowed = [
            (i, s)
            for i, s in enumerate(self.sources)
            if name not in self.pinned or s.name == self.pinned[name]
        ]
        found: tuple[int, list[RemoteFile]] = (-1, [])
        for index, source in allowed:
            files = [f for f in list_files(source, name) if not f.yanked]
            if files:
                found = (index, files)
                break
        with self._lock:
            self._cache[name] = found
        return found

    def page(self, project: str, base: str) -> str:
        index, files = self.files(project)
        links = []
        for remote in files:
            source = self.sources[index]
            href = (
                f"{base}/files/{index}/{quote(remote.filename)}"
                if source.path is not None
                else remote.url.split("#", 1)[0]
            )
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
        if not 0 <= index < len(self.sources):
            return None
        folder = self.sources[index].path
        if folder is None or "/" in filename or "\\" in filename or filename.startswith("."):
            return None
        path = Path(folder) / filename
        return path if path.is_file() else None


def _handler(view: ResolutionView) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            del format, args  # quiet: the resolver reports what matters

        head_only = False

        def _send(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
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
            base = view.base_url
            try:
                if len(parts) == 2 and parts[0] == "simple":
                    index, _ = view.files(parts[1])
                    if index < 0:
                        self._send(404, b"not found\n", "text/plain")
                        return
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
                view.errors.append(exc)
                self._send(502, exc.headline().encode("utf-8", "replace"), "text/plain")

    return Handler


@contextmanager
def serve_view(
    sources: Sequence[Source], pinned: Mapping[str, str]
) -> Iterator[tuple[str, ResolutionView]]:
    """Serve the view on 127.0.0.1 for the duration of a resolution; yields (index URL, view)."""
    view = ResolutionView(sources, pinned)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(view))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="lockkeys-view", daemon=True)
    thread.start()
    try:
        port = int(server.server_address[1])
        view.base_url = f"http://127.0.0.1:{port}"
        yield f"{view.base_url}/simple/", view
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def first_source_error(view: ResolutionView) -> SourceError | None:
    for exc in view.errors:
        if isinstance(exc, SourceError):
            return exc
    return None
