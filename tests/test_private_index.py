"""A private index as companies run them: pypiserver with htpasswd authentication behind an
HTTPS front with a CA generated for the test, used by lock (both resolvers), verify, download
and install (both installers), with credentials from netrc, the environment and the URL.

Every byte lockkeys printed and every file it wrote is searched for the secret.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.https_index import (
    PrivateIndex,
    serve_connect_proxy,
    serve_private_index,
)
from tests.support.venvs import installed, make_venv

pytestmark = pytest.mark.slow

USER = "alice"


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory, fixture_data: Path) -> Iterator[PrivateIndex]:
    work = tmp_path_factory.mktemp("private-index")
    password = "pw-" + secrets.token_hex(12)
    with serve_private_index(
        fixture_data / "public", work, username=USER, password=password
    ) as served:
        yield served


@dataclass
class Run:
    """A project folder, the environment lockkeys runs with, and everything it printed."""

    root: Path
    env: dict[str, str]
    printed: list[bytes] = field(default_factory=list)
    not_ours: set[Path] = field(default_factory=set)  # files the test wrote (config, netrc)

    def lockkeys(self, *args: str, expect: int = 0) -> subprocess.CompletedProcess[bytes]:
        done = subprocess.run(
            [sys.executable, "-m", "lockkeys", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            timeout=600,
            check=False,
        )
        self.printed += [done.stdout, done.stderr]
        assert done.returncode == expect, (
            f"lockkeys {' '.join(args)} exited {done.returncode}, expected {expect}\n"
            + done.stderr.decode("utf-8", "replace")
        )
        return done

    def secret_forms(self, password: str) -> list[bytes]:
        token = base64.b64encode(f"{USER}:{password}".encode())
        return [password.encode(), token]

    def assert_secret_nowhere(self, password: str, *folders: Path) -> None:
        forms = self.secret_forms(password)
        for blob in self.printed:
            for form in forms:
                assert form not in blob, "a secret was printed"
        checked = 0
        for folder in (self.root, *folders):
            for path in folder.rglob("*"):
                if path.is_file() and not path.is_symlink() and path not in self.not_ours:
                    data = path.read_bytes()
                    checked += 1
                    for form in forms:
                        assert form not in data, f"the secret is in {path}"
        assert checked > 0


def clean_env(tmp: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(("PIP_", "UV_", "NETRC"))
        and k.upper() not in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")
    }
    env["NETRC"] = str(tmp / "no-netrc")  # never the developer's own ~/.netrc
    env["LOCKKEYS_CACHE_DIR"] = str(tmp / "cache")
    return env


def give_deploy_credentials(run: Run, index: PrivateIndex, password: str) -> None:
    """The deploy host's own credentials, by origin (a lock never names them)."""
    run.env.update(
        LOCKKEYS_INDEX_CORP_URL=index.url,
        LOCKKEYS_INDEX_CORP_USERNAME=USER,
        LOCKKEYS_INDEX_CORP_PASSWORD=password,
    )


def make_project(tmp: Path, index: PrivateIndex, mode: str, *, password: str | None = None) -> Run:
    root = tmp / "project"
    root.mkdir()
    run = Run(root=root, env=clean_env(tmp))
    password = index.password if password is None else password
    (root / "requirements.in").write_text("foo\n")
    (root / "corp-ca.pem").write_bytes(index.ca_pem.read_bytes())
    url = index.url
    extra = ""
    if mode == "url":
        url = url.replace("https://", f"https://{USER}:{password}@")
    elif mode == "env":
        extra = 'username-env = "CORP_USER"\npassword-env = "CORP_PASSWORD"\n'
        run.env.update(CORP_USER=USER, CORP_PASSWORD=password)
    elif mode == "netrc":
        netrc = tmp / "netrc"
        netrc.write_text(f"machine 127.0.0.1 login {USER} password {password}\n")
        netrc.chmod(0o600)
        run.env["NETRC"] = str(netrc)
        run.not_ours.add(netrc)
    config = root / "lockkeys.toml"
    config.write_text(
        'requirements = ["requirements.in"]\n\n'
        "[[sources]]\n"
        'name = "corp"\n'
        f'url = "{url}"\n'
        'ca-bundle = "corp-ca.pem"\n' + extra
    )
    run.not_ours.add(config)
    return run


@pytest.mark.parametrize("resolver", ["pip-tools", "uv"])
@pytest.mark.parametrize("mode", ["netrc", "env", "url"])
def test_lock_verify_download_install_with_credentials(
    index: PrivateIndex, tmp_path: Path, mode: str, resolver: str
) -> None:
    run = make_project(tmp_path, index, mode)
    if mode == "url":
        # The deploy host has its own credentials: the lock keeps the URL without them.
        deploy_netrc = tmp_path / "deploy-netrc"
        deploy_netrc.write_text(f"machine 127.0.0.1 login {USER} password {index.password}\n")
        deploy_netrc.chmod(0o600)
        run.not_ours.add(deploy_netrc)
    done = run.lockkeys("lock", "--resolver", resolver)
    # Progress on stderr: resolving, then file data.
    assert b"resolving 1 requirement(s) with " + resolver.encode() in done.stderr
    assert b"file data: 4/4 package(s)" in done.stderr
    lock = tomllib.loads((run.root / "pylock.toml").read_text())
    names = sorted(p["name"] for p in lock["packages"])
    assert names == ["bar", "broken", "foo", "util"]
    assert lock["tool"]["lockkeys"]["sources"][0]["url"] == index.url
    for package in lock["packages"]:
        assert package["index"] == index.url
        for wheel in package["wheels"]:
            assert wheel["url"].startswith(index.url.replace("/simple/", "/packages/"))
    # A lock never names a secret: the lock-time variable names stay in the configuration.
    assert lock["tool"]["lockkeys"]["sources"][0] == {"name": "corp", "url": index.url}
    # Deploy: trust from SSL_CERT_FILE (the lock carries no CA), credentials as the mode says.
    run.env["SSL_CERT_FILE"] = str(index.ca_pem)
    if mode == "url":
        run.env["NETRC"] = str(tmp_path / "deploy-netrc")
    if mode == "env":
        give_deploy_credentials(run, index, index.password)
    run.lockkeys("verify", "--python", sys.executable)
    wheelhouse = tmp_path / "wheelhouse"
    run.lockkeys("download", "--dest", str(wheelhouse), "--python", sys.executable)
    assert sorted(p.name for p in wheelhouse.glob("*.whl")) == [
        "bar-1.1-py3-none-any.whl",
        "broken-1.0-py3-none-any.whl",
        "foo-1.0-py3-none-any.whl",
        "util-2.1-py3-none-any.whl",
    ]
    for installer in ("pip", "uv"):
        python = make_venv(tmp_path / f"venv-{installer}")
        run.lockkeys("install", "--python", str(python), "--installer", installer)
        assert installed(python) == [
            ["bar", "1.1"],
            ["broken", "1.0"],
            ["foo", "1.0"],
            ["util", "2.1"],
        ]
    run.assert_secret_nowhere(index.password, wheelhouse, tmp_path / "cache")


@pytest.mark.parametrize("resolver", ["pip-tools", "uv"])
def test_wrong_credentials_exit_3_naming_source_and_user(
    index: PrivateIndex, tmp_path: Path, resolver: str
) -> None:
    wrong = "wrong-" + secrets.token_hex(8)
    run = make_project(tmp_path, index, "env", password=wrong)
    done = run.lockkeys("lock", "--resolver", resolver, expect=3)
    text = done.stderr.decode()
    # pypiserver answers wrong credentials with 403 (no credentials: 401).
    assert re.search(r"source 'corp' refused user 'alice' \(HTTP 40[13] ", text), text
    assert "CORP_PASSWORD" in text  # how credentials are looked up: names, never values
    assert not (run.root / "pylock.toml").exists()
    run.assert_secret_nowhere(wrong)
    run.assert_secret_nowhere(index.password)


def test_full_run_then_a_failure_prints_no_secret(index: PrivateIndex, tmp_path: Path) -> None:
    """lock + install with good credentials, then verify --json with a wrong password."""
    run = make_project(tmp_path, index, "env")
    run.lockkeys("-v", "lock", "--resolver", "uv")
    run.env["SSL_CERT_FILE"] = str(index.ca_pem)
    give_deploy_credentials(run, index, index.password)
    python = make_venv(tmp_path / "venv")
    run.lockkeys("-v", "install", "--python", str(python))
    run.env["LOCKKEYS_INDEX_CORP_PASSWORD"] = "bad-" + secrets.token_hex(8)
    # A fresh cache: the verified-file cache would otherwise serve every file without asking.
    run.env["LOCKKEYS_CACHE_DIR"] = str(tmp_path / "cache-2")
    done = run.lockkeys("verify", "--json", "--python", sys.executable, expect=3)
    assert b"refused user 'alice'" in done.stdout
    run.assert_secret_nowhere(index.password, tmp_path / "cache")
    run.assert_secret_nowhere(run.env["LOCKKEYS_INDEX_CORP_PASSWORD"], tmp_path / "cache")


def test_untrusted_certificate_names_source_and_ca_bundle(
    index: PrivateIndex, tmp_path: Path
) -> None:
    run = make_project(tmp_path, index, "env")
    config = run.root / "lockkeys.toml"
    config.write_text(config.read_text().replace('ca-bundle = "corp-ca.pem"\n', ""))
    done = run.lockkeys("lock", "--resolver", "uv", expect=3)
    text = done.stderr.decode()
    assert "source 'corp': TLS certificate check failed" in text
    assert "ca-bundle" in text


def test_connect_proxy_carries_lock_and_verify(index: PrivateIndex, tmp_path: Path) -> None:
    run = make_project(tmp_path, index, "env")
    port = index.url.split(":")[2].split("/")[0]
    with serve_connect_proxy() as proxy:
        run.env["HTTPS_PROXY"] = proxy.url
        run.lockkeys("lock", "--resolver", "uv")
        locked = len(proxy.targets)
        run.env["SSL_CERT_FILE"] = str(index.ca_pem)
        give_deploy_credentials(run, index, index.password)
        run.lockkeys("verify", "--python", sys.executable)
    assert locked >= 1
    assert len(proxy.targets) > locked  # verify went through it too
    assert set(proxy.targets) == {f"CONNECT 127.0.0.1:{port}"}
    # The proxy saw a tunnel only: the credentials travelled inside TLS.
    for head in proxy.bytes_through:
        for form in run.secret_forms(index.password):
            assert form not in head
    run.assert_secret_nowhere(index.password)


def test_proxy_refusal_names_the_proxy(index: PrivateIndex, tmp_path: Path) -> None:
    run = make_project(tmp_path, index, "env")
    run.lockkeys("lock", "--resolver", "uv")
    run.env["SSL_CERT_FILE"] = str(index.ca_pem)
    with serve_connect_proxy(refuse=True) as proxy:
        run.env["HTTPS_PROXY"] = proxy.url
        done = run.lockkeys("verify", "--python", sys.executable, expect=3)
        lock_done = run.lockkeys("lock", "--resolver", "pip-tools", "--no-cache", expect=3)
    for text in (done.stderr.decode(), lock_done.stderr.decode()):
        assert f"the proxy {proxy.url} refused to connect to source 'corp' (HTTP 407)" in text
