"""Hostile HTTP servers on 127.0.0.1 for installer threat tests (threat-model rows 2-3, 7, 15, 19).

``HostileServer`` is a small threaded ``http.server`` that answers each path with a
*behaviour*: honest bytes, an endless stream, a trickle, a stall, a connection dropped half-way,
or anything else a test writes. It can also play an honest PEP 503 simple index over a folder
(``serve_folder``: ``/simple/<project>/`` pages linking to ``/files/<file name>``), so that a
lock is made against it while it behaves and the attack is switched on afterwards, or forward
every request to another server (``proxy_to``) while counting what was asked for.

Everything is bounded: an endless body stops after ``Endless.limit`` bytes or when the client
goes away, stalls and trickles end when the server stops. Every request is logged in
``server.requests`` (method, path). Test code only.
"""

from __future__ import annotations

import contextlib
import html
import http.client
import http.server
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, unquote, urlsplit

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

__all__ = [
    "MIB",
    "Drop",
    "Endless",
    "HostileServer",
    "Serve",
    "Stall",
    "Trickle",
    "hostile_server",
]

HOST = "127.0.0.1"
MIB = 1024 * 1024
_CHUNK = b"\0" * (64 * 1024)
_DISCONNECTED = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


class Behaviour(Protocol):
    def respond(self, handler: _Handler) -> None: ...


def _project_of(filename: str) -> str | None:
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[0])
        if filename.endswith((".tar.gz", ".zip")):
            return str(parse_sdist_filename(filename)[0])
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return None


@dataclass
class Serve:
    """An honest answer: ``status``, these bytes, a Content-Length, and extra ``headers``."""

    data: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    status: int = 200
    content_type: str = "application/octet-stream"

    def respond(self, handler: _Handler) -> None:
        handler.send_response(self.status)
        handler.send_header("Content-Type", self.content_type)
        handler.send_header("Content-Length", str(len(self.data)))
        for key, value in self.headers.items():
            handler.send_header(key, value)
        handler.end_headers()
        if handler.command != "HEAD":
            with contextlib.suppress(*_DISCONNECTED):
                handler.wfile.write(self.data)


@dataclass
class Endless:
    """A 200 with no Content-Length whose body never ends (until ``limit`` bytes are sent or
    the client disconnects). ``sent`` counts what went out; ``on_progress(sent)`` is called
    about every MiB, from the server thread."""

    limit: int = 64 * MIB
    headers: Mapping[str, str] = field(default_factory=dict)
    on_progress: Callable[[int], None] | None = None
    sent: int = 0
    finished: threading.Event = field(default_factory=threading.Event)

    def respond(self, handler: _Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/octet-stream")
        for key, value in self.headers.items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.close_connection = True
        try:
            while self.sent < self.limit and not handler.server_stopping():
                handler.wfile.write(_CHUNK)
                self.sent += len(_CHUNK)
                if self.on_progress is not None and self.sent % MIB == 0:
                    self.on_progress(self.sent)
        except (*_DISCONNECTED, OSError):
            pass
        finally:
            self.finished.set()


@dataclass
class Trickle:
    """Headers with the full Content-Length, then ``step`` bytes every ``interval`` seconds."""

    data: bytes
    interval: float = 0.25
    step: int = 1
    sent: int = 0

    def respond(self, handler: _Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Content-Length", str(len(self.data)))
        handler.end_headers()
        handler.close_connection = True
        try:
            while self.sent < len(self.data) and not handler.server_stopping():
                handler.wfile.write(self.data[self.sent : self.sent + self.step])
                handler.wfile.flush()
                self.sent += self.step
                handler.server_stop_event().wait(self.interval)
        except (*_DISCONNECTED, OSError):
            pass


@dataclass
class Stall:
    """Headers with a Content-Length, then silence until the server stops (or ``seconds``)."""

    size: int
    seconds: float = 60.0

    def respond(self, handler: _Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Content-Length", str(self.size))
        handler.end_headers()
        handler.wfile.flush()
        handler.close_connection = True
        handler.server_stop_event().wait(self.seconds)


@dataclass
class Drop:
    """Headers with the full Content-Length, ``fraction`` of the body, then a hard close."""

    data: bytes
    fraction: float = 0.5
    count: int = 0

    def respond(self, handler: _Handler) -> None:
        self.count += 1
        handler.send_response(200)
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Content-Length", str(len(self.data)))
        handler.end_headers()
        with contextlib.suppress(*_DISCONNECTED, OSError):
            handler.wfile.write(self.data[: int(len(self.data) * self.fraction)])
            handler.wfile.flush()
            handler.connection.shutdown(socket.SHUT_RDWR)
        handler.close_connection = True


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: object) -> None:
        return None

    def server_stopping(self) -> bool:
        return self.server.owner.stopping.is_set()

    def server_stop_event(self) -> threading.Event:
        return self.server.owner.stopping

    def do_GET(self) -> None:
        self.server.owner.dispatch(self)

    def do_HEAD(self) -> None:
        self.server.owner.dispatch(self)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    owner: HostileServer


class HostileServer:
    """A threaded HTTP server on 127.0.0.1; see the module docstring."""

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self.routes: dict[str, Behaviour] = {}
        self.folder: Path | None = None
        self.upstream: str | None = None
        self._lock = threading.Lock()
        self._requests: list[tuple[str, str]] = []
        self._httpd = _Server((HOST, 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    # -- set-up ---------------------------------------------------------------------------

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self._httpd.server_address[1]}"

    @property
    def index_url(self) -> str:
        return f"{self.base}/simple/"

    def file_url(self, filename: str) -> str:
        return f"{self.base}/files/{quote(filename)}"

    def serve_folder(self, folder: Path) -> HostileServer:
        """Be an honest PEP 503 index over ``folder`` (read at request time)."""
        self.folder = Path(folder)
        return self

    def proxy_to(self, upstream: str) -> HostileServer:
        """Forward every request to ``upstream`` (``http://host:port``), keeping the path."""
        self.upstream = upstream.rstrip("/")
        return self

    def set(self, path: str, behaviour: Behaviour) -> None:
        """Answer ``path`` (e.g. ``/files/foo-1.0-py3-none-any.whl``) with ``behaviour``."""
        self.routes[path] = behaviour

    def set_file(self, filename: str, behaviour: Behaviour) -> None:
        self.set(f"/files/{quote(filename)}", behaviour)

    @property
    def requests(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._requests)

    def paths(self) -> list[str]:
        return [path for _method, path in self.requests]

    def clear_log(self) -> None:
        with self._lock:
            self._requests.clear()

    # -- serving --------------------------------------------------------------------------

    def dispatch(self, handler: _Handler) -> None:
        path = urlsplit(handler.path).path
        with self._lock:
            self._requests.append((handler.command, path))
        behaviour = self.routes.get(path)
        if behaviour is not None:
            behaviour.respond(handler)
        elif self.upstream is not None:
            self._forward(handler)
        elif self.folder is not None:
            self._from_folder(handler, path).respond(handler)
        else:
            Serve(b"not found\n", status=404, content_type="text/plain").respond(handler)

    def _from_folder(self, handler: _Handler, path: str) -> Behaviour:
        assert self.folder is not None
        missing = Serve(b"not found\n", status=404, content_type="text/plain")
        if path.startswith("/simple/"):
            wanted = canonicalize_name(path[len("/simple/") :].strip("/"))
            links = [
                f'<a href="/files/{quote(p.name)}">{html.escape(p.name)}</a><br>'
                for p in sorted(self.folder.iterdir())
                if p.is_file() and _project_of(p.name) == wanted
            ]
            if not links:
                return missing
            page = (
                f"<!DOCTYPE html>\n<html><body><h1>Links for {html.escape(wanted)}</h1>\n"
                + "\n".join(links)
                + "\n</body></html>\n"
            )
            return Serve(page.encode(), content_type="text/html")
        if path.startswith("/files/"):
            name = unquote(path[len("/files/") :])
            target = self.folder / name
            if "/" in name or not target.is_file():
                return missing
            return Serve(target.read_bytes())
        return missing

    def _forward(self, handler: _Handler) -> None:
        assert self.upstream is not None
        request = urllib.request.Request(
            f"{self.upstream}{handler.path}",
            method=handler.command,
            headers={k: v for k, v in handler.headers.items() if k.lower() in ("accept",)},
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=30) as response:
                data = response.read()
                status = int(response.status)
                ctype = response.headers.get("Content-Type", "application/octet-stream")
        except urllib.error.HTTPError as exc:
            with contextlib.closing(exc):
                data = exc.read()
                status = exc.code
                ctype = exc.headers.get("Content-Type", "text/plain")
        except (OSError, http.client.HTTPException):
            data, status, ctype = b"bad gateway\n", 502, "text/plain"
        Serve(data, status=status, content_type=ctype).respond(handler)

    # -- life cycle -----------------------------------------------------------------------

    def start(self) -> HostileServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)


@contextlib.contextmanager
def hostile_server() -> Iterator[HostileServer]:
    """A started :class:`HostileServer`, always stopped at the end."""
    server = HostileServer().start()
    try:
        yield server
    finally:
        server.stop()
