"""The installer's happy paths, end to end: a lock mixing every verify policy installs with pip
and with uv, from a folder source and from a pypiserver index, online and from a wheelhouse made
by `lockkeys download --dest` (with the server stopped); `verify --json` reports one entry per
locked package; policy `none` warns on every run; `plat` gets this machine's manylinux wheel;
an sdist-only package is refused unless the lock allows sdists.
"""

from __future__ import annotations

import json
import shutil
import textwrap
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.wheelmaker import build_sdist, module_source
from lockkeys._internal.locking.locker import lock as lock_config
from lockkeys._internal.lockmodel.io import read_lock
from tests.support.cli import Cli
from tests.support.pypiserver import serve_index
from tests.support.venvs import installed, make_venv, site_packages, wheel_member

pytestmark = pytest.mark.slow

MANYLINUX = "plat-1.0-py3-none-manylinux_2_17_x86_64.whl"
EXPECTED = [["bar", "1.1"], ["broken", "1.0"], ["foo", "1.0"], ["plat", "1.0"], ["util", "2.1"]]
STATUS = {
    "bar": "verified-by-hash",
    "broken": "allowed-unverified",
    "foo": "verified-by-hash-and-signatures",
    "plat": "verified-by-hash",
    "util": "verified-by-signatures",
}
NONE_WARNING = "warning: broken 1.0 was accepted UNVERIFIED"


def config_text(source: str) -> str:
    return textwrap.dedent(
        f"""
        requirements = ["requirements.in"]

        [[sources]]
        name = "pub"
        {source}

        [signers]
        alice = "keys/alice.asc"
        bob = "keys/bob.asc"

        [packages.foo]
        signers = ["alice"]
        verify = "hashes+signatures"

        [packages.util]
        signers = ["alice", "bob"]
        threshold = 2
        verify = "signatures"

        [packages.broken]
        verify = "none"
        reason = "a local build that nobody signs"
        """
    ).lstrip()


def scenario(fixture_data: Path, dest: Path, source: str) -> Path:
    """Copies of the fixtures, a config for ``source``, requirements foo and plat; locked."""
    dest.mkdir(parents=True)
    shutil.copytree(fixture_data / "public", dest / "pub")
    shutil.copytree(fixture_data / "keys", dest / "keys")
    (dest / "lockkeys.toml").write_text(config_text(source), encoding="utf-8")
    (dest / "requirements.in").write_text("foo\nplat\n", encoding="utf-8")
    outcome = lock_config(dest / "lockkeys.toml")
    assert outcome.written
    return outcome.path


@pytest.fixture(scope="module", params=["folder", "index"])
def locked(
    request: pytest.FixtureRequest,
    fixture_data: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Path]:
    """The mixed-policy lock over a folder source, or over a pypiserver index (kept running)."""
    base = tmp_path_factory.mktemp(request.param)
    if request.param == "folder":
        yield scenario(fixture_data, base / "s", 'path = "pub"')
        return
    served = base / "served"
    shutil.copytree(fixture_data / "public", served)
    with serve_index(served) as url:
        yield scenario(fixture_data, base / "s", f'url = "{url}"')


def check_installed(python: Path, fixture_data: Path) -> None:
    assert installed(python) == EXPECTED
    site = site_packages(python)
    wheel_tag = (site / "plat-1.0.dist-info" / "WHEEL").read_text()
    assert "Tag: py3-none-manylinux_2_17_x86_64" in wheel_tag  # this machine's wheel
    for name, wheel in [
        ("foo", "foo-1.0-py3-none-any.whl"),
        ("util", "util-2.1-py3-none-any.whl"),
        ("plat", MANYLINUX),
    ]:
        expected = wheel_member(fixture_data / "public" / wheel, f"{name}/__init__.py")
        assert (site / name / "__init__.py").read_bytes() == expected


# -- every policy, both installers, both kinds of source ---------------------------------------


def test_lock_mixes_every_policy(locked: Path) -> None:
    lock = read_lock(locked)
    assert {p.name: p.tool.verify for p in lock.packages} == {
        "bar": "hashes",
        "broken": "none",
        "foo": "hashes+signatures",
        "plat": "hashes",
        "util": "signatures",
    }
    plat = next(p for p in lock.packages if p.name == "plat")
    assert len(plat.wheels) == 3 and plat.sdist is None  # per-platform wheels only


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_mixed_policy_lock_installs(
    locked: Path, fixture_data: Path, tmp_path: Path, cli: Cli, installer: str
) -> None:
    python = make_venv(tmp_path / "venv")
    code, _out, err = cli("--lock", locked, "install", "--python", python, "--installer", installer)
    assert code == 0, err
    assert f"with {installer}" in err
    assert NONE_WARNING in err
    check_installed(python, fixture_data)


def test_verify_json_one_entry_per_package_and_none_warns_every_run(locked: Path, cli: Cli) -> None:
    for _run in range(2):  # the warning is printed on every run, not once
        code, out, err = cli("--lock", locked, "verify", "--json")
        assert code == 0, err
        assert NONE_WARNING in err
        report = json.loads(out)
        assert report["ok"] is True and report["installed"] is False
        names = [p["name"] for p in report["packages"]]
        assert sorted(names) == sorted(STATUS) and len(names) == len(set(names))
        assert {p["name"]: p["status"] for p in report["packages"]} == STATUS
        by_name = {p["name"]: p for p in report["packages"]}
        assert by_name["plat"]["file"] == MANYLINUX
        assert sorted(s["name"] for s in by_name["util"]["signers"]) == ["alice", "bob"]
        assert [s["name"] for s in by_name["foo"]["signers"]] == ["alice"]
        assert by_name["broken"]["signers"] == []
    code, _out, err = cli("--lock", locked, "verify")  # the table, too
    assert code == 0 and NONE_WARNING in err


# -- wheelhouse: download with the server up, install and verify with it down ----------------


def test_wheelhouse_install_and_verify_with_server_stopped(
    fixture_data: Path, tmp_path: Path, cli: Cli
) -> None:
    served = tmp_path / "served"
    shutil.copytree(fixture_data / "public", served)
    house = tmp_path / "wheelhouse"
    with serve_index(served) as url:
        lock = scenario(fixture_data, tmp_path / "s", f'url = "{url}"')
        code, _out, err = cli("--lock", lock, "download", "--dest", house)
        assert code == 0, err
    with pytest.raises(urllib.error.URLError):  # the index is gone
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        opener.open(url, timeout=5)
    assert sorted(p.name for p in house.iterdir()) == sorted(
        [
            "bar-1.1-py3-none-any.whl",
            "broken-1.0-py3-none-any.whl",
            "foo-1.0-py3-none-any.whl",
            "foo-1.0-py3-none-any.whl.asc",
            MANYLINUX,
            "util-2.1-py3-none-any.whl",
            "util-2.1-py3-none-any.whl.asc",
        ]
    )
    for wheel in house.glob("*.whl"):
        assert wheel.read_bytes() == (served / wheel.name).read_bytes()

    code, out, err = cli("--lock", lock, "verify", "--wheelhouse", house, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["offline"] is True
    assert {p["name"]: p["status"] for p in report["packages"]} == STATUS

    for installer in ("pip", "uv"):
        python = make_venv(tmp_path / f"venv-{installer}")
        code, _out, err = cli(
            "--lock",
            lock,
            "install",
            "--python",
            python,
            "--installer",
            installer,
            "--wheelhouse",
            house,
        )
        assert code == 0, err
        assert NONE_WARNING in err
        check_installed(python, fixture_data)


# -- sdists: refused unless the lock allows them ----------------------------------------------

# A PEP 517 backend inside the sdist (standard library only), so that building it needs
# nothing from whatever interpreter runs the tests: no setuptools, no wheel.
INTREE_BACKEND = b"""
import base64, hashlib, os, zipfile

def _meta():
    with open("PKG-INFO", "rb") as handle:
        return handle.read()

def get_requires_for_build_wheel(config_settings=None):
    return []

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    info = _meta().decode()
    fields = dict(l.split(": ", 1) for l in info.splitlines() if ": " in l)
    name, version = fields["Name"], fields["Version"]
    dist = name.replace("-", "_") + "-" + version
    files = {}
    for folder, _dirs, names in os.walk(name.replace("-", "_")):
        for n in names:
            path = os.path.join(folder, n).replace(os.sep, "/")
            with open(path, "rb") as handle:
                files[path] = handle.read()
    files[dist + ".dist-info/METADATA"] = _meta()
    files[dist + ".dist-info/WHEEL"] = (
        b"Wheel-Version: 1.0\\nGenerator: intree\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    )
    record = []
    for path, data in sorted(files.items()):
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(dist + ".dist-info/RECORD,,")
    files[dist + ".dist-info/RECORD"] = ("\\n".join(record) + "\\n").encode()
    filename = dist + "-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return filename
"""


def test_sdist_only_package_refused_unless_allow_sdist(tmp_path: Path, cli: Cli) -> None:
    scene = tmp_path / "s"
    sdist = build_sdist(
        scene / "dists",
        "srconly",
        "1.0",
        build_requires=(),
        build_backend="intree_backend",
        backend_path=["."],
        files={
            "srconly/__init__.py": module_source("srconly", "1.0"),
            "intree_backend.py": INTREE_BACKEND,
        },
    )
    (scene / "requirements.in").write_text("srconly\n", encoding="utf-8")
    # uv reads the sdist's static pyproject metadata, so locking builds nothing (offline).
    base = textwrap.dedent(
        """
        requirements = ["requirements.in"]
        resolver = "uv"
        [[sources]]
        name = "local"
        path = "dists"
        """
    )
    (scene / "lockkeys.toml").write_text(base, encoding="utf-8")
    lock = lock_config(scene / "lockkeys.toml").path
    entry = read_lock(lock).packages[0]
    assert entry.name == "srconly" and entry.wheels == () and entry.sdist is not None
    assert entry.sdist.filename == sdist.name
    python = make_venv(tmp_path / "venv")
    before = installed(python)
    code, _out, err = cli("--lock", lock, "install", "--python", python)
    assert code == 1, err
    assert "srconly 1.0: refused" in err and "only a source distribution" in err
    assert "allow-sdist" in err  # the fix says how
    assert installed(python) == before

    (scene / "lockkeys.toml").write_text(
        base + "[packages.srconly]\nallow-sdist = true\n", encoding="utf-8"
    )
    lock = lock_config(scene / "lockkeys.toml").path
    assert read_lock(lock).packages[0].tool.allow_sdist
    # Built without isolation, with what the target can already import: here, a bare venv
    # (the sdist's own in-tree backend needs nothing else).
    python = make_venv(tmp_path / "venv-build")
    code, _out, err = cli("--lock", lock, "install", "--python", python)
    assert code == 0, err
    init = site_packages(python) / "srconly" / "__init__.py"
    assert init.read_bytes() == module_source("srconly", "1.0")
    assert (site_packages(python) / "srconly-1.0.dist-info").is_dir()
