"""Deploy-grade install (issue 8), end to end with real installers into real venvs.

Clean installs (pip freeze shows name==version, no file:// direct URL), `sync` and `--dry-run`,
skipping what is installed and intact, all or nothing on a failed or interrupted upgrade,
`verify --installed`, the verified-file cache, exit codes, and how the target is chosen and the
output reads in CI logs. Sources: a folder and pypiserver on 127.0.0.1; installers: the builtin
one, pip and uv.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.wheelmaker import build_wheel
from lockkeys._internal.install import plan as plan_module
from tests.support.cli import Cli
from tests.support.deployscenes import (
    break_util,
    make_scene,
    pip_install,
    run_until_installing,
    upgrade_scene,
)
from tests.support.pypiserver import serve_index
from tests.support.venvs import installed, make_venv, site_packages, snapshot

pytestmark = pytest.mark.slow

INSTALLERS = ["builtin", "pip", "uv"]
INSTALLER_FILE = {"builtin": "lockkeys", "pip": "pip", "uv": "uv"}
FREEZE = ["bar==1.1", "broken==1.0", "foo==1.0", "util==2.1"]


@pytest.fixture(scope="module", params=["folder", "index"])
def source_scene(
    request: pytest.FixtureRequest,
    fixture_data: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Path]:
    """foo 1.0 and what it needs, locked from a folder or from pypiserver (kept running)."""
    base = tmp_path_factory.mktemp(request.param)
    if request.param == "folder":
        yield make_scene(fixture_data, base, 'path = "public"', "foo\n")
        return
    shutil.copytree(fixture_data / "public", base / "public")
    with serve_index(base / "public") as url:
        yield make_scene(fixture_data, base, f'url = "{url}"', "foo\n")


@pytest.fixture
def folder_scene(fixture_data: Path, tmp_path: Path) -> Path:
    return make_scene(fixture_data, tmp_path / "scene", 'path = "public"', "foo\n")


def freeze(python: Path) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "freeze", "--all"],
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("PIP_")},
    ).stdout
    return [line for line in out.splitlines() if line and not line.startswith("pip==")]


def dist_info(python: Path, name: str) -> Path:
    found = list(site_packages(python).glob(f"{name}-*.dist-info"))
    assert len(found) == 1, found
    return found[0]


# -- 1. clean installs ------------------------------------------------------------------------


@pytest.mark.parametrize("installer", INSTALLERS)
def test_clean_install_freeze_shows_name_version_no_direct_url(
    source_scene: Path, tmp_path: Path, cli: Cli, installer: str
) -> None:
    python = make_venv(tmp_path / "venv")
    code, _out, err = cli(
        "--lock", source_scene, "install", "--python", python, "--installer", installer
    )
    assert code == 0, err
    assert freeze(python) == FREEZE  # line by line, as after pip install -r requirements.txt
    for name in ("bar", "broken", "foo", "util"):
        meta = dist_info(python, name)
        assert not (meta / "direct_url.json").exists()
        assert (meta / "INSTALLER").read_text().strip() == INSTALLER_FILE[installer]
        assert (meta / "REQUESTED").exists()
        assert "direct_url.json" not in (meta / "RECORD").read_text()


# -- 2. install skips what is intact; sync removes the rest; --dry-run changes nothing ------


@pytest.mark.parametrize("installer", INSTALLERS)
def test_install_again_changes_nothing_and_repairs_an_edited_copy(
    folder_scene: Path, tmp_path: Path, cli: Cli, installer: str
) -> None:
    python = make_venv(tmp_path / "venv")
    args = ("--lock", folder_scene, "install", "--python", python, "--installer", installer)
    code, _out, err = cli(*args)
    assert code == 0, err
    first = snapshot(python)
    module = site_packages(python) / "util" / "__init__.py"
    inode = module.stat().st_ino

    code, out, err = cli(*args)
    assert code == 0, err
    assert "plan: 4 keep" in out and "(nothing changed)" in err
    assert snapshot(python) == first and module.stat().st_ino == inode  # not rewritten
    # a no-op says so in one line (issue 17); -v gives the table and the plan's steps
    assert out.splitlines() == [
        "plan: 4 keep; all 4 locked package(s) verified; nothing to change"
    ], out
    code, out, err = cli("-v", *args)
    assert code == 0, err
    assert "keep       util 2.1 (installed and intact)" in out
    assert "verified-by-hash" in out

    good = module.read_bytes()
    module.write_bytes(b"print('edited in place')\n")  # someone edited the installed copy
    code, out, err = cli(*args)
    assert code == 0, err
    assert "reinstall  util 2.1 (installed copy differs from the locked wheel: " in out
    assert "util/__init__.py: differs" in out
    assert module.read_bytes() == good


@pytest.mark.parametrize("installer", INSTALLERS)
def test_sync_removes_extras_and_dry_run_changes_nothing(
    folder_scene: Path, tmp_path: Path, cli: Cli, installer: str
) -> None:
    python = make_venv(tmp_path / "venv")
    old_bar = folder_scene.parent / "public" / "bar-1.0-py3-none-any.whl"
    extra = build_wheel(tmp_path / "w", "extra", "0.1")
    pip_install(python, old_bar, extra)
    before = snapshot(python)

    code, out, err = cli(
        "--lock", folder_scene, "sync", "--python", python, "--installer", installer, "--dry-run"
    )
    assert code == 0, err
    assert "plan (dry run, nothing was changed)" in out
    assert "upgrade    bar 1.0 -> 1.1" in out
    assert "remove     extra 0.1 (not in the lock)" in out
    assert "install    foo 1.0" in out
    assert snapshot(python) == before

    code, out, err = cli(
        "--lock", folder_scene, "sync", "--python", python, "--installer", installer
    )
    assert code == 0, err
    assert freeze(python) == FREEZE
    assert not list(site_packages(python).glob("extra*"))

    # install (not sync) leaves extras alone
    pip_install(python, extra)
    code, out, err = cli("--lock", folder_scene, "install", "--python", python)
    assert code == 0, err
    assert ["extra", "0.1"] in installed(python)


def test_sync_keeps_installer_tools_and_lockkeys_own_dependencies(
    folder_scene: Path, tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the target is lockkeys' own environment, sync never removes lockkeys or what it
    needs, nor pip, and says why. (Simulated: the test venv plays lockkeys' environment.)"""
    python = make_venv(tmp_path / "venv")
    wheels = tmp_path / "w"
    pip_install(
        python,
        build_wheel(wheels, "pip", "99.0"),
        build_wheel(wheels, "pydantic", "0.0.1"),  # a dependency of lockkeys
        build_wheel(wheels, "extra", "0.1"),
    )
    monkeypatch.setattr(plan_module, "is_own_environment", lambda _env: True)
    code, out, err = cli("--lock", folder_scene, "sync", "--python", python)
    assert code == 0, err
    assert "untouched  pip 99.0 (not in the lock: the installer itself)" in out
    assert (
        "untouched  pydantic 0.0.1 (not in the lock: needed by lockkeys; "
        "the target is lockkeys' own" in out
    )
    assert "remove     extra 0.1 (not in the lock)" in out
    names = [n for n, _v in installed(python)]
    assert "pip" in names and "pydantic" in names and "extra" not in names


# -- 3. all or nothing: a failed or interrupted upgrade ---------------------------------------


@pytest.mark.parametrize("installer", INSTALLERS)
def test_failed_upgrade_restores_every_distribution_and_file(
    fixture_data: Path, tmp_path: Path, cli: Cli, installer: str
) -> None:
    old, new = upgrade_scene(fixture_data, tmp_path)
    break_util(new)
    python = make_venv(tmp_path / "venv")
    extra = build_wheel(tmp_path / "w", "extra", "0.1")
    pip_install(python, extra)
    code, _out, err = cli("--lock", old, "install", "--python", python, "--installer", installer)
    assert code == 0, err
    before = snapshot(python)
    assert [n for n, _v in before[0]] == ["bar", "broken", "extra", "util"]

    code, _out, err = cli("--lock", new, "sync", "--python", python, "--installer", installer)
    assert code == 1, err
    assert "attempted: upgrade bar 1.0 -> 1.1; remove extra 0.1" in err
    assert "the environment was restored to its state before this run" in err
    assert snapshot(python) == before  # same distributions, versions and file hashes
    prefix = python.parent.parent
    assert not list(prefix.glob(".lockkeys-rollback-*"))


def gone(pid: int, wait: float = 10.0) -> bool:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # a zombie of ours is gone for this purpose
            if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
                return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("installer", INSTALLERS)
def test_sigterm_during_install_step_restores_environment_and_leaves_nothing(
    fixture_data: Path, tmp_path: Path, cli: Cli, installer: str
) -> None:
    old, new = upgrade_scene(fixture_data, tmp_path)
    python = make_venv(tmp_path / "venv")
    code, _out, err = cli("--lock", old, "install", "--python", python, "--installer", installer)
    assert code == 0, err
    before = snapshot(python)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    marker = tmp_path / "marker"
    args = ["--lock", str(new), "install", "--python", str(python), "--installer", installer]
    proc = run_until_installing(args, installer, marker, tmp)
    assert snapshot(python) != before  # the installer really changed the environment
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert snapshot(python) == before, err
    assert list(tmp.iterdir()) == []  # no private folder left
    assert not list(python.parent.parent.glob(".lockkeys-rollback-*"))
    if installer != "builtin":
        child = int(Path(f"{marker}.pid").read_text())
        assert gone(child), "the installer child outlived lockkeys"


def test_sigkill_kills_the_installer_child_and_next_run_restores(
    fixture_data: Path, tmp_path: Path, cli: Cli
) -> None:
    old, new = upgrade_scene(fixture_data, tmp_path)
    python = make_venv(tmp_path / "venv")
    code, _out, err = cli("--lock", old, "install", "--python", python, "--installer", "pip")
    assert code == 0, err
    before = snapshot(python)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    marker = tmp_path / "marker"
    args = ["--lock", str(new), "install", "--python", str(python), "--installer", "pip"]
    proc = run_until_installing(args, "pip", marker, tmp)
    proc.kill()
    proc.communicate(timeout=60)
    child = int(Path(f"{marker}.pid").read_text())
    assert gone(child), "the installer child outlived lockkeys (SIGKILL)"
    assert snapshot(python) != before  # half-upgraded: lockkeys could do nothing
    # The next run restores the interrupted change first, then does its own work.
    os.environ["TMPDIR"] = str(tmp)
    try:
        import tempfile

        tempfile.tempdir = None
        code, out, err = cli("--lock", old, "sync", "--python", python)
    finally:
        del os.environ["TMPDIR"]
        tempfile.tempdir = None
    assert code == 0, err
    assert "plan: 3 keep" in out  # restored, so nothing was left to do
    assert snapshot(python) == before
    assert list(tmp.iterdir()) == []  # the killed run's private folder was swept too
    assert not list(python.parent.parent.glob(".lockkeys-rollback-*"))


# -- 4. verify --installed --------------------------------------------------------------------


def test_verify_installed_catches_edits_extras_and_downgrades(
    folder_scene: Path, tmp_path: Path, cli: Cli
) -> None:
    python = make_venv(tmp_path / "venv")
    code, _out, err = cli("--lock", folder_scene, "install", "--python", python)
    assert code == 0, err
    code, out, err = cli("--lock", folder_scene, "verify", "--installed", "--python", python)
    assert code == 0, err
    assert "holds exactly the lock (4 packages)" in out

    site = site_packages(python)
    module = site / "foo" / "__init__.py"
    module.write_bytes(b"evil = True\n")
    # ... and the installed RECORD edited to match: still caught (the wheel's RECORD decides)
    record = dist_info(python, "foo") / "RECORD"
    digest = base64.urlsafe_b64encode(hashlib.sha256(module.read_bytes()).digest()).rstrip(b"=")
    lines = [
        f"foo/__init__.py,sha256={digest.decode()},{module.stat().st_size}"
        if line.startswith("foo/__init__.py,")
        else line
        for line in record.read_text().splitlines()
    ]
    record.write_text("\n".join(lines) + "\n")
    pip_install(python, build_wheel(tmp_path / "w", "extra", "0.1"))
    pip_install(python, folder_scene.parent / "public" / "bar-1.0-py3-none-any.whl")
    code, out, err = cli("--lock", folder_scene, "verify", "--installed", "--python", python)
    assert code == 1, err
    findings = [line for line in out.splitlines() if line.startswith("drift: ")]
    assert findings == [
        "drift: other-version: bar: 1.0 is installed, the lock says 1.1",
        "drift: extra: extra: 0.1 is installed, not in the lock",
        "drift: file: foo: foo/__init__.py: differs from the locked wheel's RECORD",
    ]
    code, out, _err = cli(
        "--lock", folder_scene, "verify", "--installed", "--python", python, "--json"
    )
    assert code == 1
    document = json.loads(out)
    assert document["drift"] is True
    assert {(f["kind"], f["package"]) for f in document["findings"]} == {
        ("other-version", "bar"),
        ("extra", "extra"),
        ("file", "foo"),
    }


# -- 5. the verified-file cache ---------------------------------------------------------------


def test_cache_serves_redeploys_and_corrupt_entries_are_fetched_again(
    fixture_data: Path, tmp_path: Path, cli: Cli, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "cache"
    lock = make_scene(fixture_data, tmp_path / "scene", 'path = "public"', "foo\n")
    first = make_venv(tmp_path / "v1")
    code, _out, err = cli("--lock", lock, "install", "--python", first, "--cache-dir", cache)
    assert code == 0, err
    entries = sorted(p for p in (cache / "files").rglob("*") if p.is_file())
    assert len(entries) == 4

    # Source gone: the cache alone serves a new deploy.
    shutil.move(tmp_path / "scene" / "public", tmp_path / "public-away")
    second = make_venv(tmp_path / "v2")
    code, out, err = cli("--lock", lock, "install", "--python", second, "--cache-dir", cache)
    assert code == 0, err
    assert freeze(second) == FREEZE
    # ... and says so, with where the cache first took each file (issue 18): a tampered
    # source that is never read must not look like tamper detection failing.
    folder = (tmp_path / "scene" / "public").resolve()
    for name in ("bar", "broken", "foo", "util"):
        row = next(line for line in out.splitlines() if line.startswith(name + " "))
        assert f"(from the verified-file cache, first fetched from folder {folder})" in row, out

    # A corrupted entry is never installed: discarded, fetched again.
    shutil.move(tmp_path / "public-away", tmp_path / "scene" / "public")
    bar = next(
        e
        for e in entries
        if e.stat().st_size
        == (tmp_path / "scene" / "public" / "bar-1.1-py3-none-any.whl").stat().st_size
    )
    good = bar.read_bytes()
    bar.write_bytes(good[:-10] + b"corrupted!")
    third = make_venv(tmp_path / "v3")
    code, _out, err = cli("--lock", lock, "install", "--python", third, "--cache-dir", cache)
    assert code == 0, err
    assert "is corrupt" in caplog.text and "fetching again" in caplog.text  # (on stderr)
    assert bar.read_bytes() == good  # re-fetched and stored again
    assert freeze(third) == FREEZE


# -- 6. exit codes ----------------------------------------------------------------------------


def test_larger_file_is_a_refusal_and_unreachable_source_is_exit_3(
    fixture_data: Path, tmp_path: Path, cli: Cli
) -> None:
    lock = make_scene(fixture_data, tmp_path / "scene", 'path = "public"', "bar==1.1\n")
    wheel = tmp_path / "scene" / "public" / "bar-1.1-py3-none-any.whl"
    wheel.write_bytes(wheel.read_bytes() + b"\0" * 4096)  # same name, more bytes
    python = make_venv(tmp_path / "venv")
    code, _out, err = cli("--lock", lock, "install", "--python", python)
    assert code == 1, err
    assert "bar 1.1: refused" in err and "larger than the lock allows" in err
    shutil.rmtree(tmp_path / "scene" / "public")
    code, _out, err = cli("--lock", lock, "install", "--python", python, "--no-cache")
    assert code == 3, err


# -- 7. target selection and output for CI logs ------------------------------------------------


def test_target_is_python_then_virtual_env_then_dot_venv_else_an_error(
    folder_scene: Path, tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = folder_scene.parent
    monkeypatch.chdir(project)
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    code, _out, err = cli("install")
    assert code == 2, err
    assert "no target environment" in err and "--python" in err and ".venv" in err

    dot_venv = make_venv(project / ".venv")
    code, _out, err = cli("install")
    assert code == 0, err
    assert freeze(dot_venv) == FREEZE

    active = make_venv(tmp_path / "active")
    monkeypatch.setenv("VIRTUAL_ENV", str(active.parent.parent))
    code, _out, err = cli("sync")
    assert code == 0, err
    assert freeze(active) == FREEZE

    explicit = make_venv(tmp_path / "explicit")
    code, _out, err = cli("install", "--python", explicit)
    assert code == 0, err
    assert freeze(explicit) == FREEZE


def test_lockkeys_own_environment_is_a_target_only_when_named(
    folder_scene: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from the environment lockkeys lives in (activated, or as the project's .venv),
    install and sync refuse (exit 2) instead of mixing the application's packages into
    lockkeys' own, and say how to name it with --python (issue 18); nothing is installed."""
    project = folder_scene.parent
    monkeypatch.chdir(project)
    own = Path(sys.prefix)
    before = freeze(Path(sys.executable))
    monkeypatch.setenv("VIRTUAL_ENV", str(own))
    for command in ("install", "sync"):
        code, _out, err = cli(command)
        assert code == 2, err
        assert "lockkeys' own environment" in err and "--python" in err, err
    monkeypatch.delenv("VIRTUAL_ENV")
    (project / ".venv").symlink_to(own, target_is_directory=True)
    code, _out, err = cli("sync")
    assert code == 2, err
    assert "lockkeys' own environment" in err, err
    assert freeze(Path(sys.executable)) == before


def test_ci_output_one_line_per_package_no_wrapping_quiet_keeps_results(
    folder_scene: Path, tmp_path: Path, cli: Cli
) -> None:
    python = make_venv(tmp_path / "venv")
    code, out, err = cli("--lock", folder_scene, "install", "--python", python)
    assert code == 0, err
    progress = [line for line in err.splitlines() if line.startswith("lockkeys: ")]
    assert progress[:4] == [
        "lockkeys: bar 1.1: sha256 matches the lock",
        "lockkeys: broken 1.0: sha256 matches the lock",
        "lockkeys: foo 1.0: sha256 matches the lock",
        "lockkeys: util 2.1: sha256 matches the lock",
    ]
    table = out.splitlines()[:5]
    assert table[0].split() == ["package", "version", "policy", "status", "detail"]
    assert [line.split()[0] for line in table[1:]] == ["bar", "broken", "foo", "util"]

    code, out, err = cli("-q", "--lock", folder_scene, "install", "--python", python)
    assert code == 0
    assert err == ""  # -q: results and errors only
    # a no-op: its one summary line (the table is for -v, or when something changes)
    assert out.splitlines() == ["plan: 4 keep; all 4 locked package(s) verified; nothing to change"]

    wheel = folder_scene.parent / "public" / "util-2.1-py3-none-any.whl"
    wheel.write_bytes(wheel.read_bytes()[:-1] + b"!")
    code, out, err = cli("-q", "--lock", folder_scene, "verify", "--no-cache")
    assert code == 1
    row = next(line for line in out.splitlines() if line.startswith("util "))
    assert len(row) > 100 and row.endswith("does not match the lock")  # one line, no wrap
    assert len(out.splitlines()) == 5
    assert "util 2.1: refused" in err  # errors still shown with -q
