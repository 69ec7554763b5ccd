"""The index's own data: PEP 700 sizes, PEP 658/714 core metadata relayed through the
resolution view, the persistent page cache, and how resolvers are run (credentials through a
child-only netrc, never argv; caches that persist)."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
import textwrap
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from lockkeys._internal.resolve.base import ResolveRequest
from lockkeys._internal.resolve.localindex import serve_view
from lockkeys._internal.resolve.piptools import PipToolsResolver
from lockkeys._internal.resolve.runenv import ResolverSettings, default_cache_dir
from lockkeys._internal.sources.auth import Credentials
from lockkeys._internal.sources.fetch import Client, use_client
from lockkeys._internal.sources.index import list_index, parse_html_page, parse_json_page
from lockkeys._internal.sources.model import Source
from lockkeys._internal.sources.pagecache import PageCache
from lockkeys._internal.sources.release_files import list_files
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


def test_a_parsed_release_is_remembered_per_page_body(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A later lock of the same release from the same page body reads what was kept, not the
    page; another body, or a kept entry that does not read back, means parsing again."""
    import lockkeys._internal.sources.index as index_module

    def page(*versions: str) -> Reply:
        entries = [
            {
                "filename": f"foo-{v}-py3-none-any.whl",
                "url": f"/p/foo-{v}.whl",
                "hashes": {"sha256": SHA},
                "size": 7,
            }
            for v in versions
        ]
        body = json.dumps({"meta": {"api-version": "1.1"}, "files": entries}).encode()
        return Reply(
            200,
            [body],
            {
                "Content-Type": "application/vnd.pypi.simple.v1+json",
                "Cache-Control": "max-age=0",
                "ETag": f'"{len(versions)}"',
            },
        )

    transport = FakeTransport({PAGE: [page("1.0", "2.0"), page("1.0", "2.0"), page("1.0", "3.0")]})
    parsed: list[str] = []
    real_parse = index_module.parse_page

    def counting(data: bytes, *args: object, **kwargs: object) -> object:
        parsed.append(data.decode())
        return real_parse(data, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(index_module, "parse_page", counting)
    source = Source("s", url=INDEX)
    with use_client(_client(transport, tmp_path / "pages")):
        first = list_files(source, "foo", "1.0")
        assert len(parsed) == 1
        again = list_files(source, "foo", "1.0")  # same body (a new 200): not parsed again
        assert again == first and len(parsed) == 1
        assert [f.size for f in again] == [7] and again[0].sha256 == SHA
        changed = list_files(source, "foo", "1.0")  # another body: parsed again
        assert changed == first and len(parsed) == 2
    kept = [p for p in (tmp_path / "releases").rglob("*") if p.is_file()]
    assert len(kept) == 2
    for entry in kept:  # a damaged entry is ignored, never trusted
        entry.write_text('[["foo-1.0-py3-none-any.whl", "/x", -1, null, null, false, null]]')
    transport.add(PAGE, page("1.0", "3.0"))
    with use_client(_client(transport, tmp_path / "pages")):
        assert list_files(source, "foo", "1.0") == first
    assert len(parsed) == 3


@pytest.mark.parametrize("relative", [False, True])
def test_one_index_source_json_pages_pass_through_the_view_as_they_are(relative: bool) -> None:
    """With one index source, the view hands a JSON page over byte for byte when every file
    URL on it is absolute (what the resolver would read from the index itself); a page with
    a relative URL is rebuilt as HTML with absolute links, as for several sources."""
    url = "/p/foo-1.0-py3-none-any.whl" if relative else "https://files.example/foo-1.0.whl"
    document = {
        "meta": {"api-version": "1.1"},
        "files": [{"filename": "foo-1.0-py3-none-any.whl", "url": url, "hashes": {"sha256": SHA}}],
    }
    body = json.dumps(document).encode()
    json_type = "application/vnd.pypi.simple.v1+json"
    transport = FakeTransport({PAGE: Reply(200, [body], {"Content-Type": json_type})})
    source = Source("a", url=INDEX)
    with (
        use_client(Client(transport)),
        serve_view([source], {}, pass_through=True) as (
            view_url,
            view,
        ),
    ):
        recording = view.start_recording()
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(view_url + "foo/", timeout=10) as response:
            served, served_type = response.read(), response.headers["Content-Type"]
            assert response.headers["Cache-Control"] == "no-store"
    if relative:
        assert served_type.startswith("text/html")
        assert b'href="https://index.example/p/foo-1.0-py3-none-any.whl#sha256=' in served
    else:
        assert (served, served_type) == (body, json_type)
    # What the page was made from is recorded, for kept resolutions (resolve.memo).
    assert recording == {"foo": ((0, PAGE, hashlib.sha256(body).hexdigest()),)}
