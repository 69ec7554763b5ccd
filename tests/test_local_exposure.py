"""Issue 19, rule 5: nothing local is trusted or shared by accident.

- The resolution view (lockkeys._internal.resolve.localindex) on 127.0.0.1 answers only its own
  run's resolver: a per-run secret path prefix, given to the resolver child in its environment,
  never on its command line (``ps``), never in the lock, the kept resolutions or a message.
- A FIFO (or any non-regular file) planted in a cache never hangs ``install`` or ``lock``: the
  entry is discarded with a warning naming it, and the run goes on as on a miss.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from fixtures.wheelmaker import build_wheel
from lockkeys._internal.locking.locker import lock
from lockkeys._internal.resolve import common
from lockkeys._internal.resolve.base import ResolveRequest
from lockkeys._internal.resolve.localindex import ResolutionView, ViewServer
from lockkeys._internal.resolve.piptools import PipToolsResolver
from lockkeys._internal.resolve.uv import UvResolver, find_uv
from lockkeys._internal.sources.model import Source
from lockkeys._internal.sources.session import sources_session
from lockkeys.errors import LockkeysError
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
def test_resolution_view_secret_hidden_in_resolver_messages(tmp_path: Path, resolver: str) -> None:
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


# --- caches: a planted FIFO never hangs a run ------------------------------------------------

#: The guard: a run that blocks on a FIFO is killed, and the test fails instead of hanging.
GUARD = 60


def _lockkeys(cwd: Path, cache: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("LOCKKEYS_")}
    env["LOCKKEYS_CACHE_DIR"] = str(cache)
    return subprocess.run(
        [sys.executable, "-m", "lockkeys", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=GUARD,
        stdin=subprocess.DEVNULL,
    )


def _plant_fifos(folder: Path) -> list[Path]:
    """Every entry in ``folder`` becomes a FIFO (no writer: opening it blocks forever)."""
    import os

    planted = []
    for entry in sorted(p for p in folder.rglob("*") if p.is_file()):
        entry.unlink()
        os.mkfifo(entry)
        planted.append(entry)
    assert planted, f"nothing cached in {folder}"
    return planted


def _not_fifos(planted: list[Path]) -> None:
    import stat

    for entry in planted:
        assert not entry.exists() or not stat.S_ISFIFO(entry.lstat().st_mode), entry


@dataclass
class Locked:
    root: Path
    cache: Path


def _locked_app(tmp_path: Path, index: JsonIndex, resolver: str = "uv") -> Locked:
    """``app`` and ``lib`` from a JSON index, locked once, which filled the page,
    parsed-release and kept-resolution caches and the resolver's own."""
    root = tmp_path / "app"
    root.mkdir()
    (root / "requirements.in").write_text("app\n")
    (root / "lockkeys.toml").write_text(
        f'requirements = ["requirements.in"]\nresolver = "{resolver}"\n\n'
        f'[[sources]]\nname = "index"\nurl = "{index.url}"\n'
    )
    cache = tmp_path / "cache"
    done = _lockkeys(root, cache, "lock")
    assert done.returncode == 0, done.stderr
    return Locked(root, cache)


@pytest.fixture
def app_index(tmp_path: Path) -> Iterator[JsonIndex]:
    folder = tmp_path / "index"
    folder.mkdir()
    build_wheel(folder, "app", "1.0", requires_dist=["lib>=1"])
    build_wheel(folder, "lib", "1.0")
    with serve_json_index(folder) as index:
        yield index


@needs_uv
@pytest.mark.slow
@pytest.mark.parametrize(
    ("resolver", "cache_folder"),
    [
        ("uv", "pages"),
        ("uv", "releases"),
        ("uv", "resolutions"),
        ("uv", "uv"),
    ],
)
def test_fifo_in_lock_caches_does_not_hang_lock(
    app_index: JsonIndex, tmp_path: Path, resolver: str, cache_folder: str
) -> None:
    """Finding: a FIFO planted in a lock-time cache hung `lockkeys lock` forever (the
    resolvers' own caches: until the resolver's timeout, 600 s)."""
    done = _locked_app(tmp_path, app_index, resolver)
    locked = (done.root / "pylock.toml").read_bytes()
    planted = _plant_fifos(done.cache / cache_folder)
    (done.root / "pylock.toml").unlink()
    # --re-resolve: the resolver runs (and reads its own cache) even with a kept resolution.
    again = ["--re-resolve"] if cache_folder == resolver else []
    run = _lockkeys(done.root, done.cache, "lock", *again)  # before the fix: TimeoutExpired
    assert run.returncode == 0, run.stderr
    assert (done.root / "pylock.toml").read_bytes() == locked
    for entry in planted:
        assert f"cache entry {entry}" in run.stderr, run.stderr
    assert "FIFO (named pipe), not a regular file; discarded" in run.stderr
    _not_fifos(planted)


@pytest.mark.slow
def test_fifo_in_verified_file_cache_does_not_hang_install(
    app_index: JsonIndex, tmp_path: Path
) -> None:
    """Finding: a FIFO planted in the verified-file cache hung `lockkeys install` forever
    (`--timeout` applies to the network only)."""
    from tests.support.venvs import installed, make_venv

    root, cache = (lambda done: (done.root, done.cache))(_locked_app(tmp_path, app_index))
    first = make_venv(tmp_path / "first")
    done = _lockkeys(root, cache, "install", "--python", first)
    assert done.returncode == 0, done.stderr
    planted = _plant_fifos(cache / "files")
    assert len(planted) == 2  # app and lib, verified and kept
    python = make_venv(tmp_path / "venv")
    done = _lockkeys(root, cache, "install", "--python", python, "--timeout", "5")
    assert done.returncode == 0, done.stderr
    assert installed(python) == [["app", "1.0"], ["lib", "1.0"]]
    for entry in planted:
        assert f"cache entry {entry} is a FIFO (named pipe)" in done.stderr, done.stderr
    _not_fifos(planted)


def test_cache_entry_reads_refuse_every_non_regular_file(tmp_path: Path) -> None:
    """The one helper every cache read uses: a FIFO, a folder, a symbolic link or an
    oversized file is a miss, discarded and reported; a missing entry is a silent miss."""
    import logging
    import os

    from lockkeys._internal.fsutil import read_cache_entry

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    folder = tmp_path / "folder"
    folder.mkdir()
    target = tmp_path / "target"
    target.write_bytes(b"kept")
    link = tmp_path / "link"
    link.symlink_to(target)
    big = tmp_path / "big"
    big.write_bytes(b"x" * 11)
    good = tmp_path / "good"
    good.write_bytes(b"entry")
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("lockkeys.cache").addHandler(handler)
    try:
        for bad in (fifo, folder, link, big):
            started = time.monotonic()
            assert read_cache_entry(bad, 10) is None
            assert time.monotonic() - started < 1.0  # threat model row 30: under a second
            assert not bad.exists() and not bad.is_symlink(), bad
            assert any(f"cache entry {bad} " in line for line in records), records
        assert target.read_bytes() == b"kept"  # a link is removed, never what it names
        count = len(records)
        assert read_cache_entry(tmp_path / "missing", 10) is None
        assert read_cache_entry(good, 10) == b"entry"
        assert len(records) == count
    finally:
        logging.getLogger("lockkeys.cache").removeHandler(handler)


def test_resolver_cache_sweep_discards_fifos_and_links_to_them(tmp_path: Path) -> None:
    """The resolvers' own caches (uv, pip) are read by them, not lockkeys: before a resolver
    runs, its folder is swept of FIFOs, devices, sockets and links to them (pip caches
    nothing from a plain-HTTP index, so this is shown on the folder itself)."""
    import os

    from lockkeys._internal.resolve.runenv import ResolverSettings

    settings = ResolverSettings(cache_dir=tmp_path / "cache")
    folder = settings.cache_for("pip-tools", tmp_path / "fresh")
    deep = folder / "pip" / "http-v2" / "a" / "b"
    deep.mkdir(parents=True)
    fifo = deep / "entry"
    os.mkfifo(fifo)
    outside = tmp_path / "outside"
    outside.mkdir()
    os.mkfifo(outside / "pipe")
    (deep / "to-fifo").symlink_to(outside / "pipe")
    (deep / "to-folder").symlink_to(outside)  # not followed: the pipe in it stays
    (deep / "kept").write_bytes(b"a regular entry")
    (deep / "dangling").symlink_to(tmp_path / "nowhere")
    assert settings.cache_for("pip-tools", tmp_path / "fresh") == folder
    assert not fifo.exists() and not (deep / "to-fifo").is_symlink()
    assert (outside / "pipe").exists() and (deep / "to-folder").is_symlink()
    assert (deep / "kept").read_bytes() == b"a regular entry"
    assert (deep / "dangling").is_symlink()
