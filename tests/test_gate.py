"""`lockkeys gate`: the pull-request gate, on a real temporary git repository.

A branch that weakens a policy fails (exit 1) with a summary naming the package and the field;
one that only moves a version passes; a lock left stale fails; a source that cannot be reached
is exit 3. The Markdown summary goes to ``--summary`` or ``$GITHUB_STEP_SUMMARY``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.gitrepo import git, locked_repo, lockkeys, weaken


def _branch(repo: Path, name: str) -> None:
    git(repo, "checkout", "-q", "-b", name)


def _commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def test_gate_fails_a_branch_that_weakens_a_policy_naming_package_and_field(
    tmp_path: Path, fixture_data: Path
) -> None:
    repo = locked_repo(tmp_path, fixture_data)
    base = git(repo, "rev-parse", "HEAD").strip()
    _branch(repo, "weaken")
    weaken(repo)
    _commit(repo, "bar: no hash check")
    summary = tmp_path / "summary.md"
    proc = lockkeys(repo, "gate", "--base", base, "--summary", str(summary), expect=1)
    assert "weakening     bar  verify: hashes -> none" in proc.stdout, proc.stdout
    assert "FAILED" in proc.stderr and "1 weakening change(s)" in proc.stderr
    text = summary.read_text()
    assert text.index("**Failed:**") < text.index("### Weakening changes (1)")
    assert "| bar | verify | hashes | none | policy moved to none |" in text, text
    # hand-edited against the configuration too: the check says what differs
    assert "packages.bar.verify" in text


def test_gate_passes_a_version_bump_and_lists_it(tmp_path: Path, fixture_data: Path) -> None:
    repo = locked_repo(tmp_path, fixture_data)
    _branch(repo, "bump")
    (repo / "requirements.in").write_text("foo\nutil==2.0\n")
    lockkeys(repo, "lock")
    _commit(repo, "util 2.0")
    summary = tmp_path / "summary.md"
    proc = subprocess.run(
        [sys.executable, "-m", "lockkeys", "gate", "--base", "main"],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, "GITHUB_STEP_SUMMARY": str(summary)},
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "neutral       util  version: 2.1 -> 2.0" in proc.stdout, proc.stdout
    text = summary.read_text()
    assert "**Passed:**" in text and "Weakening" not in text
    assert "- added: `util 2.0`" in text and "- removed: `util 2.1`" in text
    assert "of 4 package(s) passed their policy" in text


def test_gate_fails_a_stale_lock(tmp_path: Path, fixture_data: Path) -> None:
    repo = locked_repo(tmp_path, fixture_data)
    base = git(repo, "rev-parse", "HEAD").strip()
    _branch(repo, "stale")
    (repo / "requirements.in").write_text("foo\nutil==2.0\n")  # not re-locked
    _commit(repo, "asks for util 2.0, lock not updated")
    summary = tmp_path / "summary.md"
    proc = lockkeys(
        repo, "gate", "--base", base, "--summary", str(summary), "--no-verify", expect=1
    )
    assert "the lock is stale" in proc.stdout, proc.stdout
    text = summary.read_text()
    assert "**Failed:** the lock is stale or was edited by hand" in text
    assert "### `verify`" not in text  # --no-verify


def test_gate_unreachable_source_is_exit_3(tmp_path: Path, fixture_data: Path) -> None:
    repo = locked_repo(tmp_path, fixture_data)
    base = git(repo, "rev-parse", "HEAD").strip()
    shutil.rmtree(repo / "public")
    proc = lockkeys(repo, "gate", "--base", base, expect=3)
    assert "public" in proc.stderr


def test_check_after_a_source_changed_says_which_file_and_how_to_relock(
    tmp_path: Path, fixture_data: Path
) -> None:
    """A rebuild at the source (same name and version, other bytes) makes `lock --check` fail
    saying that the source serves other bytes for that file, with the re-lock command, not
    only '(edited by hand?)' (issue 18)."""
    from fixtures.wheelmaker import build_wheel, module_source

    repo = locked_repo(tmp_path, fixture_data)
    build_wheel(
        repo / "public",
        "util",
        "2.1",
        files={"util/__init__.py": module_source("util", "2.1", "rebuilt at the source")},
    )
    proc = lockkeys(repo, "lock", "--check", expect=1)
    assert "a source changed, or the lock was edited by hand" in proc.stdout, proc.stdout
    assert "util-2.1-py3-none-any.whl: the source now serves other bytes" in proc.stdout
    assert "`lockkeys lock --upgrade-package util`" in proc.stdout
    lockkeys(repo, "lock", "--upgrade-package", "util")
    lockkeys(repo, "lock", "--check")
