"""Issue 19, rule 1 and the credential items of rule 5: a lock never names a secret, and
credentials go only to the exact origin (scheme, host, port) they belong to; a token given as
the URL's user name is never printed; a proxy's 407 names the proxy and how to give it
credentials.

Real servers on 127.0.0.1 record the Authorization header of every request; ``lockkeys``
runs as a subprocess with real uv where a lock is made.
"""

from __future__ import annotations

import base64
import contextlib
import html
import http.server
import os
import secrets
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pytest
import tomli_w
from packaging.utils import canonicalize_name, parse_wheel_filename

from lockkeys._internal.redact import redact
from lockkeys._internal.sources.auth import AuthRegistry, SourceAuth
from lockkeys._internal.sources.fetch import Client, fetch_bytes, fetch_to, use_client
from lockkeys._internal.sources.urllib3_transport import Urllib3Transport
from lockkeys.errors import InputError, SourceError
from tests.support.fake_transport import FakeTransport, Reply
from tests.support.https_index import serve_connect_proxy

HOST = "127.0.0.1"
FAST = {"connect_timeout": 5.0, "read_timeout": 5.0, "total_timeout": 20.0, "retries": 0}


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# --- a recording index on 127.0.0.1 -------------------------------------------------------------


@dataclass
class Recorder:
    """A PEP 503 index over a folder that records each request's Authorization header, can
    require one, and can redirect paths elsewhere."""

    folder: Path | None = None
    require: str | None = None  # the Authorization header it accepts (else 401)
    redirects: dict[str, str] = field(default_factory=dict)
    seen: list[tuple[str, str | None]] = field(default_factory=list)
    base: str = ""

    def authorizations(self) -> list[str]:
        return [a for _, a in self.seen if a is not None]


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: object) -> None:
        return None

    def do_GET(self) -> None:
        state = self.server.state
        path = urlsplit(self.path).path
        state.seen.append((path, self.headers.get("Authorization")))
        if state.require is not None and self.headers.get("Authorization") != state.require:
            self._answer(401, b"", {"WWW-Authenticate": 'Basic realm="test"'})
        elif path in state.redirects:
            self._answer(302, b"", {"Location": state.redirects[path]})
        else:
            self._answer(*self._from_folder(path))

    do_HEAD = do_GET

    def _from_folder(self, path: str) -> tuple[int, bytes, dict[str, str]]:
        folder = self.server.state.folder
        if folder is not None and path.startswith("/simple/"):
            wanted = canonicalize_name(path[len("/simple/") :].strip("/"))
            links = [
                f'<a href="/files/{quote(p.name)}">{html.escape(p.name)}</a><br>'
                for p in sorted(folder.glob("*.whl"))
                if parse_wheel_filename(p.name)[0] == wanted
            ]
            if links:
                page = "<!DOCTYPE html><html><body>" + "\n".join(links) + "</body></html>"
                return 200, page.encode(), {"Content-Type": "text/html"}
        if folder is not None and path.startswith("/files/"):
            target = folder / unquote(path[len("/files/") :])
            if target.is_file():
                return 200, target.read_bytes(), {"Content-Type": "application/octet-stream"}
        return 404, b"not found\n", {"Content-Type": "text/plain"}

    def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    state: Recorder


@contextlib.contextmanager
def recorder(folder: Path | None = None, **options: object) -> Iterator[Recorder]:
    state = Recorder(folder=folder, **options)  # type: ignore[arg-type]
    httpd = _Server((HOST, 0), _Handler)
    httpd.state = state
    state.base = f"http://{HOST}:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


# --- running lockkeys -----------------------------------------------------------------------


def clean_env(tmp: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(("PIP_", "UV_", "NETRC", "LOCKKEYS_INDEX_"))
        and k.upper() not in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")
    }
    env["NETRC"] = str(tmp / "no-netrc")
    env["LOCKKEYS_CACHE_DIR"] = str(tmp / "cache")
    return env


def lockkeys(
    root: Path, env: dict[str, str], *args: str, expect: int = 0
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "lockkeys", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == expect, (
        f"lockkeys {' '.join(args)} exited {done.returncode}, expected {expect}\n"
        + done.stdout
        + done.stderr
    )
    return done


def config_text(url: str, extra: str = "") -> str:
    return (
        'requirements = ["requirements.in"]\nresolver = "uv"\n\n'
        f'[[sources]]\nname = "corp"\nurl = "{url}"\n' + extra
    )


def project(tmp: Path, url: str, extra: str = "") -> Path:
    root = tmp / "project"
    root.mkdir()
    (root / "requirements.in").write_text("foo\n")
    (root / "lockkeys.toml").write_text(config_text(url, extra))
    return root


def edit_lock_source(root: Path, **keys: str) -> None:
    path = root / "pylock.toml"
    doc = tomllib.loads(path.read_text())
    doc["tool"]["lockkeys"]["sources"][0].update(keys)
    path.write_text(tomli_w.dumps(doc, multiline_strings=True))


# --- rule 1: a lock never names a secret ----------------------------------------------------------


def test_rule1_lock_naming_token_env_never_reads_that_secret(
    tmp_path: Path, fixture_data: Path
) -> None:
    """A lock edit ``token-env = "AWS_SECRET_ACCESS_KEY"``: the index never receives it; the
    deploy warns that the key is ignored, `lock --check` fails, `lock` drops the key."""
    secret = "aws-" + secrets.token_hex(16)
    with recorder(fixture_data / "public") as index:
        root = project(tmp_path, f"{index.base}/simple/")
        env = clean_env(tmp_path)
        lockkeys(root, env, "lock")
        edit_lock_source(root, **{"token-env": "AWS_SECRET_ACCESS_KEY"})
        env["AWS_SECRET_ACCESS_KEY"] = secret
        env["LOCKKEYS_CACHE_DIR"] = str(tmp_path / "deploy-cache")  # fetch from the index
        index.seen.clear()
        done = lockkeys(root, env, "download", "--dest", str(tmp_path / "wh"), "--no-cache")
        assert (tmp_path / "wh" / "foo-1.0-py3-none-any.whl").is_file()
        assert any(path.startswith("/files/") for path, _ in index.seen)
        assert index.authorizations() == [], "the lock chose a secret that was sent"
        assert "names credential variables (token-env = 'AWS_SECRET_ACCESS_KEY')" in done.stderr
        assert "they are ignored" in done.stderr and "LOCKKEYS_INDEX_<TAG>_URL" in done.stderr
        assert done.stderr.count("names credential variables") == 1  # one warning per run
        checked = lockkeys(root, env, "lock", "--check", expect=1)
        assert "name credential variables" in checked.stdout + checked.stderr
        lockkeys(root, env, "lock")
    source = tomllib.loads((root / "pylock.toml").read_text())["tool"]["lockkeys"]["sources"][0]
    assert source == {"name": "corp", "url": f"{index.base}/simple/"}


def test_rule1_deploy_host_gives_credentials_by_origin_only(
    tmp_path: Path, fixture_data: Path
) -> None:
    """Lock-time `username-env`/`password-env` stay on the locking machine; the deploy host
    gives its own with LOCKKEYS_INDEX_<TAG>_*, sent to that exact origin only."""
    password = "pw-" + secrets.token_hex(12)
    with (
        recorder(fixture_data / "public", require=basic("ci", password)) as index,
        recorder() as elsewhere,
    ):
        extra = 'username-env = "LOCK_USER"\npassword-env = "LOCK_PASSWORD"\n'
        root = project(tmp_path, f"{index.base}/simple/", extra)
        env = clean_env(tmp_path)
        lockkeys(root, {**env, "LOCK_USER": "ci", "LOCK_PASSWORD": password}, "lock")
        text = (root / "pylock.toml").read_text()
        assert "LOCK_USER" not in text and "LOCK_PASSWORD" not in text and "-env" not in text
        deploy = {**env, "LOCK_USER": "ci", "LOCK_PASSWORD": password}
        deploy["LOCKKEYS_CACHE_DIR"] = str(tmp_path / "deploy-cache")
        # The lock-time variables mean nothing on a deploy host: 401, and how to give them.
        refused = lockkeys(root, deploy, "verify", "--no-cache", expect=3)
        assert "source 'corp' asks for credentials" in refused.stderr
        assert "LOCKKEYS_INDEX_<TAG>_URL=http://127.0.0.1:" in refused.stderr
        assert password not in refused.stdout + refused.stderr
        # The deploy host's own, by origin; another origin's tag is never sent here.
        deploy.update(
            LOCKKEYS_INDEX_CORP_URL=index.base,
            LOCKKEYS_INDEX_CORP_USERNAME="ci",
            LOCKKEYS_INDEX_CORP_PASSWORD=password,
            LOCKKEYS_INDEX_OTHER_URL=elsewhere.base,
            LOCKKEYS_INDEX_OTHER_TOKEN="other-" + secrets.token_hex(8),
        )
        index.seen.clear()
        lockkeys(root, deploy, "verify", "--no-cache")
    assert index.seen and all(a == basic("ci", password) for _, a in index.seen)
    assert elsewhere.seen == []


def test_rule1_origin_variables_are_checked() -> None:
    base = {"LOCKKEYS_INDEX_A_URL": "https://idx.example/simple/"}
    source = SourceAuth("p", "https://idx.example/simple/")
    with pytest.raises(InputError, match="no secret for it"):
        AuthRegistry([source], environ=base).credentials("https://idx.example/simple/x/")
    twice = {
        **base,
        "LOCKKEYS_INDEX_A_TOKEN": "tok-a-1",
        "LOCKKEYS_INDEX_B_URL": "https://idx.example:443/",
        "LOCKKEYS_INDEX_B_PASSWORD": "pw-b-1",
    }
    with pytest.raises(InputError, match="two tags give credentials for the same origin"):
        AuthRegistry([source], environ=twice).credentials("https://idx.example/simple/x/")
    token = {**base, "LOCKKEYS_INDEX_A_TOKEN": "tok-a-2"}
    found = AuthRegistry([], environ=token).credentials("https://idx.example/other/")
    assert found is not None and (found.username, found.password) == ("__token__", "tok-a-2")
    # Exact origin: another scheme or port of the same host gets nothing.
    registry = AuthRegistry([], environ=token)
    assert registry.credentials("http://idx.example/simple/") is None
    assert registry.credentials("https://idx.example:8443/simple/") is None


# --- rule 5: a token as the URL's user name is a secret ----------------------------------------


def test_rule5_token_as_url_user_name_is_never_printed(tmp_path: Path, fixture_data: Path) -> None:
    token = "glpat-" + secrets.token_hex(10)
    with recorder(fixture_data / "public", require=basic("someone", "else")) as index:
        url = f"http://{token}@{HOST}:{index.base.rsplit(':', 1)[1]}/simple/"
        root = project(tmp_path, url)
        done = lockkeys(root, clean_env(tmp_path), "lock", expect=3)
        assert basic(token, "") in index.authorizations()  # it was sent, as the user name
    printed = done.stdout + done.stderr
    assert token not in printed, printed
    assert "refused the token given as the URL's user name" in printed
    assert not (root / "pylock.toml").exists()
    # Accepted: the lock, the caches and every byte printed keep the URL without the token.
    with recorder(fixture_data / "public", require=basic(token, "")) as index:
        url = f"http://{token}@{HOST}:{index.base.rsplit(':', 1)[1]}/simple/"
        (root / "lockkeys.toml").write_text(config_text(url))
        done = lockkeys(root, clean_env(tmp_path), "-v", "lock")
    assert token not in done.stdout + done.stderr
    for path in (*root.rglob("*"), *(tmp_path / "cache").rglob("*")):
        if path.is_file() and path.name != "lockkeys.toml":
            assert token.encode() not in path.read_bytes(), path


def test_rule5_redaction_masks_what_a_url_can_hide() -> None:
    assert redact("https://glpat-abc123@gitlab.example/simple/") == (
        "https://****@gitlab.example/simple/"
    )
    assert redact("x https://alice:p@ss@host/s/ y") == "x https://alice:****@host/s/ y"
    assert redact("https://glpat-abc123:@gitlab.example/") == "https://****@gitlab.example/"
    shown = redact(
        "https://bucket.example/f.whl?X-Amz-Signature=abcd&X-Amz-Credential=AKIA1&v=1"
        " https://h.example/x?private_token=tok123&sig=s1g#frag"
    )
    for hidden in ("abcd", "AKIA1", "tok123", "s1g"):
        assert hidden not in shown
    assert "v=1" in shown and "#frag" in shown


# --- rule 5: credentials only to the exact origin ------------------------------------------------


def client_for_sources(sources: list[SourceAuth], environ: dict[str, str]) -> Client:
    return Client(
        Urllib3Transport(environ={}), AuthRegistry(sources, environ=environ, use_keyring=False)
    )


def test_rule5_credentials_dropped_on_redirect_to_another_port(
    tmp_path: Path, fixture_data: Path
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine {HOST} login alice password netrc-pw-1\n")
    netrc.chmod(0o600)
    with recorder(fixture_data / "public") as other, recorder() as index:
        name = "foo-1.0-py3-none-any.whl"
        index.redirects[f"/files/{name}"] = f"{other.base}/files/{name}"
        source = SourceAuth("corp", f"{index.base}/simple/")
        with use_client(client_for_sources([source], {"NETRC": str(netrc)})):
            fetch_to(f"{index.base}/files/{name}", tmp_path / name, max_size=10**6, **FAST)
            # A lock's file URL on another port of the same host: not the source's origin.
            fetch_bytes(f"{other.base}/simple/foo/", max_size=10**6, **FAST)
    assert index.authorizations() == [basic("alice", "netrc-pw-1")]
    assert other.seen and other.authorizations() == []


def test_rule5_credentials_dropped_on_redirect_to_another_scheme(tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine index.example login alice password netrc-pw-2\n")
    netrc.chmod(0o600)
    transport = FakeTransport(
        {
            "https://index.example/files/a.whl": Reply(
                302, headers={"Location": "http://index.example/files/a.whl"}
            ),
            "http://index.example/files/a.whl": Reply(200, [b"ok"]),
        }
    )
    auth = AuthRegistry(
        [SourceAuth("corp", "https://index.example/simple/")], environ={"NETRC": str(netrc)}
    )
    with use_client(Client(transport, auth)):
        fetch_bytes("https://index.example/files/a.whl", max_size=100, **FAST)
    first, second = transport.requests
    assert first.headers["Authorization"] == basic("alice", "netrc-pw-2")
    assert "Authorization" not in second.headers


def test_rule5_netrc_default_entry_only_when_opted_in(tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("default login anyone password default-pw-3\n")
    netrc.chmod(0o600)
    with recorder(require=basic("anyone", "default-pw-3")) as index:
        source = SourceAuth("corp", f"{index.base}/simple/")
        url = f"{index.base}/simple/foo/"
        with (
            use_client(client_for_sources([source], {"NETRC": str(netrc)})),
            pytest.raises(SourceError) as caught,
        ):
            fetch_bytes(url, max_size=10**6, **FAST)
        assert index.authorizations() == []
        text = caught.value.diagnostics()
        assert "its `default` entry was NOT used" in text and "LOCKKEYS_NETRC_DEFAULT=1" in text
        opted = {"NETRC": str(netrc), "LOCKKEYS_NETRC_DEFAULT": "1"}
        with use_client(client_for_sources([source], opted)), pytest.raises(SourceError):
            fetch_bytes(url, max_size=10**6, **FAST)  # 404 after authenticating
    assert index.authorizations() == [basic("anyone", "default-pw-3")]


def test_rule5_keyring_answers_only_for_the_origin_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lock adds a mirror on another server: keyring's answer for the source's URL never
    goes there."""
    import sys as _sys
    import types

    asked: list[str] = []

    def get_credential(service: str, user: str | None) -> object:
        asked.append(service)
        if service == "https://index.example/simple/":
            return types.SimpleNamespace(username="dave", password="keyring-pw-4")
        return None

    monkeypatch.setitem(
        _sys.modules, "keyring", types.SimpleNamespace(get_credential=get_credential)
    )
    monkeypatch.setattr("lockkeys._internal.sources.auth.keyring_installed", lambda: True)
    mirror = "https://attacker.example/simple/"
    source = SourceAuth("corp", "https://index.example/simple/", mirrors=(mirror,))
    transport = FakeTransport({mirror + "foo/": Reply(401)})
    with (
        use_client(Client(transport, AuthRegistry([source], environ={}))),
        pytest.raises(SourceError),
    ):
        fetch_bytes(mirror + "foo/", max_size=100, **FAST)
    assert all("Authorization" not in r.headers for r in transport.requests)
    assert "https://index.example/simple/" not in asked


# --- the proxy's 407 ---------------------------------------------------------------------------


def test_proxy_407_names_the_proxy_and_how_to_give_its_credentials() -> None:
    with serve_connect_proxy() as proxy, recorder() as index:
        # Plain HTTP through the proxy: its 407 is the proxy's answer, not the server's.
        for proxy_url, says in (
            (proxy.url, "none were given"),
            (proxy.url.replace("://", "://bob:proxy-pw-5@"), "refused the credentials"),
        ):
            client = Client(Urllib3Transport(environ={"HTTP_PROXY": proxy_url}), AuthRegistry())
            with use_client(client), pytest.raises(SourceError) as caught:
                fetch_bytes(f"{index.base}/simple/foo/", max_size=100, **FAST)
            text = caught.value.diagnostics()
            assert "the server answered" not in text
            assert f"the proxy {proxy.url} refused to connect" in text
            assert says in text and "HTTP_PROXY=USER:PASSWORD@PROXY-HOST:PORT" in text
            assert "proxy-pw-5" not in text
        assert index.seen == []
    # HTTPS through a tunnel: the proxy refuses the CONNECT.
    with serve_connect_proxy(refuse=True) as proxy:
        client = Client(Urllib3Transport(environ={"HTTPS_PROXY": proxy.url}), AuthRegistry())
        with use_client(client), pytest.raises(SourceError) as caught:
            fetch_bytes(f"https://{HOST}:9/simple/foo/", max_size=100, **FAST)
    text = caught.value.diagnostics()
    assert f"the proxy {proxy.url} refused to connect" in text and "none were given" in text
    assert "HTTPS_PROXY=USER:PASSWORD@PROXY-HOST:PORT" in text


def test_rule5_token_with_empty_password_is_still_a_secret() -> None:
    from lockkeys._internal.config import SourceConfig
    from lockkeys._internal.sources.session import source_auth

    config = SourceConfig(name="gl", url="https://glpat-emptypw99:@gitlab.example/simple/")
    assert config.url == "https://gitlab.example/simple/"
    auth = source_auth(config)
    assert auth is not None
    transport = FakeTransport({"https://gitlab.example/simple/foo/": Reply(401)})
    with (
        use_client(Client(transport, AuthRegistry([auth], environ={}, use_keyring=False))),
        pytest.raises(SourceError) as caught,
    ):
        fetch_bytes("https://gitlab.example/simple/foo/", max_size=100, **FAST)
    assert transport.requests[0].headers["Authorization"] == basic("glpat-emptypw99", "")
    text = caught.value.diagnostics() + str(caught.value.to_json())
    assert "glpat-emptypw99" not in text
    assert "refused the token given as the URL's user name" in text


def test_rule5_401_from_another_origin_says_why_nothing_was_sent(tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine files.example login alice password netrc-pw-6\n")
    netrc.chmod(0o600)
    transport = FakeTransport({"https://files.example/a.whl": Reply(401)})
    auth = AuthRegistry(
        [SourceAuth("corp", "https://index.example/simple/")], environ={"NETRC": str(netrc)}
    )
    with use_client(Client(transport, auth)), pytest.raises(SourceError) as caught:
        fetch_bytes("https://files.example/a.whl", max_size=100, **FAST)
    assert "Authorization" not in transport.requests[0].headers
    text = caught.value.diagnostics()
    assert "https://files.example:443 is not the origin of a configured source" in text
    assert "LOCKKEYS_INDEX_<TAG>_URL=https://files.example:443" in text
