"""The pre-commit hooks of ``.pre-commit-hooks.yaml`` on a real temporary git repository.

Offline: each hook's ``entry`` runs as pre-commit runs it (``pass_filenames: false``, from the
repository root) and its ``files`` pattern is checked against the files it guards. With
``-m network``: the real ``pre-commit try-repo``, which installs lockkeys from the package index
into the hook's own environment.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.gitrepo import git, locked_repo, lockkeys, weaken

REPO_ROOT = Path(__file__).resolve().parent.parent
HOOKS = {h["id"]: h for h in yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())}


def _run_hook(repo: Path, hook_id: str) -> subprocess.CompletedProcess[str]:
    """The hook's entry, as pre-commit runs it: no file names, from the repository root."""
    argv = shlex.split(HOOKS[hook_id]["entry"])
    assert argv[0] == "lockkeys"
    assert HOOKS[hook_id]["pass_filenames"] is False
    return subprocess.run(
        [sys.executable, "-m", "lockkeys", *argv[1:]],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_hooks_guard_the_lock_and_its_inputs() -> None:
    check = re.compile(HOOKS["lockkeys-check"]["files"])
    diff = re.compile(HOOKS["lockkeys-diff"]["files"])
    for name in (
        "pylock.toml",
        "lockkeys.toml",
        "pyproject.toml",
        "requirements.in",
        "a/dev-requirements.txt",
    ):
        assert check.search(name), name
    assert diff.search("pylock.toml") and diff.search("app/pylock.toml")
    assert not check.search("src/app.py") and not diff.search("src/app.py")


def test_check_hook_passes_a_fresh_lock_and_fails_a_hand_edited_one(
    tmp_path: Path, fixture_data: Path
) -> None:
    repo = locked_repo(tmp_path, fixture_data)
    assert _run_hook(repo, "lockkeys-check").returncode == 0
    weaken(repo)
    proc = _run_hook(repo, "lockkeys-check")
    assert proc.returncode == 1, proc.stdout + proc.stderr


def test_diff_hook_fails_on_a_weakening_against_head_and_passes_a_version_bump(
    tmp_path: Path, fixture_data: Path
) -> None:
    repo = locked_repo(tmp_path, fixture_data)
    assert _run_hook(repo, "lockkeys-diff").returncode == 0  # nothing changed
    weaken(repo)
    proc = _run_hook(repo, "lockkeys-diff")
    assert proc.returncode == 1
    assert "weakening" in proc.stdout and "verify: hashes -> none" in proc.stdout, proc.stdout
    # a re-lock that only changes versions is no weakening
    git(repo, "checkout", "--", "pylock.toml")
    (repo / "requirements.in").write_text("foo\nutil==2.0\n")
    lockkeys(repo, "lock")
    proc = _run_hook(repo, "lockkeys-diff")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "util" in proc.stdout and "2.1 -> 2.0" in proc.stdout, proc.stdout


@pytest.mark.network
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_hooks_through_real_pre_commit_try_repo(tmp_path: Path, fixture_data: Path) -> None:
    """pre-commit installs lockkeys from this repository (and its dependencies from the
    package index) and runs both hooks: they pass, then fail on a weakened lock."""
    pytest.importorskip("pre_commit")
    repo = locked_repo(tmp_path, fixture_data)
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}

    def try_repo(hook: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pre_commit", "try-repo", str(REPO_ROOT), hook, "--all-files"],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )

    for hook in HOOKS:
        assert try_repo(hook).returncode == 0, hook
    weaken(repo)
    git(repo, "add", "pylock.toml")
    for hook in HOOKS:
        proc = try_repo(hook)
        assert proc.returncode == 1, proc.stdout + proc.stderr


def test_ci_runs_on_every_python_the_project_declares() -> None:
    """.github/workflows/ci.yml's matrix is exactly the Pythons pyproject.toml declares."""
    import tomllib

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    declared = sorted(
        c.rsplit(" :: ", 1)[-1]
        for c in project["classifiers"]
        if c.startswith("Programming Language :: Python :: 3.")
    )
    workflow = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "ci.yml").read_text())
    assert sorted(workflow["jobs"]["test"]["strategy"]["matrix"]["python"]) == declared
    assert project["requires-python"] == f">={declared[0]}"
