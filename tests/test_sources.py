"""The sources layer: folder and index listings, page parsing, bounded fetches (rows 2, 3, 7, 15).

Servers run on 127.0.0.1 only: pypiserver for real index behaviour, and a tiny ``http.server``
thread for hostile behaviour (endless data, trickling, bogus headers, flaky answers).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from lockkeys._internal.sources.fetch import (
    NotFoundError,
    fetch_bytes,
    fetch_optional_text,
    fetch_to,
)
from lockkeys._internal.sources.index import (
    JSON_TYPE,
    PageError,
    list_index,
    parse_html_page,
    parse_json_page,
    project_url,
)
from lockkeys._internal.sources.release_files import RemoteFile, Source, list_files, signature_urls
from lockkeys.errors import InputError, SourceError, VerificationError
from tests.support.pypiserver import free_port

SHA_A = "a" * 64
SHA_B = "b" * 64
FAST = {"connect_timeout": 2.0, "read_timeout": 2.0, "total_timeout": 10.0, "backoff": 0.01}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- a tiny hostile HTTP server ----------------------------------------------------------------

Route = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class TinyServer:
    base: str
    routes: dict[str, Route] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    accept: dict[str, str] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes, **headers: str) -> None:
    handler.send_response(status)
    handler.send_header("Content-Length", str(len(body)))
    for key, value in headers.items():
        handler.send_header(key.replace("_", "-"), value)
    handler.end_headers()
    handler.wfile.write(body)


@pytest.fixture
def tiny() -> Iterator[TinyServer]:
    state = TinyServer(base="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            state.hits[path] = state.hits.get(path, 0) + 1
            state.accept[path] = self.headers.get("Accept", "")
            route = state.routes.get(path)
            try:
                if route is None:
                    _send(self, 404, b"not found")
                else:
                    route(self)
            except OSError:
                pass  # the client went away: expected for the hostile routes

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def endless(handler: BaseHTTPRequestHandler) -> None:
    """Never stops sending (bounded at 16 MiB, or until the client disconnects)."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/octet-stream")
    handler.end_headers()
    chunk = b"x" * 65536
    for _ in range(256):
        handler.wfile.write(chunk)


def trickle(handler: BaseHTTPRequestHandler) -> None:
    """One byte every 20 ms: each read is quick, the whole download is not (bounded at 10 s)."""
    handler.send_response(200)
    handler.send_header("Content-Length", "100000")
    handler.end_headers()
    for _ in range(500):
        handler.wfile.write(b"x")
        handler.wfile.flush()
        time.sleep(0.02)


def stall(handler: BaseHTTPRequestHandler) -> None:
    """Sends a byte, then nothing for 2 s."""
    handler.send_response(200)
    handler.send_header("Content-Length", "10")
    handler.end_headers()
    handler.wfile.write(b"x")
    handler.wfile.flush()
    time.sleep(2)


# --- model and facade --------------------------------------------------------------------------


def test_source_needs_exactly_one_location(tmp_path: Path) -> None:
    assert Source("pypi", url="https://pypi.org/simple/").kind == "index"
    assert Source("local", path=tmp_path).kind == "folder"
    with pytest.raises(InputError):
        Source("both", url="https://pypi.org/simple/", path=tmp_path)
    with pytest.raises(InputError):
        Source("neither")
    with pytest.raises(InputError, match="http"):
        Source("files", url="file:///srv/wheels")


def test_signature_url_is_beside_the_file() -> None:
    remote = RemoteFile("foo-1.0-py3-none-any.whl", "http://h/p/foo-1.0-py3-none-any.whl", 1, None)
    assert signature_urls(remote) == "http://h/p/foo-1.0-py3-none-any.whl.asc"


def test_project_url_normalizes_the_name() -> None:
    assert project_url("http://h/simple", "Foo.Bar_baz") == "http://h/simple/foo-bar-baz/"
    assert project_url("http://h/simple/", "foo") == "http://h/simple/foo/"


# --- folders -----------------------------------------------------------------------------------


def test_folder_lists_distributions_not_signatures(tmp_path: Path, fixture_data: Path) -> None:
    for wheel in (fixture_data / "public").glob("plat-*.whl"):
        shutil.copy(wheel, tmp_path / wheel.name)
        (tmp_path / f"{wheel.name}.asc").write_text("signature")
    (tmp_path / ".plat-1.0-py3-none-any.whl.part").write_bytes(b"partial")
    (tmp_path / "README.txt").write_text("not a distribution")
    (tmp_path / "plat-not-a-version.whl").write_bytes(b"")
    (tmp_path / "sub").mkdir()

    files = list_files(Source("local", path=tmp_path), "PLAT")
    assert [f.filename for f in files] == [
        "plat-1.0-py3-none-macosx_11_0_arm64.whl",
        "plat-1.0-py3-none-manylinux_2_17_x86_64.whl",
        "plat-1.0-py3-none-win_amd64.whl",
    ]
    for remote in files:
        assert remote.url.startswith("file:///")
        assert remote.size == (tmp_path / remote.filename).stat().st_size
    assert list_files(Source("local", path=tmp_path), "plat", "2.0") == []
    assert list_files(Source("local", path=tmp_path), "foo") == []


def test_folder_versions_compare_as_pep440(fixture_data: Path) -> None:
    private = Source("private", path=fixture_data / "private")
    assert list_files(private, "broken", "1.0") == []
    patched = list_files(private, "broken", "1.0+corp.1")
    assert [f.filename for f in patched] == ["broken-1.0+corp.1-py3-none-any.whl"]
    with pytest.raises(InputError, match="version"):
        list_files(private, "broken", "not a version")


def test_folder_file_fetches_with_caps(tmp_path: Path, fixture_data: Path) -> None:
    [remote] = list_files(Source("public", path=fixture_data / "public"), "foo", "1.0")
    original = fixture_data / "public" / remote.filename
    result = fetch_to(remote.url, tmp_path / "got.whl", max_size=1 << 20)
    assert result.path.read_bytes() == original.read_bytes()
    assert (result.size, result.sha256) == (original.stat().st_size, sha256(original))
    with pytest.raises(SourceError, match="more data than allowed"):
        fetch_to(remote.url, tmp_path / "small.whl", max_size=10)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["got.whl"]
    assert fetch_optional_text(signature_urls(remote).replace("foo-1.0", "nothing")) is None


def test_missing_folder_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"'gone'.*does not exist"):
        list_files(Source("gone", path=tmp_path / "nope"), "foo")


# --- pages -------------------------------------------------------------------------------------

HTML_PAGE = f"""<!DOCTYPE html>
<html><body>
<h1>Links for foo</h1>
<a href="../../packages/foo-1.0-py3-none-any.whl#sha256={SHA_A.upper()}"
   data-requires-python="&gt;=3.8">foo-1.0-py3-none-any.whl</a>
<a href="https://files.example/foo-1.1.tar.gz#md5=0123" data-yanked="">foo-1.1.tar.gz</a>
<a href="/p/foo-1.2-py3-none-any.whl" data-yanked="broken build">foo-1.2</a>
<a href="file:///etc/passwd">foo-9.whl</a>
<a href="../../packages/..%2F..%2Fevil-1.0-py3-none-any.whl">evil</a>
<a name="no-href">nothing</a>
</body></html>
""".encode()


def test_html_page_parsing() -> None:
    files = parse_html_page(HTML_PAGE, "http://127.0.0.1:1/simple/foo/")
    assert files == [
        RemoteFile(
            filename="foo-1.0-py3-none-any.whl",
            url="http://127.0.0.1:1/packages/foo-1.0-py3-none-any.whl",
            size=None,
            sha256=SHA_A,
            requires_python=">=3.8",
        ),
        RemoteFile(
            filename="foo-1.1.tar.gz",
            url="https://files.example/foo-1.1.tar.gz",
            size=None,
            sha256=None,
            yanked=True,
        ),
        RemoteFile(
            filename="foo-1.2-py3-none-any.whl",
            url="http://127.0.0.1:1/p/foo-1.2-py3-none-any.whl",
            size=None,
            sha256=None,
            yanked=True,
        ),
    ]


def test_html_base_href_is_honoured() -> None:
    page = b'<html><head><base href="http://mirror.test/dl/"></head><a href="x-1.0.tar.gz">x</a>'
    [remote] = parse_html_page(page, "http://127.0.0.1:1/simple/x/")
    assert remote.url == "http://mirror.test/dl/x-1.0.tar.gz"


def test_html_page_must_be_utf8() -> None:
    with pytest.raises(PageError, match="UTF-8"):
        parse_html_page(b"<a href='\xff'>", "http://h/simple/x/")


def _json_page(files: list[dict[str, object]], version: str = "1.1") -> bytes:
    return json.dumps({"meta": {"api-version": version}, "name": "foo", "files": files}).encode()


def test_json_page_parsing() -> None:
    page = _json_page(
        [
            {
                "filename": "foo-1.0-py3-none-any.whl",
                "url": "../../packages/foo-1.0-py3-none-any.whl",
                "hashes": {"sha256": SHA_B, "blake2b": "00"},
                "size": 1234,
                "requires-python": ">=3.9",
                "yanked": False,
            },
            {
                "filename": "foo-1.1.tar.gz",
                "url": "https://files.example/foo-1.1.tar.gz#sha256=" + SHA_A,
                "hashes": {},
                "yanked": "security issue",
            },
            {"filename": "foo-2.whl", "url": "file:///etc/passwd", "hashes": {}},
        ]
    )
    files = parse_json_page(page, "http://127.0.0.1:1/simple/foo/")
    assert files == [
        RemoteFile(
            filename="foo-1.0-py3-none-any.whl",
            url="http://127.0.0.1:1/packages/foo-1.0-py3-none-any.whl",
            size=1234,
            sha256=SHA_B,
            requires_python=">=3.9",
        ),
        RemoteFile(
            filename="foo-1.1.tar.gz",
            url="https://files.example/foo-1.1.tar.gz",
            size=None,
            sha256=SHA_A,
            yanked=True,
        ),
    ]


@pytest.mark.parametrize(
    ("page", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "not an object"),
        (_json_page([], version="2.0"), "unsupported simple API version"),
        (json.dumps({"meta": {"api-version": "1.0"}}).encode(), "no 'files' list"),
        (_json_page([{"filename": "x-1.0.tar.gz"}]), r"files\[0\] needs"),
        (_json_page([{"filename": "x.whl", "url": "x", "hashes": []}]), r"hashes is not"),
        (
            _json_page([{"filename": "x.whl", "url": "x", "hashes": {"sha256": "abc"}}]),
            "64 hex",
        ),
        (_json_page([{"filename": "x.whl", "url": "x", "size": -1}]), "size"),
        (_json_page([{"filename": "x.whl", "url": "x", "yanked": 1}]), "yanked"),
    ],
)
def test_json_page_garbage_is_refused(page: bytes, message: str) -> None:
    with pytest.raises(PageError, match=message):
        parse_json_page(page, "http://h/simple/x/")


# --- indexes over HTTP -------------------------------------------------------------------------


def test_index_prefers_json_and_falls_back_to_html(tiny: TinyServer) -> None:
    json_page = _json_page(
        [{"filename": "foo-1.0.tar.gz", "url": "/files/foo-1.0.tar.gz", "size": 7, "hashes": {}}]
    )

    def negotiating(handler: BaseHTTPRequestHandler) -> None:
        if JSON_TYPE in handler.headers.get("Accept", ""):
            _send(handler, 200, json_page, Content_Type=JSON_TYPE)
        else:
            _send(handler, 200, HTML_PAGE, Content_Type="text/html")

    tiny.routes["/json/simple/foo/"] = negotiating
    tiny.routes["/html/simple/foo/"] = lambda h: _send(h, 200, HTML_PAGE, Content_Type="text/html")

    [remote] = list_index(Source("j", url=tiny.url("/json/simple/")), "Foo")
    assert remote == RemoteFile("foo-1.0.tar.gz", tiny.url("/files/foo-1.0.tar.gz"), 7, None)
    assert tiny.accept["/json/simple/foo/"].startswith(JSON_TYPE)

    html = list_files(Source("h", url=tiny.url("/html/simple/")), "foo", "1.0")
    assert [f.filename for f in html] == ["foo-1.0-py3-none-any.whl"]
    assert html[0].url == tiny.url("/html/packages/foo-1.0-py3-none-any.whl")


def test_index_errors_name_the_source_and_url(tiny: TinyServer) -> None:
    tiny.routes["/bad/simple/foo/"] = lambda h: _send(
        h, 200, b"{garbage", Content_Type="application/json"
    )
    tiny.routes["/down/simple/foo/"] = lambda h: _send(h, 500, b"oops")
    with pytest.raises(SourceError) as bad:
        list_index(Source("corp", url=tiny.url("/bad/simple/")), "foo")
    assert "'corp'" in bad.value.message
    assert bad.value.file == tiny.url("/bad/simple/foo/")
    with pytest.raises(SourceError) as down:
        list_index(Source("corp", url=tiny.url("/down/simple/")), "foo", retries=1)
    assert "'corp'" in down.value.message
    assert down.value.file == tiny.url("/down/simple/foo/")
    assert tiny.hits["/down/simple/foo/"] == 2
    assert list_index(Source("corp", url=tiny.url("/absent/simple/")), "foo") == []


def test_real_pypiserver_index(
    pypiserver_factory: Callable[[Path], str], fixture_data: Path, tmp_path: Path
) -> None:
    public = Source("public", url=pypiserver_factory(fixture_data / "public"))
    private = Source("private", url=pypiserver_factory(fixture_data / "private"))

    bars = list_files(public, "bar")
    assert [f.filename for f in bars] == ["bar-1.0-py3-none-any.whl", "bar-1.1-py3-none-any.whl"]
    assert [f.filename for f in list_files(public, "BAR", "1.1")] == ["bar-1.1-py3-none-any.whl"]
    for remote in bars:
        assert remote.url.startswith("http://127.0.0.1:")
        assert remote.sha256 == sha256(fixture_data / "public" / remote.filename)

    assert len(list_files(public, "plat", "1.0")) == 3
    assert list_files(public, "no-such-project") == []
    # Each source answers for itself: 1.0+corp.1 only privately, 1.0 only publicly.
    assert [f.filename for f in list_files(public, "broken")] == ["broken-1.0-py3-none-any.whl"]
    assert list_files(private, "broken", "1.0") == []
    [patched] = list_files(private, "broken", "1.0+corp.1")

    result = fetch_to(
        patched.url, tmp_path / patched.filename, max_size=1 << 20, expected_sha256=patched.sha256
    )
    assert result.path.read_bytes() == (fixture_data / "private" / patched.filename).read_bytes()


def test_signature_beside_a_file_on_pypiserver(
    pypiserver_factory: Callable[[Path], str], fixture_data: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "index"
    folder.mkdir()
    for name in ("util-2.0-py3-none-any.whl", "util-2.1-py3-none-any.whl"):
        shutil.copy(fixture_data / "public" / name, folder / name)
    (folder / "util-2.1-py3-none-any.whl.asc").write_bytes(b"-----BEGIN PGP SIGNATURE-----\n")
    index = Source("idx", url=pypiserver_factory(folder))
    old, new = list_files(index, "util")
    assert fetch_optional_text(signature_urls(old)) is None
    assert fetch_optional_text(signature_urls(new)) == b"-----BEGIN PGP SIGNATURE-----\n"


# --- bounded fetches ---------------------------------------------------------------------------


def test_endless_data_is_cut_off(tiny: TinyServer, tmp_path: Path) -> None:
    tiny.routes["/endless"] = endless
    with pytest.raises(SourceError, match="more data than allowed") as caught:
        fetch_to(tiny.url("/endless"), tmp_path / "x.whl", max_size=200_000, **FAST)
    assert caught.value.exit_code == 3
    assert list(tmp_path.iterdir()) == []
    assert tiny.hits["/endless"] == 1  # a size violation is not retried


def test_declared_oversize_is_refused_before_reading(tiny: TinyServer, tmp_path: Path) -> None:
    tiny.routes["/huge"] = lambda h: _send(h, 200, b"x" * 1000)
    with pytest.raises(SourceError, match="more data than allowed"):
        fetch_to(tiny.url("/huge"), tmp_path / "x.whl", max_size=999, **FAST)
    with pytest.raises(SourceError, match="more data than allowed"):
        fetch_bytes(tiny.url("/huge"), max_size=10, **FAST)
    assert list(tmp_path.iterdir()) == []


def test_trickling_server_hits_the_total_deadline(tiny: TinyServer, tmp_path: Path) -> None:
    tiny.routes["/trickle"] = trickle
    with pytest.raises(SourceError, match="did not finish within"):
        fetch_to(
            tiny.url("/trickle"),
            tmp_path / "x.whl",
            max_size=None,
            connect_timeout=2,
            read_timeout=2,
            total_timeout=0.5,
        )
    assert list(tmp_path.iterdir()) == []


def test_stalled_server_hits_the_read_timeout(tiny: TinyServer, tmp_path: Path) -> None:
    tiny.routes["/stall"] = stall
    with pytest.raises(SourceError) as caught:
        fetch_to(
            tiny.url("/stall"),
            tmp_path / "x.whl",
            max_size=None,
            read_timeout=0.2,
            total_timeout=10,
            retries=0,
        )
    assert any("no data for 0.2 s" in line for line in caught.value.details)
    assert list(tmp_path.iterdir()) == []


def test_content_disposition_is_ignored(tiny: TinyServer, tmp_path: Path) -> None:
    tiny.routes["/dl"] = lambda h: _send(
        h, 200, b"payload", Content_Disposition='attachment; filename="../../evil.whl"'
    )
    dest_dir = tmp_path / "a" / "b"
    result = fetch_to(tiny.url("/dl"), dest_dir / "chosen.whl", max_size=100)
    assert result.path == dest_dir / "chosen.whl"
    assert result.path.read_bytes() == b"payload"
    assert result.sha256 == hashlib.sha256(b"payload").hexdigest()
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["chosen.whl"]


def test_transient_errors_are_retried(tiny: TinyServer, tmp_path: Path) -> None:
    def flaky(handler: BaseHTTPRequestHandler) -> None:
        if tiny.hits["/flaky"] == 1:
            _send(handler, 503, b"busy")
        else:
            _send(handler, 200, b"finally")

    tiny.routes["/flaky"] = flaky
    tiny.routes["/down"] = lambda h: _send(h, 502, b"bad gateway")
    result = fetch_to(tiny.url("/flaky"), tmp_path / "f", max_size=100, **FAST)
    assert result.path.read_bytes() == b"finally"
    assert tiny.hits["/flaky"] == 2

    with pytest.raises(SourceError, match="after 3 attempt") as caught:
        fetch_to(tiny.url("/down"), tmp_path / "d", max_size=100, retries=2, **FAST)
    assert len(caught.value.details) == 3
    assert tiny.hits["/down"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_truncated_body_is_an_error(tiny: TinyServer, tmp_path: Path) -> None:
    def truncated(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "100")
        handler.end_headers()
        handler.wfile.write(b"short")

    tiny.routes["/short"] = truncated
    with pytest.raises(SourceError, match="after 2 attempt") as caught:
        fetch_to(tiny.url("/short"), tmp_path / "s", max_size=1000, retries=1, **FAST)
    assert "truncated: 5 of 100 bytes" in caught.value.diagnostics()
    assert list(tmp_path.iterdir()) == []


def test_not_found_and_client_errors_are_not_retried(tiny: TinyServer, tmp_path: Path) -> None:
    tiny.routes["/forbidden"] = lambda h: _send(h, 403, b"no")
    with pytest.raises(NotFoundError):
        fetch_to(tiny.url("/missing.whl"), tmp_path / "m", max_size=100, **FAST)
    with pytest.raises(SourceError, match="HTTP 403"):
        fetch_to(tiny.url("/forbidden"), tmp_path / "m", max_size=100, **FAST)
    assert tiny.hits == {"/missing.whl": 1, "/forbidden": 1}
    assert list(tmp_path.iterdir()) == []


def test_hash_mismatch_is_a_verification_error(tiny: TinyServer, tmp_path: Path) -> None:
    tiny.routes["/dl"] = lambda h: _send(h, 200, b"tampered")
    with pytest.raises(VerificationError) as caught:
        fetch_to(tiny.url("/dl"), tmp_path / "x.whl", max_size=100, expected_sha256=SHA_A)
    assert caught.value.expected == SHA_A
    assert caught.value.found == hashlib.sha256(b"tampered").hexdigest()
    assert list(tmp_path.iterdir()) == []


def test_optional_signature_fetch(tiny: TinyServer, tmp_path: Path) -> None:
    tiny.routes["/f.whl.asc"] = lambda h: _send(h, 200, b"sig", Content_Type="text/plain")
    tiny.routes["/big.asc"] = lambda h: _send(h, 200, b"s" * 100)
    tiny.routes["/err.asc"] = lambda h: _send(h, 403, b"no")
    assert fetch_optional_text(tiny.url("/f.whl.asc")) == b"sig"
    assert fetch_optional_text(tiny.url("/none.whl.asc")) is None
    with pytest.raises(SourceError, match="more data"):
        fetch_optional_text(tiny.url("/big.asc"), max_size=10)
    with pytest.raises(SourceError, match="HTTP 403"):
        fetch_optional_text(tiny.url("/err.asc"))
    assert fetch_optional_text((tmp_path / "absent.asc").as_uri()) is None


def test_unreachable_and_unsupported_urls(tmp_path: Path) -> None:
    port = free_port()  # nothing listens here
    with pytest.raises(SourceError, match="after 2 attempt") as caught:
        fetch_to(f"http://127.0.0.1:{port}/x", tmp_path / "x", max_size=10, retries=1, **FAST)
    assert "cannot connect" in caught.value.diagnostics()
    with pytest.raises(SourceError, match="unsupported URL scheme"):
        fetch_to("ftp://127.0.0.1/x.whl", tmp_path / "x", max_size=10)
    assert list(tmp_path.iterdir()) == []
