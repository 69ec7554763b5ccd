"""lockkeys' HTTP rules on the in-memory transport: caps, deadlines, redirects, retries with
Retry-After, credentials and their redaction, TLS and proxy failures. No sockets."""

from __future__ import annotations

import base64
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from lockkeys._internal.redact import redact, redact_url, register_secret, strip_userinfo
from lockkeys._internal.sources.auth import AuthRegistry, SourceAuth
from lockkeys._internal.sources.fetch import (
    Client,
    NotFoundError,
    fetch_bytes,
    fetch_optional_text,
    fetch_to,
    head_size,
    retry_after_seconds,
    use_client,
)
from lockkeys._internal.sources.transport import (
    ConnectFailed,
    ConnectionBroken,
    ProxyFailed,
    TLSFailed,
    proxy_for,
)
from lockkeys.errors import SourceError, VerificationError
from tests.support.fake_transport import FakeTransport, Pause, Reply

URL = "https://index.example/packages/a.whl"
FAST = {"connect_timeout": 2.0, "read_timeout": 2.0, "total_timeout": 10.0, "backoff": 0.5}


@pytest.fixture
def fake() -> Iterator[FakeTransport]:
    transport = FakeTransport()
    client = Client(
        transport,
        AuthRegistry(environ={}),
        sleep=transport.clock.sleep,
        clock=transport.clock.monotonic,
        wall_clock=transport.clock.time,
    )
    with use_client(client):
        yield transport


def client_with(
    transport: FakeTransport, sources: list[SourceAuth], environ: dict[str, str]
) -> Client:
    return Client(
        transport,
        AuthRegistry(sources, environ=environ),
        sleep=transport.clock.sleep,
        clock=transport.clock.monotonic,
        wall_clock=transport.clock.time,
    )


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# --- caps --------------------------------------------------------------------------------------


def test_declared_oversize_is_refused_before_any_read(fake: FakeTransport, tmp_path: Path) -> None:
    fake.add(URL, Reply(200, [b"x" * 10], {"Content-Length": "5000"}))
    with pytest.raises(SourceError, match="more data than allowed: over 1000 bytes"):
        fetch_to(URL, tmp_path / "a.whl", max_size=1000, **FAST)
    assert fake.responses[0].reads == 0
    assert fake.responses[0].closed
    assert not list(tmp_path.iterdir())  # no partial file left


def test_counted_oversize_is_cut_off(fake: FakeTransport, tmp_path: Path) -> None:
    fake.add(URL, Reply(200, [b"x" * 600] * 100))  # no Content-Length: counted
    with pytest.raises(SourceError, match="over 1000 bytes"):
        fetch_to(URL, tmp_path / "a.whl", max_size=1000, **FAST)
    assert fake.responses[0].reads <= 2
    assert fake.hits(URL) == 1  # a cap is not retried


def test_the_caller_names_the_file_not_the_server(fake: FakeTransport, tmp_path: Path) -> None:
    fake.add(
        URL,
        Reply(200, [b"data"], {"Content-Disposition": 'attachment; filename="../../evil.sh"'}),
    )
    result = fetch_to(URL, tmp_path / "chosen.whl", max_size=100, **FAST)
    assert result.path == tmp_path / "chosen.whl"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chosen.whl"]


def test_hash_mismatch_is_a_refusal(fake: FakeTransport, tmp_path: Path) -> None:
    fake.add(URL, Reply(200, [b"data"]))
    with pytest.raises(VerificationError, match="sha256"):
        fetch_to(URL, tmp_path / "a.whl", max_size=100, expected_sha256="0" * 64, **FAST)


# --- deadlines ---------------------------------------------------------------------------------


def test_a_silent_server_hits_the_per_read_timeout(fake: FakeTransport, tmp_path: Path) -> None:
    fake.add(URL, Reply(200, [b"x", Pause(60), b"y"], {"Content-Length": "2"}))
    with pytest.raises(SourceError, match="download failed after") as caught:
        fetch_to(URL, tmp_path / "a.whl", max_size=100, retries=1, **FAST)
    assert "no data for 2 s after 1 bytes" in caught.value.diagnostics()


def test_a_trickling_server_hits_the_total_deadline(fake: FakeTransport, tmp_path: Path) -> None:
    # Each read is quick (1 s < 2 s read timeout), the whole transfer is not.
    body: list[bytes | Pause] = []
    for _ in range(100):
        body += [Pause(1), b"x"]
    fake.add(URL, Reply(200, body, {"Content-Length": "100"}))
    with pytest.raises(SourceError, match="did not finish within 10 s"):
        fetch_to(URL, tmp_path / "a.whl", max_size=1000, **FAST)
    assert fake.clock.now - 1000.0 <= 11


# --- redirects ---------------------------------------------------------------------------------


def test_relative_redirect_is_followed_and_reported(fake: FakeTransport) -> None:
    fake.add(URL, Reply(302, headers={"Location": "/moved/a.whl"}))
    fake.add("https://index.example/moved/a.whl", Reply(200, [b"ok"]))
    got = fetch_bytes(URL, max_size=100, **FAST)
    assert got.data == b"ok"
    assert got.url == "https://index.example/moved/a.whl"


@pytest.mark.parametrize(
    "target", ["file:///etc/passwd", "ftp://index.example/a.whl", "data:,hello"]
)
def test_redirects_only_to_http_and_https(fake: FakeTransport, target: str) -> None:
    fake.add(URL, Reply(301, headers={"Location": target}))
    with pytest.raises(SourceError, match="redirect to a non-HTTP URL refused"):
        fetch_bytes(URL, max_size=100, **FAST)
    assert len(fake.requests) == 1


def test_redirect_loops_end(fake: FakeTransport) -> None:
    fake.add(URL, Reply(302, headers={"Location": URL}))
    with pytest.raises(SourceError, match="more than 10 redirects"):
        fetch_bytes(URL, max_size=100, **FAST)
    assert len(fake.requests) == 11


def test_credentials_never_follow_a_redirect_to_another_server(tmp_path: Path) -> None:
    transport = FakeTransport()
    source = SourceAuth("private", "https://index.example/simple/", password_env="PW")
    client = client_with(transport, [source], {"PW": "s3cret-pw"})
    transport.add(URL, Reply(302, headers={"Location": "https://cdn.example/a.whl"}))
    transport.add("https://cdn.example/a.whl", Reply(200, [b"ok"]))
    with use_client(client):
        fetch_to(URL, tmp_path / "a.whl", max_size=100, **FAST)
    first, second = transport.requests
    assert first.headers["Authorization"] == basic("", "s3cret-pw")
    assert "Authorization" not in second.headers


# --- retries -----------------------------------------------------------------------------------


def test_5xx_and_connection_failures_are_retried_with_backoff(
    fake: FakeTransport, tmp_path: Path
) -> None:
    fake.add(URL, [ConnectFailed("refused"), Reply(503), Reply(200, [b"ok"])])
    result = fetch_to(URL, tmp_path / "a.whl", max_size=100, **FAST)
    assert result.size == 2
    assert fake.clock.sleeps == [0.5, 1.0]  # exponential


def test_retry_after_seconds_is_honoured(fake: FakeTransport) -> None:
    fake.add(URL, [Reply(429, headers={"Retry-After": "3"}), Reply(200, [b"ok"])])
    assert fetch_bytes(URL, max_size=100, **FAST).data == b"ok"
    assert fake.clock.sleeps == [3.0]


def test_retry_after_http_date_is_honoured(fake: FakeTransport) -> None:
    when = "Tue, 14 Nov 2023 22:13:24 GMT"  # 4 s after the fake wall clock's start
    fake.add(URL, [Reply(503, headers={"Retry-After": when}), Reply(200, [b"ok"])])
    assert fetch_bytes(URL, max_size=100, **FAST).data == b"ok"
    assert fake.clock.sleeps == [pytest.approx(4.0)]


def test_retry_after_past_the_deadline_stops_at_once(fake: FakeTransport) -> None:
    fake.add(URL, Reply(503, headers={"Retry-After": "3600"}))
    with pytest.raises(SourceError, match="after 1 attempt") as caught:
        fetch_bytes(URL, max_size=100, **FAST)
    assert "asked to retry after 3600 s, past the deadline" in caught.value.diagnostics()
    assert fake.clock.sleeps == []
    assert caught.value.exit_code == 3


def test_retry_after_parsing() -> None:
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("Tue, 14 Nov 2023 22:13:20 GMT", now=1_699_999_990.0) == 10.0


def test_not_found_and_client_errors_are_not_retried(fake: FakeTransport) -> None:
    fake.add(URL, Reply(404))
    with pytest.raises(NotFoundError):
        fetch_bytes(URL, max_size=100, **FAST)
    assert fetch_optional_text(URL + ".asc") is None
    fake.add(URL + "x", Reply(400))
    with pytest.raises(SourceError, match="HTTP 400"):
        fetch_bytes(URL + "x", max_size=100, **FAST)
    assert fake.hits(URL + "x") == 1


def test_broken_connection_mid_body_is_retried(fake: FakeTransport, tmp_path: Path) -> None:
    fake.add(URL, [Reply(200, [b"ab"], {"Content-Length": "4"}), Reply(200, [b"abcd"])])
    result = fetch_to(URL, tmp_path / "a.whl", max_size=100, **FAST)
    assert result.size == 4 and (tmp_path / "a.whl").read_bytes() == b"abcd"


def test_head_size_reads_content_length(fake: FakeTransport) -> None:
    fake.add(URL, Reply(200, headers={"Content-Length": "1234"}))
    assert head_size(URL) == 1234
    assert fake.requests[-1].method == "HEAD"
    fake.add(URL, Reply(500))
    assert head_size(URL, timeout=1) is None


# --- failures people can act on --------------------------------------------------------------


def test_tls_failure_names_the_source_and_points_to_ca_bundle(tmp_path: Path) -> None:
    transport = FakeTransport()
    source = SourceAuth("corp", "https://index.example/simple/")
    transport.add(URL, TLSFailed("unable to get local issuer certificate"))
    client = client_with(transport, [source], {})
    with use_client(client), pytest.raises(SourceError) as caught:
        fetch_bytes(URL, max_size=100, **FAST)
    text = caught.value.diagnostics()
    assert "source 'corp': TLS certificate check failed: unable to get local issuer" in text
    assert "ca-bundle" in text
    assert caught.value.exit_code == 3
    assert len(transport.requests) == 1  # not retried


def test_proxy_refusal_names_the_proxy(fake: FakeTransport) -> None:
    fake.add(
        URL,
        ProxyFailed(
            "Tunnel connection failed: 407 Proxy Authentication Required",
            proxy="http://proxy.corp:3128",
            status=407,
        ),
    )
    with pytest.raises(SourceError, match=r"the proxy http://proxy.corp:3128 refused") as caught:
        fetch_bytes(URL, max_size=100, **FAST)
    assert caught.value.exit_code == 3
    assert "HTTPS_PROXY" in caught.value.diagnostics()


def test_connection_failures_end_in_a_source_error(fake: FakeTransport) -> None:
    fake.add(URL, ConnectionBroken("reset by peer"))
    with pytest.raises(SourceError, match="after 3 attempt") as caught:
        fetch_bytes(URL, max_size=100, **FAST)
    assert caught.value.exit_code == 3


# --- credentials -------------------------------------------------------------------------------

INDEX = "https://index.example/simple/"


def test_credentials_from_the_source_url_go_to_its_server_only() -> None:
    transport = FakeTransport({INDEX + "foo/": Reply(200, [b"page"])})
    source = SourceAuth("p", INDEX, url_credentials=("alice", "url-secret-1"))
    with use_client(client_with(transport, [source], {})):
        fetch_bytes(INDEX + "foo/", max_size=100, **FAST)
        fetch_optional_text("https://elsewhere.example/x.asc")
    assert transport.requests[0].headers["Authorization"] == basic("alice", "url-secret-1")
    assert transport.requests[0].url == INDEX + "foo/"  # never in the URL
    assert "Authorization" not in transport.requests[1].headers


def test_netrc_then_environment_in_that_order(tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine index.example login bob password netrc-secret-2\n")
    netrc.chmod(0o600)
    source = SourceAuth("p", INDEX, username_env="U", password_env="P")
    env = {"NETRC": str(netrc), "U": "carol", "P": "env-secret-3"}
    transport = FakeTransport({INDEX: Reply(200)})
    with use_client(client_with(transport, [source], env)):
        fetch_bytes(INDEX, max_size=100, **FAST)
    assert transport.requests[0].headers["Authorization"] == basic("bob", "netrc-secret-2")
    # Without a netrc entry, the environment's.
    transport = FakeTransport({INDEX: Reply(200)})
    with use_client(client_with(transport, [source], {**env, "NETRC": str(tmp_path / "none")})):
        fetch_bytes(INDEX, max_size=100, **FAST)
    assert transport.requests[0].headers["Authorization"] == basic("carol", "env-secret-3")


def test_token_env_is_the_password_of_token_user() -> None:
    source = SourceAuth("p", INDEX, token_env="TOK", mirrors=("https://mirror.example/simple/",))
    transport = FakeTransport({INDEX: Reply(200), "https://mirror.example/simple/x": Reply(200)})
    with use_client(client_with(transport, [source], {"TOK": "tok-secret-4"})):
        fetch_bytes(INDEX, max_size=100, **FAST)
        fetch_bytes("https://mirror.example/simple/x", max_size=100, **FAST)
    assert len(transport.requests) == 2  # the index and its mirror, each asked once
    for request in transport.requests:
        assert request.headers["Authorization"] == basic("__token__", "tok-secret-4")


def test_keyring_is_asked_only_after_a_401(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple[str, str | None]] = []

    def get_credential(service: str, user: str | None) -> object:
        asked.append((service, user))
        return types.SimpleNamespace(username="dave", password="keyring-secret-5")

    fake_keyring = types.SimpleNamespace(get_credential=get_credential)
    monkeypatch.setitem(sys.modules, "keyring", fake_keyring)
    monkeypatch.setattr("lockkeys._internal.sources.auth.keyring_installed", lambda: True)
    source = SourceAuth("p", INDEX)
    transport = FakeTransport({INDEX: [Reply(401), Reply(200, [b"ok"])]})
    with use_client(client_with(transport, [source], {})):
        assert fetch_bytes(INDEX, max_size=100, **FAST).data == b"ok"
    first, second = transport.requests
    assert "Authorization" not in first.headers
    assert second.headers["Authorization"] == basic("dave", "keyring-secret-5")
    assert asked == [(INDEX, None)]


def test_401_names_source_and_user_never_the_secret() -> None:
    source = SourceAuth("private", INDEX, username_env="U", password_env="P")
    transport = FakeTransport({INDEX + "foo/": Reply(401)})
    client = client_with(transport, [source], {"U": "erin", "P": "wrong-secret-6"})
    with use_client(client), pytest.raises(SourceError) as caught:
        fetch_bytes(INDEX + "foo/", max_size=100, **FAST)
    error = caught.value
    text = error.diagnostics() + str(error.to_json())
    assert "source 'private' refused user 'erin' (HTTP 401 Unauthorized)" in text
    assert "environment (U, P)" in text
    assert "password-env = P (set)" in text and "keyring" in text
    assert "wrong-secret-6" not in text
    assert error.exit_code == 3
    assert len(transport.requests) == 1  # not retried


def test_401_without_any_credentials_says_where_to_put_them() -> None:
    transport = FakeTransport({INDEX: Reply(403)})
    client = client_with(transport, [SourceAuth("private", INDEX)], {})
    with use_client(client), pytest.raises(SourceError, match="asks for credentials") as caught:
        fetch_bytes(INDEX, max_size=100, **FAST)
    assert "netrc" in caught.value.diagnostics()


# --- redaction and proxies ---------------------------------------------------------------------


def test_one_redaction_function() -> None:
    assert redact_url("https://u:p4ss@h.example/simple/") == "https://u:****@h.example/simple/"
    assert redact_url("https://h.example/simple/") == "https://h.example/simple/"
    assert strip_userinfo("https://u:p@h.example:8443/s/") == "https://h.example:8443/s/"
    register_secret("registered-secret-7")
    assert redact("pip said: token registered-secret-7 rejected") == "pip said: token **** rejected"
    error = SourceError("boom registered-secret-7", file="https://u:registered-secret-7@h/")
    assert "registered-secret-7" not in error.diagnostics() + str(error.to_json())


def test_proxies_come_from_the_environment() -> None:
    env = {"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "localhost,.corp.example,h:8080"}
    assert proxy_for("https://pypi.org/simple/", env) == "http://proxy:3128"
    assert proxy_for("http://pypi.org/simple/", env) is None  # HTTP_PROXY not set
    assert proxy_for("https://index.corp.example/simple/", env) is None
    assert proxy_for("https://localhost/simple/", env) is None
    assert proxy_for("https://h:8080/", env) is None
    assert proxy_for("https://h:9090/", env) == "http://proxy:3128"
    assert proxy_for("https://x/", {"https_proxy": "proxy:1", "no_proxy": "*"}) is None
    assert proxy_for("https://x/", {"ALL_PROXY": "proxy:1"}) == "http://proxy:1"


def test_file_urls_are_capped_too(fake: FakeTransport, tmp_path: Path) -> None:
    big = tmp_path / "big.whl"
    big.write_bytes(b"x" * 5000)
    with pytest.raises(SourceError, match="over 100 bytes"):
        fetch_to(big.as_uri(), tmp_path / "out.whl", max_size=100, **FAST)
    assert fake.requests == []
