"""A private index as companies run them, on 127.0.0.1: pypiserver with htpasswd
authentication (``pypiserver[passlib]``) behind an HTTPS front whose certificate comes from a
CA generated for the test (``trustme``), and a recording HTTP CONNECT proxy.

- :func:`serve_private_index` yields a :class:`PrivateIndex`: the ``https://`` simple URL, the
  CA's PEM file, the user and password;
- :func:`serve_connect_proxy` yields a :class:`ConnectProxy` that records every ``CONNECT``
  target (and whether a ``Proxy-Authorization`` header came) and tunnels the bytes, or
  refuses every request with 407 when asked to.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import select
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import trustme

from tests.support.pypiserver import HOST, free_port

START_DEADLINE = 10.0


def _pump(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    sockets = [a, b]
    try:
        while True:
            readable, _, _ = select.select(sockets, [], [], 30)
            if not readable:
                return
            for sock in readable:
                data = sock.recv(65536)
                if not data:
                    return
                (b if sock is a else a).sendall(data)
    except OSError:
        return
    finally:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()


class _Listener:
    """Accept connections on 127.0.0.1 in a thread; ``handle(conn)`` each in its own."""

    def __init__(self, handle: object) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self._handle = handle
        self._stop = False
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()  # type: ignore[arg-type]

    def close(self) -> None:
        self._stop = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self._thread.join(timeout=5)


@dataclass
class PrivateIndex:
    url: str  # https://127.0.0.1:PORT/simple/
    ca_pem: Path
    username: str
    password: str
    backend_url: str  # the plain-HTTP pypiserver behind the front


@contextlib.contextmanager
def serve_private_index(
    directory: Path, workdir: Path, *, username: str, password: str
) -> Iterator[PrivateIndex]:
    """pypiserver (htpasswd: ``username``/``password`` for list and download) behind HTTPS."""
    ca = trustme.CA()
    server_cert = ca.issue_cert(HOST, "localhost")
    ca_pem = workdir / "corp-ca.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    htpasswd = workdir / "htpasswd"
    # {SHA} entries (as `htpasswd -s` writes them): pypiserver checks them through passlib.
    digest = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()
    htpasswd.write_text(f"{username}:{{SHA}}{digest}\n")

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(context)

    with tempfile.TemporaryFile() as log, contextlib.ExitStack() as stack:
        port = free_port()
        exe = shutil.which("pypi-server")
        base = [exe] if exe else [sys.executable, "-m", "pypiserver"]
        process = subprocess.Popen(
            [
                *base,
                "run",
                "-p",
                str(port),
                "-i",
                HOST,
                "--disable-fallback",
                "-a",
                "download,list,update",
                "-P",
                str(htpasswd),
                str(directory),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

        def stop() -> None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

        stack.callback(stop)
        deadline = time.monotonic() + START_DEADLINE
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                socket.create_connection((HOST, port), timeout=0.5).close()
                break
            if process.poll() is not None:
                break
            time.sleep(0.05)
        else:
            log.seek(0)
            raise RuntimeError("pypiserver did not start: " + log.read().decode("utf-8", "replace"))

        def front(conn: socket.socket) -> None:
            try:
                tls = context.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):
                conn.close()  # a client that does not trust the CA: the handshake fails
                return
            try:
                backend = socket.create_connection((HOST, port), timeout=10)
            except OSError:
                tls.close()
                return
            _pump(tls, backend)

        listener = _Listener(front)
        stack.callback(listener.close)
        yield PrivateIndex(
            url=f"https://{HOST}:{listener.port}/simple/",
            ca_pem=ca_pem,
            username=username,
            password=password,
            backend_url=f"http://{HOST}:{port}/simple/",
        )


@dataclass
class ConnectProxy:
    url: str
    targets: list[str] = field(default_factory=list)
    proxy_auth_seen: list[bool] = field(default_factory=list)
    bytes_through: list[bytes] = field(default_factory=list)
    refuse: bool = False


@contextlib.contextmanager
def serve_connect_proxy(*, refuse: bool = False) -> Iterator[ConnectProxy]:
    """An HTTP proxy that tunnels CONNECT requests (and records them), or refuses with 407."""
    state = ConnectProxy(url="", refuse=refuse)
    lock = threading.Lock()

    def handle(conn: socket.socket) -> None:
        conn.settimeout(10)
        head = b""
        try:
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    conn.close()
                    return
                head += chunk
        except OSError:
            conn.close()
            return
        text = head.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        request_line, *header_lines = text.split("\r\n")
        method, target, *_ = [*request_line.split(" "), "", ""]
        with lock:
            state.targets.append(f"{method} {target}")
            state.proxy_auth_seen.append(
                any(h.lower().startswith("proxy-authorization:") for h in header_lines)
            )
            state.bytes_through.append(head)
        if state.refuse or method != "CONNECT":
            with contextlib.suppress(OSError):
                conn.sendall(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                    b'Proxy-Authenticate: Basic realm="corp"\r\nContent-Length: 0\r\n\r\n'
                )
            conn.close()
            return
        host, _, port = target.rpartition(":")
        try:
            upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
        except (OSError, ValueError):
            with contextlib.suppress(OSError):
                conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            conn.close()
            return
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        conn.settimeout(None)
        _pump(conn, upstream)

    listener = _Listener(handle)
    state.url = f"http://{HOST}:{listener.port}"
    try:
        yield state
    finally:
        listener.close()
