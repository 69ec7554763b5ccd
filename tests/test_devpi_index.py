"""A second real private index: devpi-server (tests/support/devpi.py), as well as pypiserver.

The scenario of tests/test_substitution.py with the private source on devpi: ``foo`` depends
on ``bar``, ``bar`` on ``broken``; the corp-signed ``broken 1.0+corp.1`` is uploaded to devpi
with the index owner's credentials and substituted from there; everything else comes from a
public pypiserver. devpi serves no detached signatures, so the signature comes from the
project's signature store. Lock with both resolvers (credentials from the config's
``username-env``/``password-env``), install with pip, uv and the builtin installer
(credentials from the deploy host's ``LOCKKEYS_INDEX_<TAG>_*``), and wrong credentials are
exit 3 naming the source and the user.

Stock devpi has no read ACL; the locked-down index is devpi behind the front its read
lockdown documents (devpi itself judges the credentials, see the support module).
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
import re
import secrets
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.devpi import Devpi, serve_devpi
from tests.support.pypiserver import serve_index
from tests.support.venvs import installed, make_venv

# devpi runs as a subprocess of this interpreter's environment: never imported here.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("devpi_server") is None,
        reason="devpi-server is not installed (it is in the test extra: pip install -e '.[test]')",
    ),
]

USER = "alice"
PATCHED = "broken-1.0+corp.1-py3-none-any.whl"
LOCKED = [["bar", "1.1"], ["broken", "1.0+corp.1"], ["foo", "1.0"], ["util", "2.1"]]
INSTALLERS = ("pip", "uv", "builtin")


@pytest.fixture(scope="module")
def devpi(tmp_path_factory: pytest.TempPathFactory, fixture_data: Path) -> Iterator[Devpi]:
    """devpi with the patched build uploaded by its owner (an authenticated upload)."""
    work = tmp_path_factory.mktemp("devpi")
    with serve_devpi(work, username=USER, password="pw-" + secrets.token_hex(12)) as served:
        status = served.upload(
            fixture_data / "private" / PATCHED, username=USER, password=served.password
        )
        assert status == 200, f"devpi refused the owner's upload: HTTP {status}"
        yield served


@pytest.fixture(scope="module")
def public(fixture_data: Path) -> Iterator[str]:
    with serve_index(fixture_data / "public") as url:
        yield url


@dataclass
class Project:
    """A project folder, the environment lockkeys runs with, and everything it printed."""

    root: Path
    env: dict[str, str]
    printed: list[bytes] = field(default_factory=list)

    def lockkeys(self, *args: str, expect: int = 0) -> subprocess.CompletedProcess[bytes]:
        done = subprocess.run(
            [sys.executable, "-m", "lockkeys", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            timeout=300,
            check=False,
        )
        self.printed += [done.stdout, done.stderr]
        assert done.returncode == expect, (
            f"lockkeys {' '.join(args)} exited {done.returncode}, expected {expect}\n"
            + done.stderr.decode("utf-8", "replace")
        )
        return done

    def deploy_host(self, devpi: Devpi, password: str, cache: Path) -> None:
        """The deploy host's own credentials by origin (tag DEVPI: the host's choice), no
        lock-time variables, and a cache of its own (so files really come from devpi)."""
        for name in ("CORP_USER", "CORP_PASSWORD"):
            self.env.pop(name, None)
        self.env.update(
            LOCKKEYS_INDEX_DEVPI_URL=devpi.front,
            LOCKKEYS_INDEX_DEVPI_USERNAME=USER,
            LOCKKEYS_INDEX_DEVPI_PASSWORD=password,
            LOCKKEYS_CACHE_DIR=str(cache),
        )

    def assert_secret_nowhere(self, password: str, *folders: Path) -> None:
        forms = [password.encode(), base64.b64encode(f"{USER}:{password}".encode())]
        for blob in self.printed:
            assert not any(form in blob for form in forms), "a secret was printed"
        for folder in (self.root, *folders):
            for path in folder.rglob("*"):
                if path.is_file() and not path.is_symlink():
                    data = path.read_bytes()
                    assert not any(form in data for form in forms), f"the secret is in {path}"


def make_project(
    tmp: Path, fixture_data: Path, public: str, private: str, password: str
) -> Project:
    root = tmp / "project"
    (root / "keys").mkdir(parents=True)
    (root / "signatures").mkdir()
    shutil.copyfile(fixture_data / "keys" / "corp.asc", root / "keys" / "corp.asc")
    signature = fixture_data / "private" / f"{PATCHED}.asc"
    shutil.copyfile(signature, root / "signatures" / signature.name)
    (root / "requirements.in").write_text("foo\n")
    (root / "lockkeys.toml").write_text(
        'requirements = ["requirements.in"]\n'
        'signature-stores = ["signatures"]\n\n'
        f'[[sources]]\nname = "public"\nurl = "{public}"\n\n'
        f'[[sources]]\nname = "corp"\nurl = "{private}"\n'
        'username-env = "CORP_USER"\npassword-env = "CORP_PASSWORD"\n\n'
        '[signers]\ncorp = "keys/corp.asc"\n\n'
        '[packages.broken]\nsubstitute = "1.0+corp.1"\nsource = "corp"\n'
        'signers = ["corp"]\nverify = "signatures"\n'
        'reason = "backported crash fix, from the corp devpi"\n'
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(("PIP_", "UV_", "NETRC", "LOCKKEYS_INDEX_"))
        and k.upper() not in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")
    }
    env.update(
        NETRC=str(tmp / "no-netrc"),
        LOCKKEYS_CACHE_DIR=str(tmp / "cache"),
        CORP_USER=USER,
        CORP_PASSWORD=password,
    )
    return Project(root=root, env=env)


def assert_locked_from_devpi(project: Project, devpi: Devpi, fixture_data: Path) -> None:
    lock = tomllib.loads((project.root / "pylock.toml").read_text())
    assert sorted([p["name"], p["version"]] for p in lock["packages"]) == LOCKED
    (broken,) = [p for p in lock["packages"] if p["name"] == "broken"]
    assert broken["index"] == devpi.locked_url
    (wheel,) = broken["wheels"]
    assert wheel["url"].startswith(f"{devpi.front}/{USER}/corp/+f/")
    digest = hashlib.sha256((fixture_data / "private" / PATCHED).read_bytes()).hexdigest()
    assert wheel["hashes"]["sha256"] == digest
    corp = [s for s in lock["tool"]["lockkeys"]["sources"] if s["name"] == "corp"]
    assert corp == [{"name": "corp", "url": devpi.locked_url}]  # no variable names, no secret


def test_upload_needs_the_index_owners_credentials(devpi: Devpi, fixture_data: Path) -> None:
    """devpi refuses uploads without the owner's password; the owner's upload is listed once."""
    wheel = fixture_data / "private" / PATCHED
    assert devpi.upload(wheel, username=USER, password="wrong-" + secrets.token_hex(6)) == 401
    assert devpi.upload(wheel, username="mallory", password=devpi.password) == 401
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    page = devpi.listed("broken")
    assert re.findall(r'href="[^"]*#sha256=([0-9a-f]+)"', page) == [digest]


@pytest.mark.parametrize("resolver", ["pip-tools", "uv"])
def test_lock_and_install_from_devpi_with_credentials(
    devpi: Devpi, public: str, tmp_path: Path, fixture_data: Path, resolver: str
) -> None:
    project = make_project(tmp_path, fixture_data, public, devpi.locked_url, devpi.password)
    project.lockkeys("lock", "--resolver", resolver)
    assert_locked_from_devpi(project, devpi, fixture_data)
    for installer in INSTALLERS:
        project.deploy_host(devpi, devpi.password, tmp_path / f"cache-{installer}")
        python = make_venv(tmp_path / f"venv-{installer}")
        fetched = devpi.fetches(PATCHED)
        project.lockkeys("install", "--python", str(python), "--installer", installer)
        assert installed(python) == LOCKED
        assert devpi.fetches(PATCHED) > fetched  # from devpi, with the deploy credentials
    project.assert_secret_nowhere(devpi.password, *tmp_path.glob("cache*"))


@pytest.mark.parametrize("resolver", ["pip-tools", "uv"])
def test_wrong_credentials_exit_3_naming_source_and_user(
    devpi: Devpi, public: str, tmp_path: Path, fixture_data: Path, resolver: str
) -> None:
    wrong = "wrong-" + secrets.token_hex(8)
    project = make_project(tmp_path, fixture_data, public, devpi.locked_url, wrong)
    done = project.lockkeys("lock", "--resolver", resolver, expect=3)
    text = done.stderr.decode()
    assert re.search(r"source 'corp' refused user 'alice' \(HTTP 401", text), text
    assert "CORP_PASSWORD" in text  # how credentials are looked up: names, never values
    assert not (project.root / "pylock.toml").exists()
    project.assert_secret_nowhere(wrong)
    project.assert_secret_nowhere(devpi.password)


def test_wrong_deploy_credentials_exit_3_naming_source_and_user(
    devpi: Devpi, public: str, tmp_path: Path, fixture_data: Path
) -> None:
    """A good lock; the deploy host's LOCKKEYS_INDEX_DEVPI_PASSWORD is wrong: nothing installed."""
    project = make_project(tmp_path, fixture_data, public, devpi.locked_url, devpi.password)
    project.lockkeys("lock", "--resolver", "uv")
    wrong = "wrong-" + secrets.token_hex(8)
    project.deploy_host(devpi, wrong, tmp_path / "deploy-cache")
    python = make_venv(tmp_path / "venv")
    before = installed(python)
    done = project.lockkeys("install", "--python", str(python), expect=3)
    text = done.stderr.decode()
    assert re.search(r"source 'corp' refused user 'alice' \(HTTP 401", text), text
    assert "LOCKKEYS_INDEX_DEVPI_" in text
    assert installed(python) == before
    project.assert_secret_nowhere(wrong, tmp_path / "deploy-cache")


def test_stock_devpi_reads_are_anonymous_so_wrong_credentials_pass(
    devpi: Devpi, public: str, tmp_path: Path, fixture_data: Path
) -> None:
    """What devpi itself does (no read ACL): a wrong read password is ignored, the lock works.
    lockkeys cannot tell a wrong password from a right one there; the lockdown front can."""
    wrong = "wrong-" + secrets.token_hex(8)
    project = make_project(tmp_path, fixture_data, public, devpi.open_url, wrong)
    project.lockkeys("lock", "--resolver", "uv")
    lock = tomllib.loads((project.root / "pylock.toml").read_text())
    (broken,) = [p for p in lock["packages"] if p["name"] == "broken"]
    assert broken["version"] == "1.0+corp.1"
    assert broken["index"] == devpi.open_url
    project.assert_secret_nowhere(wrong)
