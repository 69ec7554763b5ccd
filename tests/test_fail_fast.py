"""A source error is told without waiting for the resolver's retries (issue 17).

Nothing here is timed: the tests count resolver runs (a fake resolver program that leaves a
mark, a fake resolver object) and the requests a test index receives.
"""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from lockkeys._internal.config.policy import DefaultConfig, PolicyTable
from lockkeys._internal.locking import resolving
from lockkeys._internal.locking.scope import LockScope
from lockkeys._internal.resolve.base import Pin, ResolveRequest
from lockkeys._internal.resolve.piptools import PipToolsResolver
from lockkeys._internal.resolve.uv import UvResolver
from lockkeys._internal.sources.model import Source
from lockkeys.errors import ResolutionError, SourceError

FAKES = {"pip-tools": PipToolsResolver, "uv": UvResolver}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def fake_program(tmp_path: Path) -> tuple[list[str], Path]:
    """A resolver program that marks that it ran, then fails as pip does on a closed port."""
    mark = tmp_path / "started"
    script = tmp_path / "fake_resolver.py"
    script.write_text(
        "import pathlib, sys\n"
        f"pathlib.Path({str(mark)!r}).touch()\n"
        "sys.stderr.write('Failed to establish a new connection: Connection refused\\n')\n"
        "sys.exit(1)\n"
    )
    return [sys.executable, str(script)], mark


@pytest.mark.parametrize("name", sorted(FAKES))
def test_refused_loopback_index_is_exit_3_without_starting_the_resolver(
    name: str, fake_program: tuple[list[str], Path]
) -> None:
    command, mark = fake_program
    dead = f"http://127.0.0.1:{closed_port()}/simple/"
    with pytest.raises(SourceError) as caught:
        FAKES[name](command=command).resolve(ResolveRequest(("foo",), indexes=(dead,)))
    assert caught.value.exit_code == 3
    assert dead in caught.value.message and name in caught.value.message
    assert not mark.exists(), "the resolver was started (and would have retried)"


@pytest.mark.parametrize(
    "index",
    [
        "listening",  # a loopback port that accepts: the resolver decides
        "http://192.0.2.1:9/simple/",  # not loopback (TEST-NET-1): never probed, may be transient
    ],
)
def test_the_resolver_still_runs_when_the_failure_could_be_transient(
    index: str, fake_program: tuple[list[str], Path]
) -> None:
    command, mark = fake_program
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        if index == "listening":
            index = f"http://127.0.0.1:{server.getsockname()[1]}/simple/"
        with pytest.raises(SourceError):
            UvResolver(command=command).resolve(ResolveRequest(("foo",), indexes=(index,)))
    assert mark.exists()


def test_loopback_names() -> None:
    from lockkeys._internal.resolve.reachable import is_loopback

    for host in ("127.0.0.1", "127.5.0.1", "::1", "[::1]", "localhost", "a.localhost"):
        assert is_loopback(host), host
    for host in ("192.0.2.1", "example.org", "localhost.example.org", "::ffff:8.8.8.8"):
        assert not is_loopback(host), host


class _CountingResolver:
    """Fails as pip-compile does on a page it may not read, and counts its runs."""

    name = "pip-tools"

    def __init__(self) -> None:
        self.runs = 0

    def resolve(self, request: ResolveRequest) -> list[Pin]:
        self.runs += 1
        raise ResolutionError("pip-tools could not satisfy foo")


@contextmanager
def refusing_index(status: int) -> Iterator[tuple[str, list[str]]]:
    """An index on 127.0.0.1 answering every request with ``status``; yields (URL, paths)."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            del format, args

        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(status)
            self.send_header("WWW-Authenticate", 'Basic realm="corp"')
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple/", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("status", [401, 403])
@pytest.mark.parametrize("through_view", [False, True], ids=["direct", "view"])
def test_refused_credentials_end_the_lock_before_the_resolver_starts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, status: int, through_view: bool
) -> None:
    """One request for the first requirement's page, lockkeys' exit-3 message, no resolver
    run (each would wait for pip's retries and then the page would be asked again)."""
    fake = _CountingResolver()
    monkeypatch.setattr(resolving, "get_resolver", lambda name, settings=None: fake)
    scope = LockScope(False, None, None, None, None)
    with refusing_index(status) as (url, seen):
        sources = [Source("corp", url=url)]
        if through_view:
            (tmp_path / "here").mkdir()
            sources.append(Source("here", path=tmp_path / "here"))
        with pytest.raises(SourceError) as caught:
            resolving.resolve_pins(
                PolicyTable.build(DefaultConfig(), {}),
                config_file="lockkeys.toml",
                key_prefix="",
                resolver_name="pip-tools",
                sources=sources,
                requirements=["foo"],
                constraints=[],
                previous=None,
                upgrade=(),
                scope=scope,
            )
    assert caught.value.exit_code == 3
    assert "source 'corp'" in caught.value.message
    assert fake.runs == 0
    assert seen == ["/simple/foo/"]
