"""Issue 19, rule 5: nothing local is trusted or shared by accident.

- The resolution view (lockkeys.resolve.view) on 127.0.0.1 answers only its own run's
  resolver: a per-run secret path prefix, given to the resolver child in its environment, never
  on its command line (``ps``), never in the lock, the kept resolutions or a message.
- A FIFO (or any non-regular file) planted in a cache never hangs ``install`` or ``lock``: the
  entry is discarded with a warning naming it, and the run goes on as on a miss.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from fixtures.wheelmaker import build_wheel
from lockkeys.errors import LockkeysError
from lockkeys.lockfile.locker import lock
from lockkeys.resolve import common
from lockkeys.resolve.base import ResolveRequest
from lockkeys.resolve.piptools import PipToolsResolver
from lockkeys.resolve.uv import UvResolver, find_uv
from lockkeys.resolve.view import ResolutionView, ViewServer
from lockkeys.sources.model import Source
from lockkeys.sources.session import sources_session
from tests.support.json_index import JsonIndex, serve_json_index

needs_uv = pytest.mark.skipif(find_uv() is None, reason="uv is not installed")


def _get(url: str, method: str = "GET") -> tuple[int, bytes]:
    """Another local client: plain HTTP, no proxy, no secret unless the URL has it."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, method=method)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@dataclass
class Sources:
    index: JsonIndex
    folder: Path
    sources: list[Source]


@pytest.fixture
def two_sources(tmp_path: Path) -> Iterator[Sources]:
    """A private index (``app``) and a private folder (``private``, beside a non-distribution
    file that must never be served)."""
    public = tmp_path / "index"
    public.mkdir()
    build_wheel(public, "app", "1.0", requires_dist=["private>=1"])
    folder = tmp_path / "folder"
    folder.mkdir()
    build_wheel(folder, "private", "1.0")
    (folder / "deploy-notes.txt").write_text("not a distribution\n")
    with serve_json_index(public) as index:
        sources = [Source("index", url=index.url), Source("folder", path=str(folder))]
        yield Sources(index, folder, sources)


# --- the resolution view: a per-run secret ---------------------------------------------------


def test_resolution_view_answers_other_local_clients_nothing(two_sources: Sources) -> None:
    """Finding: another local user read a private index page (fetched with lockkeys'
    credentials) and downloaded a private folder's wheel from the view."""
    wheel = "private-1.0-py3-none-any.whl"
    with sources_session(two_sources.sources):
        server = ViewServer(ResolutionView(two_sources.sources, {}))
        try:
            url = server.url()
            port = urlsplit(url).port
            bare = f"http://127.0.0.1:{port}"
            secret = urlsplit(url).path.split("/")[1]
            # Without the secret, or with a guessed one: refused, and nothing fetched upstream.
            for prefix in (bare, f"{bare}/guess", f"{bare}/{secret[:-1]}"):
                for path in ("/simple/app/", "/simple/private/", f"/files/1/{wheel}"):
                    for method in ("GET", "HEAD"):
                        code, body = _get(prefix + path, method)
                        assert code == 404, (prefix, path, method, code)
                        assert b"private" not in body and b"app" not in body
            assert sum(two_sources.index.hits.values()) == 0, two_sources.index.hits
            assert len(secret) >= 32 and secret == server.secret
            # With it, the run's resolver is served.
            code, page = _get(url + "app/")
            assert code == 200 and b"app-1.0" in page
            assert two_sources.index.hits["/simple/app/"] == 1
            code, page = _get(url + "private/")
            assert code == 200 and wheel.encode() in page
            assert f"/{secret}/files/1/{wheel}".encode() in page
            code, data = _get(f"{bare}/{secret}/files/1/{wheel}")
            assert code == 200 and data == (two_sources.folder / wheel).read_bytes()
            # Only what the view listed: never another file of the folder.
            code, _ = _get(f"{bare}/{secret}/files/1/deploy-notes.txt")
            assert code == 404
        finally:
            server.close()


def test_resolution_view_secret_is_new_every_run() -> None:
    first, second = ViewServer(ResolutionView([], {})), ViewServer(ResolutionView([], {}))
    assert first.secret != second.secret


class _Spy:
    """Every resolver child's command line and environment, as lockkeys started it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[list[str], dict[str, str]]] = []
        real = subprocess.Popen

        def popen(args: Any, **kwargs: Any) -> Any:
            self.calls.append(([str(a) for a in args], dict(kwargs.get("env") or {})))
            return real(args, **kwargs)

        monkeypatch.setattr(common.subprocess, "Popen", popen)


@needs_uv
@pytest.mark.slow
@pytest.mark.parametrize("resolver", ["uv", "pip-tools"])
def test_resolution_view_url_only_in_the_child_environment_never_kept(
    tmp_path: Path,
    two_sources: Sources,
    resolver: str,
    monkeypatch: pytest.MonkeyPatch,
    private_file_cache: Path,
) -> None:
    """The view's URL (with its secret) reaches the resolver through its environment only
    (``ps`` shows command lines to every local user), and lands in neither the lock nor the
    kept resolutions; a kept resolution is still reused."""
    # Index sources only, so that the resolution is kept (a folder source is never reused).
    second = tmp_path / "second"
    second.mkdir()
    shutil.move(two_sources.folder / "private-1.0-py3-none-any.whl", second)
    root = tmp_path / "app"
    root.mkdir()
    (root / "requirements.in").write_text("app\n")
    with serve_json_index(second) as other:
        (root / "lockkeys.toml").write_text(
            f'requirements = ["requirements.in"]\nresolver = "{resolver}"\n\n'
            f'[[sources]]\nname = "index"\nurl = "{two_sources.index.url}"\n\n'
            f'[[sources]]\nname = "other"\nurl = "{other.url}"\n'
        )
        spy = _Spy(monkeypatch)
        lock(root / "lockkeys.toml")
        assert len(spy.calls) == 1
        argv, env = spy.calls[0]
        variable = "UV_DEFAULT_INDEX" if resolver == "uv" else "PIP_INDEX_URL"
        view_url = env[variable]
        secret = urlsplit(view_url).path.split("/")[1]
        assert len(secret) >= 32 and view_url.endswith(f"/{secret}/simple/")
        assert not any(secret in arg for arg in argv), argv
        assert not any("127.0.0.1" in arg for arg in argv), argv
        locked = (root / "pylock.toml").read_bytes()
        assert secret.encode() not in locked
        kept = list((private_file_cache / "resolutions").glob("*.json"))
        assert kept and all(secret.encode() not in k.read_bytes() for k in kept)
        for page in (private_file_cache / "pages").rglob("*"):
            assert not page.is_file() or secret.encode() not in page.read_bytes()
        # The next lock of the same request reuses the kept resolution: no resolver runs.
        (root / "pylock.toml").unlink()
        lock(root / "lockkeys.toml")
        assert len(spy.calls) == 1
        assert (root / "pylock.toml").read_bytes() == locked


_FAILING_RESOLVER = """
import os, sys
url = os.environ.get("UV_DEFAULT_INDEX") or os.environ.get("PIP_INDEX_URL") or "none"
print(f"error: Failed to fetch: {url}nothere/", file=sys.stderr)
print(f"  Caused by: tcp connect error: Connection refused ({url})", file=sys.stderr)
sys.exit(2)
"""


@pytest.mark.parametrize("resolver", ["uv", "pip-tools"])
def test_resolution_view_secret_hidden_in_resolver_messages(
    tmp_path: Path, resolver: str
) -> None:
    """Resolver errors are shown to users (and kept in CI logs): the secret never is."""
    script = tmp_path / "resolver.py"
    script.write_text(_FAILING_RESOLVER)
    command = [sys.executable, str(script)]
    chosen = UvResolver(command=command) if resolver == "uv" else PipToolsResolver(command=command)
    server = ViewServer(ResolutionView([], {}))
    try:
        url = server.url()
        with pytest.raises(LockkeysError) as caught:
            chosen.resolve(ResolveRequest(requirements=("nothere",), indexes=(url,)))
    finally:
        server.close()
    secret = urlsplit(url).path.split("/")[1]
    assert len(secret) >= 32, url
    shown = caught.value.diagnostics() + "\n" + "\n".join(caught.value.details)
    assert secret not in shown, shown
    assert common.HIDDEN in shown, shown

