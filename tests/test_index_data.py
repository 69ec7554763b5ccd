"""The index's own data: PEP 700 sizes, PEP 658/714 core metadata relayed through the
resolution view, the persistent page cache, and how resolvers are run (credentials through a
child-only netrc, never argv; caches that persist)."""

from __future__ import annotations

import json
import os
import stat
import sys
import textwrap
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from lockkeys.resolve.base import ResolveRequest
from lockkeys.resolve.piptools import PipToolsResolver
from lockkeys.resolve.runenv import ResolverSettings, default_cache_dir
from lockkeys.resolve.view import serve_view
from lockkeys.sources import list_files
from lockkeys.sources.auth import Credentials
from lockkeys.sources.fetch import Client, use_client
from lockkeys.sources.index import list_index, parse_html_page, parse_json_page
from lockkeys.sources.model import Source
from lockkeys.sources.pagecache import PageCache
from tests.support.fake_transport import FakeTransport, Reply

SHA = "c" * 64
INDEX = "https://index.example/simple/"
PAGE = INDEX + "foo/"


def test_html_core_metadata_attributes() -> None:
    page = (
        b'<a href="/p/foo-1.0-py3-none-any.whl" data-core-metadata="sha256=' + SHA.encode() + b'">'
        b'<a href="/p/foo-1.1-py3-none-any.whl" data-dist-info-metadata="true">'
        b'<a href="/p/foo-1.2-py3-none-any.whl" data-core-metadata="false">'
        b'<a href="/p/foo-1.3.tar.gz" data-core-metadata="true">'
    )
    files = parse_html_page(page, "https://h/simple/foo/")
    assert [f.core_metadata for f in files] == [f"sha256={SHA}", "true", None, None]


def test_json_core_metadata_and_pep700_sizes() -> None:
    document = {
        "meta": {"api-version": "1.1"},
        "name": "foo",
        "files": [
            {
                "filename": "foo-1.0-py3-none-any.whl",
                "url": "/p/foo-1.0-py3-none-any.whl",
                "hashes": {"sha256": SHA},
                "size": 1234,
                "core-metadata": {"sha256": SHA},
            },
            {
                "filename": "foo-1.1-py3-none-any.whl",
                "url": "/p/foo-1.1-py3-none-any.whl",
                "hashes": {},
                "size": 99,
                "dist-info-metadata": True,
            },
            {
                "filename": "foo-1.2-py3-none-any.whl",
                "url": "/p/foo-1.2-py3-none-any.whl",
                "hashes": {},
                "core-metadata": False,
            },
        ],
    }
    files = parse_json_page(json.dumps(document).encode(), "https://h/simple/foo/")
    assert [(f.size, f.core_metadata) for f in files] == [
        (1234, f"sha256={SHA}"),
        (99, "true"),
        (None, None),
    ]


def test_the_view_relays_core_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    document = {
        "meta": {"api-version": "1.1"},
        "files": [
            {
                "filename": "foo-1.0-py3-none-any.whl",
                "url": "https://files.example/foo-1.0-py3-none-any.whl",
                "hashes": {"sha256": SHA},
                "size": 10,
                "core-metadata": {"sha256": SHA},
            }
        ],
    }
    transport = FakeTransport(
        {
            PAGE: Reply(
                200,
                [json.dumps(document).encode()],
                {"Content-Type": "application/vnd.pypi.simple.v1+json"},
            )
        }
    )
    sources = [Source("a", url=INDEX), Source("b", url="https://other.example/simple/")]
    with use_client(Client(transport)), serve_view(sources, {}) as (view_url, _view):
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(view_url + "foo/", timeout=10) as response:
            page = response.read().decode()
    assert f'data-core-metadata="sha256={SHA}"' in page
    assert f'data-dist-info-metadata="sha256={SHA}"' in page
    assert 'href="https://files.example/foo-1.0-py3-none-any.whl#sha256=' in page


# --- the persistent page cache --------------------------------------------------------------------


def _page_reply(**headers: str) -> Reply:
    body = b'<a href="/p/foo-1.0-py3-none-any.whl#sha256=' + SHA.encode() + b'">x</a>'
    return Reply(200, [body], {"Content-Type": "text/html", **headers})


def _client(transport: FakeTransport, folder: Path) -> Client:
    return Client(
        transport,
        sleep=transport.clock.sleep,
        clock=transport.clock.monotonic,
        wall_clock=transport.clock.time,
        page_cache=PageCache(folder, clock=transport.clock.time),
    )


def test_fresh_pages_are_reused_without_asking(tmp_path: Path) -> None:
    transport = FakeTransport({PAGE: _page_reply(**{"Cache-Control": "max-age=600"})})
    with use_client(_client(transport, tmp_path)):
        first = list_index(Source("s", url=INDEX), "foo")
        second = list_index(Source("s", url=INDEX), "foo")
    assert first == second and len(first) == 1
    assert transport.hits(PAGE) == 1
    # A later run (a new client, same folder) reuses it too while it is fresh.
    with use_client(_client(transport, tmp_path)):
        assert list_index(Source("s", url=INDEX), "foo") == first
    assert transport.hits(PAGE) == 1


def test_stale_pages_are_revalidated(tmp_path: Path) -> None:
    transport = FakeTransport(
        {PAGE: [_page_reply(ETag='"v1"', **{"Cache-Control": "max-age=60"}), Reply(304)]}
    )
    with use_client(_client(transport, tmp_path)):
        first = list_index(Source("s", url=INDEX), "foo")
        transport.clock.now += 61
        again = list_index(Source("s", url=INDEX), "foo")
    assert again == first
    assert transport.hits(PAGE) == 2
    assert transport.requests[1].headers["If-None-Match"] == '"v1"'


def test_pypi_pages_without_cache_control_are_fresh_for_ten_minutes(tmp_path: Path) -> None:
    pypi = "https://pypi.org/simple/"
    transport = FakeTransport({pypi + "foo/": _page_reply(), PAGE: _page_reply()})
    with use_client(_client(transport, tmp_path)):
        list_index(Source("pypi", url=pypi), "foo")
        transport.clock.now += 599
        list_index(Source("pypi", url=pypi), "foo")
        assert transport.hits(pypi + "foo/") == 1
        transport.clock.now += 2
        list_index(Source("pypi", url=pypi), "foo")
        assert transport.hits(pypi + "foo/") == 2
        # Another index may replace a file under the same name: without headers, no reuse.
        list_index(Source("s", url=INDEX), "foo")
        list_index(Source("s", url=INDEX), "foo")
        assert transport.hits(PAGE) == 2


def test_a_cached_page_without_the_pinned_version_is_fetched_again(tmp_path: Path) -> None:
    newer = b'<a href="/p/foo-2.0-py3-none-any.whl#sha256=' + SHA.encode() + b'">x</a>'
    fresh = {"Cache-Control": "max-age=600"}
    transport = FakeTransport({PAGE: [_page_reply(**fresh), Reply(200, [newer])]})
    with use_client(_client(transport, tmp_path)):
        assert [f.filename for f in list_files(Source("s", url=INDEX), "foo", "1.0")] == [
            "foo-1.0-py3-none-any.whl"
        ]
        found = list_files(Source("s", url=INDEX), "foo", "2.0")
    assert [f.filename for f in found] == ["foo-2.0-py3-none-any.whl"]
    assert transport.hits(PAGE) == 2


def test_no_store_pages_are_not_kept(tmp_path: Path) -> None:
    transport = FakeTransport({PAGE: _page_reply(**{"Cache-Control": "no-store"})})
    with use_client(_client(transport, tmp_path)):
        list_index(Source("s", url=INDEX), "foo")
        list_index(Source("s", url=INDEX), "foo")
    assert transport.hits(PAGE) == 2
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


# --- running resolvers ----------------------------------------------------------------------------

RECORDER = textwrap.dedent(
    """
    import json, os, sys
    netrc = os.environ.get("NETRC", "")
    info = {
        "argv": sys.argv,
        "netrc": open(netrc).read() if netrc else None,
        "netrc_mode": oct(os.stat(netrc).st_mode & 0o777) if netrc else None,
        "env": {k: v for k, v in os.environ.items() if k in ("PIP_CERT", "NO_PROXY")},
    }
    open(os.environ["RECORD_TO"], "w").write(json.dumps(info))
    out = sys.argv[sys.argv.index("--output-file") + 1]
    open(out, "w").write("foo==1.0\\n    # via -r requirements.in\\n")
    """
)


@pytest.fixture
def recorder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    script = tmp_path / "record.py"
    script.write_text(RECORDER)
    record = tmp_path / "record.json"
    monkeypatch.setenv("RECORD_TO", str(record))
    yield script


def test_credentials_reach_the_resolver_in_a_private_netrc_never_argv(
    recorder: Path, tmp_path: Path
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    settings = ResolverSettings(
        credentials={"index.example": Credentials("alice", 'pa ss"word-8', "test")},
        ca_files=(ca,),
        cache_dir=tmp_path / "cache",
    ).with_no_proxy("127.0.0.1")
    resolver = PipToolsResolver(command=[sys.executable, str(recorder)], settings=settings)
    pins = resolver.resolve(ResolveRequest(requirements=("foo",), indexes=(INDEX,)))
    assert [(p.name, p.version) for p in pins] == [("foo", "1.0")]
    info = json.loads((tmp_path / "record.json").read_text())
    assert not any("pa ss" in arg for arg in info["argv"])
    assert info["netrc"] == 'machine index.example login alice password "pa ss\\"word-8"\n'
    assert info["netrc_mode"] == "0o600"
    assert "127.0.0.1" in info["env"]["NO_PROXY"].split(",")
    assert Path(info["env"]["PIP_CERT"]).name == "ca-bundle.pem"
    # The private files are gone once the resolver has run.
    assert not Path(info["env"]["PIP_CERT"]).exists()
    # The cache is lockkeys' persistent one, per resolver.
    cache_arg = info["argv"][info["argv"].index("--cache-dir") + 1]
    assert cache_arg == str(tmp_path / "cache" / "pip-tools")


def test_netrc_quoting_reads_back(tmp_path: Path) -> None:
    import netrc

    settings = ResolverSettings(credentials={"h.example": Credentials("u", 'a b"c#d', "t")})
    with settings.child_environment("uv") as env:
        parsed = netrc.netrc(env["NETRC"])
        assert parsed.authenticators("h.example") == ("u", "", 'a b"c#d')
        assert stat.S_IMODE(os.stat(env["NETRC"]).st_mode) == 0o600


def test_cache_dir_default_and_override(monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_cache_dir({"LOCKKEYS_CACHE_DIR": "/x/y"}) == Path("/x/y")
    assert default_cache_dir({"XDG_CACHE_HOME": "/c"}) == Path("/c/lockkeys")
    assert default_cache_dir({}) == Path("~/.cache/lockkeys").expanduser()


def test_only_the_wanted_release_is_built_from_a_big_page() -> None:
    entries = [
        {
            "filename": f"big-{minor}.{patch}-py3-none-any.whl",
            "url": f"/p/big-{minor}.{patch}-py3-none-any.whl",
            "hashes": {"sha256": SHA},
            "size": 1,
        }
        for minor in range(50)
        for patch in range(40)
    ]
    entries.append(
        {"filename": "big-7.3.tar.gz", "url": "/p/big-7.3.tar.gz", "hashes": {}, "size": 2}
    )
    entries.append(  # a non-normalized spelling of the same version still counts
        {"filename": "big-7.03.zip", "url": "/p/big-7.03.zip", "hashes": {}, "size": 3}
    )
    page = json.dumps({"meta": {"api-version": "1.1"}, "files": entries}).encode()
    transport = FakeTransport(
        {
            INDEX + "big/": Reply(
                200, [page], {"Content-Type": "application/vnd.pypi.simple.v1+json"}
            )
        }
    )
    with use_client(Client(transport)):
        found = list_files(Source("s", url=INDEX), "big", "7.3")
    assert [f.filename for f in found] == [
        "big-7.03.zip",
        "big-7.3-py3-none-any.whl",
        "big-7.3.tar.gz",
    ]
