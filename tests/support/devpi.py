"""A real devpi-server on 127.0.0.1, for integration tests of the private-index path.

:func:`serve_devpi` makes a fresh server folder (``devpi-init --no-root-pypi``: no mirror of
the public index, and the server runs with ``--offline-mode``), starts ``devpi-server`` on a
free port, creates a user and a private index through devpi's JSON HTTP API, and yields a
:class:`Devpi`. Uploads go through :meth:`Devpi.upload` (the legacy upload API twine and
``devpi upload`` use: HTTP Basic credentials, multipart ``:action=file_upload``).

Reading: stock devpi-server has no read ACL (there is no ``acl_read`` index option; every
stage is readable anonymously and wrong credentials on a read are ignored). devpi's documented
way to lock reading down is a front server asking devpi whether a request's credentials
authenticate (devpi-lockdown's ``/+authcheck`` behind nginx ``auth_request``). The fixture
runs such a front too: :attr:`Devpi.locked_url` asks devpi's own ``/+api`` (its ``authstatus``)
with the request's ``Authorization`` header and answers 401 unless devpi says ``ok``, so the
credential check is devpi's; :attr:`Devpi.open_url` is devpi itself.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urlsplit

import urllib3

from tests.support.pypiserver import HOST, free_port

__all__ = ["Devpi", "DevpiError", "serve_devpi"]

START_DEADLINE = 30.0
PORT_ATTEMPTS = 3
INDEX = "corp"
# What the front relays back from devpi (everything else is dropped or recomputed).
RELAYED = ("content-type", "location", "etag", "last-modified", "cache-control")


class DevpiError(RuntimeError):
    """devpi-server did not come up, or refused to set up; the message carries its log."""


def _tool(name: str) -> list[str]:
    """devpi's console script from this interpreter's environment."""
    script = Path(sys.executable).parent / name
    if not script.exists():
        raise DevpiError(f"{name} is not installed beside {sys.executable}")
    return [str(script)]


def _basic(username: str, password: str) -> dict[str, str]:
    return dict(urllib3.make_headers(basic_auth=f"{username}:{password}"))


@dataclass
class Devpi:
    """A running devpi-server with user ``username`` owning the index ``username/corp``."""

    base: str  # http://127.0.0.1:PORT (devpi itself)
    front: str  # http://127.0.0.1:PORT (the read lockdown in front of it)
    username: str
    password: str = field(repr=False)
    _http: urllib3.PoolManager = field(repr=False)
    served: list[str] = field(default_factory=list)  # paths the front served (authenticated)

    @property
    def path(self) -> str:
        """The index's simple path: ``/USER/corp/+simple/``."""
        return f"/{self.username}/{INDEX}/+simple/"

    @property
    def open_url(self) -> str:
        """The simple index as devpi serves it: anyone may read."""
        return self.base + self.path

    @property
    def locked_url(self) -> str:
        """The same simple index behind the read lockdown: devpi credentials needed."""
        return self.front + self.path

    def fetches(self, filename: str) -> int:
        """How often the front served ``filename`` itself (not its ``.asc``) to a client."""
        paths = (unquote(urlsplit(path).path) for path in self.served)
        return sum(1 for path in paths if path.endswith("/" + filename))

    def upload(self, wheel: Path, *, username: str, password: str) -> int:
        """Upload ``wheel`` to the index with these credentials; devpi's HTTP status."""
        name, version = wheel.name.split("-")[:2]
        response = self._http.request(
            "POST",
            f"{self.base}/{self.username}/{INDEX}/",
            fields={
                ":action": "file_upload",
                "name": name,
                "version": version,
                "content": (wheel.name, wheel.read_bytes()),
            },
            headers=_basic(username, password),
            retries=False,
        )
        return int(response.status)

    def listed(self, project: str) -> str:
        """The project's simple page as devpi serves it (anonymously)."""
        response = self._http.request("GET", f"{self.open_url}{project}/", retries=False)
        return str(response.data.decode("utf-8", "replace")) if response.status == 200 else ""


def _api(
    http: urllib3.PoolManager, method: str, url: str, body: object, auth: dict[str, str]
) -> None:
    response = http.request(
        method,
        url,
        body=json.dumps(body),
        headers={**auth, "Content-Type": "application/json", "Accept": "application/json"},
        retries=False,
    )
    if response.status not in (200, 201):
        raise DevpiError(f"{method} {url}: HTTP {response.status}: {response.data[:500]!r}")


def _set_up(http: urllib3.PoolManager, base: str, root: str, user: str, password: str) -> None:
    """The user (made by root) and its index; only the user may upload to it."""
    _api(http, "PUT", f"{base}/{user}", {"password": password}, _basic("root", root))
    _api(
        http,
        "PUT",
        f"{base}/{user}/{INDEX}",
        {"type": "stage", "bases": [], "volatile": False, "acl_upload": [user]},
        _basic(user, password),
    )


def _up(http: urllib3.PoolManager, base: str) -> bool:
    try:
        response = http.request("GET", f"{base}/+api", timeout=1.0, retries=False)
    except urllib3.exceptions.HTTPError:
        return False
    return int(response.status) == 200


def _front_handler(
    base: str, http: urllib3.PoolManager, served: list[str]
) -> type[BaseHTTPRequestHandler]:
    class Front(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            self._relay(with_body=True)

        def do_HEAD(self) -> None:
            self._relay(with_body=False)

        def _authenticated(self, auth: str) -> bool:
            """devpi's verdict on these credentials (what devpi-lockdown's /+authcheck asks)."""
            if not auth:
                return False
            answer = http.request(
                "GET",
                f"{base}/+api",
                headers={"Authorization": auth, "Accept": "application/json"},
                retries=False,
            )
            status = json.loads(answer.data).get("result", {}).get("authstatus", [""])
            return bool(answer.status == 200 and status and status[0] == "ok")

        def _relay(self, *, with_body: bool) -> None:
            try:
                auth = self.headers.get("Authorization", "")
                if not self._authenticated(auth):
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="devpi"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                front = f"http://{self.headers.get('Host', '')}"
                answer = http.request(
                    self.command,
                    base + self.path,
                    headers={
                        "Authorization": auth,
                        "Accept": self.headers.get("Accept", "*/*"),
                        "X-Outside-Url": front,  # as devpi's generated nginx config sets it
                    },
                    redirect=False,
                    retries=False,
                )
                data = answer.data
                served.append(self.path)
                self.send_response(answer.status)
                for key in RELAYED:
                    if key in answer.headers:
                        self.send_header(key, answer.headers[key])
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if with_body:
                    self.wfile.write(data)
            except (OSError, ValueError, urllib3.exceptions.HTTPError):
                self.close_connection = True  # devpi went away or answered garbage: drop it

    return Front


@contextlib.contextmanager
def _front(base: str, http: urllib3.PoolManager, served: list[str]) -> Iterator[str]:
    server = ThreadingHTTPServer((HOST, 0), _front_handler(base, http, served))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextlib.contextmanager
def _server(serverdir: Path, log: IO[bytes], failed: Callable[[str], DevpiError]) -> Iterator[str]:
    """``devpi-server`` on a free port of 127.0.0.1, offline; yields ``http://HOST:PORT``."""
    http = urllib3.PoolManager()
    failures: list[str] = []
    for _ in range(PORT_ATTEMPTS):
        port = free_port()
        base = f"http://{HOST}:{port}"
        process = subprocess.Popen(
            [
                *_tool("devpi-server"),
                "--serverdir",
                str(serverdir),
                "--host",
                HOST,
                "--port",
                str(port),
                "--offline-mode",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + START_DEADLINE
            while time.monotonic() < deadline and process.poll() is None:
                if _up(http, base):
                    yield base
                    return
                time.sleep(0.1)
            failures.append(f"port {port}: exit code {process.poll()}")
        finally:
            _stop(process)
    raise failed("devpi-server did not start: " + "; ".join(failures))


@contextlib.contextmanager
def serve_devpi(workdir: Path, *, username: str, password: str) -> Iterator[Devpi]:
    """A fresh devpi-server (no public mirror, offline) with ``username``'s index ``corp``."""
    serverdir = workdir / "devpi-server"
    root_password = "root-" + secrets.token_hex(12)
    with tempfile.TemporaryFile() as log:

        def failed(what: str) -> DevpiError:
            log.seek(0)
            return DevpiError(f"{what}\n{log.read().decode('utf-8', 'replace')}")

        init = subprocess.run(
            [
                *_tool("devpi-init"),
                "--serverdir",
                str(serverdir),
                "--no-root-pypi",
                "--root-passwd",
                root_password,
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
            timeout=120,
        )
        if init.returncode != 0:
            raise failed(f"devpi-init exited {init.returncode}")
        http = urllib3.PoolManager()
        served: list[str] = []
        with _server(serverdir, log, failed) as base, _front(base, http, served) as front:
            _set_up(http, base, root_password, username, password)
            yield Devpi(base, front, username, password, http, served)
