"""Sync, rollback and recovery never lose a file, and act only inside their own environment
(issue 19, rule 4), and a live run's private folders are never taken for abandoned ones
(rule 5: liveness by ``flock``, not by a pid another namespace cannot see).

Real virtual environments, the real builtin installer and pip, real processes holding locks.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fixtures.wheelmaker import build_wheel
from lockkeys._internal.install import apply, pipeline
from lockkeys._internal.install.environment import TargetEnvironment
from lockkeys._internal.install.recovery import recover
from lockkeys._internal.install.workdir import sweep_stale_workdirs
from tests.support.cli import Cli
from tests.support.deployscenes import (
    break_util,
    make_scene,
    pip_install,
    run_until_installing,
    upgrade_scene,
)
from tests.support.venvs import make_venv, site_packages, snapshot

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
LOCK_FILE = ".lockkeys-lock"  # the lock file a run holds in its private folders
NAMESPACE_INIT = b'__path__ = __import__("pkgutil").extend_path(__path__, __name__)\nKIND = "ns"\n'


def tree(prefix: Path) -> dict[str, str]:
    """Every folder, file (sha256) and symlink (target) under ``prefix``."""
    found: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(prefix):
        here = Path(dirpath)
        for name in dirnames:
            path = here / name
            rel = str(path.relative_to(prefix))
            found[rel] = f"link:{os.readlink(path)}" if path.is_symlink() else "dir"
        for name in filenames:
            path = here / name
            rel = str(path.relative_to(prefix))
            if path.is_symlink():
                found[rel] = f"link:{os.readlink(path)}"
            else:
                found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def dead_pid() -> int:
    """A pid no process has (what a live run in another pid namespace looks like)."""
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    for pid in range(pid_max - 1, 1, -1):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            continue
    raise AssertionError("no free pid")


HOLDER = """
import fcntl, os, sys
fd = os.open(os.path.join(sys.argv[1], sys.argv[2]), os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
print("locked", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def holder() -> Iterator[Callable[[Path], subprocess.Popen[str]]]:
    """``hold(folder)``: another process takes the run lock of ``folder`` and keeps it."""
    started: list[subprocess.Popen[str]] = []

    def hold(folder: Path) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(folder), LOCK_FILE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        started.append(proc)
        return proc

    yield hold
    for proc in started:
        proc.kill()
        proc.communicate()


def begin_in_child(python: Path) -> subprocess.Popen[str]:
    """A lockkeys run in another process that has saved ``python``'s environment (its
    transaction began) and now waits, as if installing; kill it to simulate a crash."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from lockkeys._internal.install.environment import probe; "
            "from lockkeys._internal.install.transaction import Transaction; "
            "t = Transaction(probe(sys.argv[1])); t.begin(); print('begun', flush=True); "
            "sys.stdin.read()",
            str(python),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "begun"
    return proc


# -- rule 4: removing an extra leaves files that a kept distribution lists -------------------


def test_sync_removing_extra_keeps_namespace_init_a_kept_distribution_also_lists(
    fixture_data: Path, tmp_path: Path, cli: Cli
) -> None:
    scene = tmp_path / "scene"
    shutil.copytree(fixture_data / "public", scene / "public")
    files_a = {"ns/__init__.py": NAMESPACE_INIT, "ns/a.py": b"VALUE = 'a'\n"}
    build_wheel(scene / "public", "nsa", "1.0", files=files_a)
    lock = make_scene(fixture_data, scene, 'path = "public"', "nsa\n")
    python = make_venv(tmp_path / "venv")
    code, _out, err = cli("--lock", lock, "install", "--python", python)
    assert code == 0, err
    files_b = {"ns/__init__.py": NAMESPACE_INIT, "ns/b.py": b"VALUE = 'b'\n"}
    pip_install(python, build_wheel(tmp_path / "w", "nsb", "1.0", files=files_b))
    init = site_packages(python) / "ns" / "__init__.py"
    assert init.read_bytes() == NAMESPACE_INIT

    code, out, err = cli("--lock", lock, "sync", "--python", python)
    assert code == 0, err
    assert "remove     nsb 1.0 (not in the lock)" in out
    assert init.read_bytes() == NAMESPACE_INIT  # nsa's RECORD lists it: it stays
    assert not (site_packages(python) / "ns" / "b.py").exists()
    assert not list(site_packages(python).glob("nsb-*.dist-info"))
    imported = subprocess.run(
        [str(python), "-I", "-c", "import ns, ns.a; print(ns.KIND, ns.a.VALUE)"],
        capture_output=True,
        text=True,
    )
    assert imported.stdout.split() == ["ns", "a"], imported.stderr
    code, out, err = cli("--lock", lock, "verify", "--installed", "--python", python)
    assert code == 0, out + err


@pytest.mark.parametrize("installer", ["builtin", "pip"])
def test_upgrade_keeps_namespace_init_a_kept_distribution_also_lists(
    fixture_data: Path, tmp_path: Path, cli: Cli, installer: str
) -> None:
    """nsb 1.1 no longer ships ``ns/__init__.py``; replacing nsb 1.0 (pip uninstalls every
    file of its RECORD) must leave the one nsa also lists."""
    scene = tmp_path / "scene"
    shutil.copytree(fixture_data / "public", scene / "public")
    files_a = {"ns/__init__.py": NAMESPACE_INIT, "ns/a.py": b"VALUE = 'a'\n"}
    build_wheel(scene / "public", "nsa", "1.0", files=files_a)
    build_wheel(scene / "public", "nsb", "1.1", files={"ns/b.py": b"VALUE = 'b11'\n"})
    lock = make_scene(fixture_data, scene, 'path = "public"', "nsa\nnsb\n")
    python = make_venv(tmp_path / "venv")
    files_b = {"ns/__init__.py": NAMESPACE_INIT, "ns/b.py": b"VALUE = 'b'\n"}
    pip_install(
        python,
        scene / "public" / "nsa-1.0-py3-none-any.whl",
        build_wheel(tmp_path / "w", "nsb", "1.0", files=files_b),
    )
    init = site_packages(python) / "ns" / "__init__.py"

    code, out, err = cli("--lock", lock, "install", "--python", python, "--installer", installer)
    assert code == 0, err
    assert "upgrade    nsb 1.0 -> 1.1" in out
    assert init.read_bytes() == NAMESPACE_INIT
    code, out, err = cli("--lock", lock, "verify", "--installed", "--python", python)
    assert code == 0, out + err


# -- rule 4: a failed sync restores data and headers files of a removed extra ----------------


def test_failed_sync_restores_data_and_headers_files_of_removed_extra(
    fixture_data: Path, tmp_path: Path, cli: Cli
) -> None:
    old, new = upgrade_scene(fixture_data, tmp_path)
    break_util(new)  # passes verification; the installer then refuses it: a real failure
    python = make_venv(tmp_path / "venv")
    prefix = python.parent.parent
    code, _out, err = cli("--lock", old, "install", "--python", python)
    assert code == 0, err
    extra = build_wheel(
        tmp_path / "w",
        "extra",
        "0.1",
        files={
            "extra/__init__.py": b"",
            "extra-0.1.data/data/share/extra/notes.txt": b"data scheme file\n",
            "extra-0.1.data/headers/extra.h": b"#define EXTRA 1\n",
        },
    )
    pip_install(python, extra)
    assert (prefix / "share" / "extra" / "notes.txt").is_file()
    assert list(prefix.glob("include/site/python*/extra/extra.h"))
    before = tree(prefix)

    code, _out, err = cli("--lock", new, "sync", "--python", python)
    assert code == 1, err
    assert "remove extra 0.1" in err  # the extra was removed before the failing install
    assert "the environment was restored to its state before this run" in err
    assert tree(prefix) == before  # every folder, file and link, byte for byte


def test_failed_sync_outside_a_venv_restores_data_files_of_removed_extra(
    fixture_data: Path, tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outside a virtual environment ``data`` is a system prefix (``/usr``) and is not saved
    whole: the files that removed RECORDs name are saved one by one. (Simulated: the venv is
    reported as a system interpreter, base_prefix == prefix.)"""
    old, new = upgrade_scene(fixture_data, tmp_path)
    break_util(new)
    python = make_venv(tmp_path / "venv")
    prefix = python.parent.parent
    code, _out, err = cli("--lock", old, "install", "--python", python)
    assert code == 0, err
    files = {"extra/__init__.py": b"", "extra-0.1.data/data/share/extra/notes.txt": b"n\n"}
    pip_install(python, build_wheel(tmp_path / "w", "extra", "0.1", files=files))
    real_probe = pipeline.probe

    def system_like(python: str | None = None) -> TargetEnvironment:
        env = real_probe(python)
        return dataclasses.replace(env, base_prefix=env.prefix)

    monkeypatch.setattr(pipeline, "probe", system_like)
    monkeypatch.setattr(apply, "probe", system_like)
    before = tree(prefix)
    code, _out, err = cli("--lock", new, "sync", "--python", python)
    assert code == 1, err
    assert "the environment was restored to its state before this run" in err
    assert tree(prefix) == before


# -- rule 4: recovery in a copied venv acts only inside the copy ----------------------------


def test_recovery_in_copied_venv_leaves_the_original_environment_alone(
    fixture_data: Path, tmp_path: Path, cli: Cli
) -> None:
    old, new = upgrade_scene(fixture_data, tmp_path)
    original = tmp_path / "venv"
    python = make_venv(original)
    code, _out, err = cli("--lock", old, "install", "--python", python)
    assert code == 0, err
    before = snapshot(python)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    marker = tmp_path / "marker"
    args = ["--lock", str(new), "install", "--python", str(python)]
    proc = run_until_installing(args, "builtin", marker, tmp)
    proc.kill()  # SIGKILL in the middle of the install: a backup is left behind
    proc.communicate(timeout=60)
    assert list(original.glob(".lockkeys-rollback-*"))
    crashed = tree(original)
    assert snapshot(python) != before

    copy = tmp_path / "copy"
    subprocess.run(["cp", "-a", str(original), str(copy)], check=True)  # as a CI cache does
    code, out, err = cli("--lock", old, "install", "--python", copy / "bin" / "python")
    assert tree(original) == crashed  # not a file of the original was touched
    assert code == 0, err
    assert "plan: 3 keep" in out  # the copy was recovered first: nothing left to do
    assert snapshot(copy / "bin" / "python") == before
    assert not list(copy.glob(".lockkeys-rollback-*"))

    code, out, err = cli("--lock", old, "install", "--python", python)  # its own recovery
    assert code == 0, err
    assert "plan: 3 keep" in out and snapshot(python) == before


def test_recovery_of_older_lockkeys_backup_in_copied_venv_leaves_the_original_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A backup an older lockkeys left (absolute paths, no lock file), copied with its venv:
    the copy's recovery must not act on the absolute paths, which name the original."""
    original = tmp_path / "venv"
    python = make_venv(original)
    runner = begin_in_child(python)
    runner.kill()
    runner.communicate()
    (backup,) = original.glob(".lockkeys-rollback-*")
    manifest = json.loads((backup / "manifest.json").read_text())
    manifest = {  # the manifest as lockkeys wrote it before: absolute paths, no lock file
        "pid": manifest["pid"],
        "roots": [str(original / r) for r in manifest["roots"]],
        "files": manifest["files"],
        "dirs": manifest["dirs"],
        "copied": manifest["copied"],
        "outside": [],
    }
    (backup / "manifest.json").write_text(json.dumps(manifest))
    (backup / LOCK_FILE).unlink(missing_ok=True)
    hour_ago = time.time() - 3600
    os.utime(backup, (hour_ago, hour_ago))
    installed_since = site_packages(python) / "installed_since.py"
    installed_since.write_text("w = 4\n")  # what the interrupted run had installed
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-a", str(original), str(copy)], check=True)
    crashed = tree(original)

    with caplog.at_level(logging.WARNING, logger="lockkeys.install"):
        recover(copy)
    assert tree(original) == crashed
    assert "outside" in caplog.text and "copied or moved" in caplog.text
    assert not list(copy.glob(".lockkeys-rollback-*"))
    assert len(list(copy.glob(".lockkeys-unrecovered-*"))) == 1
    recover(original)  # in its own environment the old backup still restores
    assert not installed_since.exists()


def test_recovery_skips_backup_root_that_a_symlink_leads_outside_the_environment(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    python = make_venv(tmp_path / "venv")
    prefix = python.parent.parent
    site = site_packages(python)
    (site / "kept.py").write_text("x = 1\n")
    runner = begin_in_child(python)
    runner.kill()  # the run dies: its lock is released, the backup stays
    runner.communicate()
    elsewhere = tmp_path / "elsewhere"
    shutil.move(site, elsewhere)
    site.symlink_to(elsewhere)  # site-packages now leads out of the environment
    (elsewhere / "not-ours.py").write_text("y = 2\n")
    with caplog.at_level(logging.WARNING, logger="lockkeys.install"):
        recover(prefix)
    assert (elsewhere / "not-ours.py").read_text() == "y = 2\n"  # nothing done out there
    assert "outside" in caplog.text and str(elsewhere) in caplog.text
    assert not list(prefix.glob(".lockkeys-rollback-*"))  # never restored again
    assert len(list(prefix.glob(".lockkeys-unrecovered-*"))) == 1  # kept for the user


# -- rule 5: liveness by a lock held for the run's lifetime, across pid namespaces ----------


def test_sweep_keeps_live_workdir_whose_pid_looks_dead_and_removes_stale_ones(
    tmp_path: Path, holder: Callable[[Path], subprocess.Popen[str]]
) -> None:
    pid = dead_pid()
    live = tmp_path / f"lockkeys-verified-{pid}-live"
    stale = tmp_path / f"lockkeys-verified-{pid}-stale"
    young = tmp_path / f"lockkeys-verified-{pid}-young"
    ancient = tmp_path / f"lockkeys-verified-{pid}-ancient"
    for folder in (live, stale, young, ancient):
        folder.mkdir(mode=0o700)
        (folder / "verified.whl").write_bytes(b"private")
    holder(live)  # a run in another pid namespace: its pid means nothing here
    (stale / LOCK_FILE).write_bytes(b"")  # its run died: nobody holds the lock
    day_ago = time.time() - 2 * 24 * 3600
    os.utime(ancient, (day_ago, day_ago))  # an older lockkeys' folder, long abandoned

    sweep_stale_workdirs(tmp_path)
    assert (live / "verified.whl").read_bytes() == b"private"
    assert not stale.exists()
    assert young.exists()  # no lock file yet: may be being created right now
    assert not ancient.exists()


def test_run_workdir_is_private_and_locked_for_the_whole_run(
    fixture_data: Path, tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = make_scene(fixture_data, tmp_path / "scene", 'path = "public"', "foo\n")
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    seen: list[tuple[int, bool]] = []
    real = pipeline.verify_into

    def spy(*args: object, **kwargs: object) -> object:
        workdir = Path(str(args[2]))
        others = subprocess.run(  # another process tries the run's lock: it is held
            [
                sys.executable,
                "-c",
                "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); "
                "fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)",
                str(workdir / LOCK_FILE),
            ],
            capture_output=True,
            text=True,
        )
        seen.append((workdir.stat().st_mode & 0o777, "BlockingIOError" in others.stderr))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "verify_into", spy)
    code, _out, err = cli("--lock", lock, "verify")
    assert code == 0, err
    assert seen == [(0o700, True)]
    assert list(root.iterdir()) == []


def test_recovery_skips_backup_of_live_run_whose_pid_looks_dead(tmp_path: Path) -> None:
    python = make_venv(tmp_path / "venv")
    prefix = python.parent.parent
    runner = begin_in_child(python)  # a live run, in another pid namespace as we see it
    try:
        (backup,) = prefix.glob(".lockkeys-rollback-*")
        manifest = json.loads((backup / "manifest.json").read_text())
        manifest["pid"] = dead_pid()
        (backup / "manifest.json").write_text(json.dumps(manifest))
        backup = backup.rename(prefix / f".lockkeys-rollback-{manifest['pid']}-x")
        new_module = site_packages(python) / "being_installed.py"
        new_module.write_text("z = 3\n")  # the live run is installing

        assert recover(prefix) == []
        assert new_module.exists() and backup.is_dir()
    finally:
        runner.send_signal(signal.SIGKILL)  # now it is really gone
        runner.communicate()
    assert recover(prefix) == [str(backup)]
    assert not new_module.exists() and not backup.exists()
