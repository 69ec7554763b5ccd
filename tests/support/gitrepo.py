"""A real temporary git repository holding a locked lockkeys project (hooks and gate tests)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` as a test user; return its stdout."""
    return subprocess.run(
        ["git", "-c", "user.name=lockkeys tests", "-c", "user.email=tests@example.invalid", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def lockkeys(repo: Path, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    """``lockkeys ARGS`` in ``repo`` (a subprocess, as a CI step runs it)."""
    proc = subprocess.run(
        [sys.executable, "-m", "lockkeys", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == expect, proc.stdout + proc.stderr
    return proc


def locked_repo(root: Path, fixture_data: Path) -> Path:
    """``root/app``: a lockkeys.toml over a bundled folder (``foo`` and what it needs), locked
    and committed on branch ``main``."""
    repo = root / "app"
    repo.mkdir()
    shutil.copytree(fixture_data / "public", repo / "public")
    (repo / "requirements.in").write_text("foo\n")
    (repo / "lockkeys.toml").write_text(
        'requirements = ["requirements.in"]\n\n[[sources]]\nname = "public"\npath = "public"\n'
    )
    git(repo, "init", "-q", "--initial-branch=main")
    lockkeys(repo, "lock")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "lock")
    return repo


def weaken(repo: Path) -> None:
    """Hand-edit the lock: the first package's policy drops its hash check."""
    lock = repo / "pylock.toml"
    lock.write_text(lock.read_text().replace('verify = "hashes"', 'verify = "none"', 1))
