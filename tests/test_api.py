"""The library surface (issue 20, step 7): lockkeys.api driven as deploy tooling drives it.

A folder source from the committed fixtures, `util` pinned to alice and bob (2 of 2); every
call goes through :mod:`lockkeys.api` and every assertion reads the typed result it returns.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lockkeys import api
from lockkeys.errors import UsageError, VerificationError

CONFIG = """\
requirements = ["requirements.in"]
[[sources]]
name = "public"
path = "public"
[signers]
alice = "keys/alice.asc"
bob = "keys/bob.asc"
[packages.util]
signers = ["alice", "bob"]
threshold = 2
"""


@pytest.fixture
def project(tmp_path: Path, fixture_data: Path) -> Path:
    """The configuration file of a project that locks `util` from a folder of the fixtures."""
    shutil.copytree(fixture_data / "public", tmp_path / "public")
    (tmp_path / "keys").mkdir()
    for name in ("alice", "bob"):
        shutil.copy(fixture_data / "keys" / f"{name}.asc", tmp_path / "keys")
    (tmp_path / "requirements.in").write_text("util\n")
    config = tmp_path / "lockkeys.toml"
    config.write_text(CONFIG)
    return config


def test_lock_then_check_then_a_weakening_relock_shows_in_diff(project: Path) -> None:
    outcome = api.lock(project)
    assert outcome.written and not outcome.stale
    assert outcome.path == project.parent / "pylock.toml" == api.find_lockfile(project)
    assert outcome.lock is not None and outcome.previous is None
    assert [(p.name, p.version) for p in outcome.lock.packages] == [("util", "2.1")]
    assert api.trust_summary(outcome) == []  # a first lock changes no trust

    checked = api.check(project)
    assert not checked.stale and checked.message == "the lock is up to date"
    assert not outcome.path.with_name("pylock.toml.asc").exists()

    old = shutil.copy(outcome.path, project.parent / "old.toml")
    project.write_text(CONFIG.replace("threshold = 2", "threshold = 1"))
    stale = api.check(project)
    assert stale.stale
    assert "packages.util.threshold: the lock says 2, the configuration says 1" in stale.message

    relocked = api.lock(project)
    assert relocked.previous is not None and relocked.changes == ()  # same versions
    assert api.trust_summary(relocked) == [
        "weakening     util  threshold: 2 -> 1  (threshold lowered)"
    ]
    changes = api.diff(old, relocked.path)
    assert isinstance(changes, api.LockDiff)
    assert [(c.package, c.field, c.old, c.new) for c in changes.weakening] == [
        ("util", "threshold", "2", "1")
    ]
    assert changes.weakening[0].kind is api.ChangeKind.WEAKENING


def test_why_names_source_and_signers(project: Path) -> None:
    api.lock(project)
    answer = api.why("UTIL", config=project)
    assert answer.package.name == "util" and answer.package.version == "2.1"
    assert answer.direct_requirements == ["util"]
    assert answer.source_location == "folder public"
    assert sorted(str(name) for name, _fpr in answer.signers) == ["alice", "bob"]
    with pytest.raises(UsageError, match="'nope' is not in the lock"):
        api.why("nope", config=project)


def test_sign_and_verify_signature_count_distinct_signers(
    project: Path, fixture_data: Path
) -> None:
    outcome = api.lock(project)
    keys = project.parent / "release-keys"
    made = api.generate_key("rm", out_dir=keys, user_id="rm (TEST ONLY) <rm@test.invalid>")
    assert made.certificate == keys / "rm.asc" and made.secret.is_file()
    facts = api.show_key(made.certificate)
    assert facts.fingerprint == made.fingerprint and not facts.has_secret
    assert facts.user_ids == ("rm (TEST ONLY) <rm@test.invalid>",)

    [signed] = api.sign([outcome.path], made.secret)
    assert signed.signature_file == outcome.path.with_name("pylock.toml.asc")
    assert signed.signatures_in_file == 1

    [result] = api.verify_signature([outcome.path], [made.certificate])
    assert result.met and result.summary() == "1 of 1 required signers (of 1 trusted)"
    assert [c.fingerprint for c in result.counted] == [made.fingerprint]
    alice = project.parent / "keys" / "alice.asc"
    [short] = api.verify_signature([outcome.path], [made.certificate, alice], threshold=2)
    assert not short.met and short.summary() == "1 of 2 required signers (of 2 trusted)"
    with pytest.raises(VerificationError, match="signature threshold not met"):
        short.require()
    [second] = api.sign([outcome.path], fixture_data / "keys" / "alice.secret.asc")
    assert second.signature_file == signed.signature_file and second.signatures_in_file == 2
    [both] = api.verify_signature([outcome.path], [made.certificate, alice], threshold=2)
    assert both.met and len({c.fingerprint for c in both.counted}) == 2

    # export obeys the same lock-signature rule as a deploy
    exported = api.export(outcome.path, lock_signers=[made.certificate])
    assert exported.signature is not None and exported.signature.met
    assert exported.text.count("util==2.1") == 1 and "--hash=sha256:" in exported.text
    outcome.path.with_name("pylock.toml.asc").unlink()
    with pytest.raises(VerificationError, match="the lock is not signed"):
        api.export(outcome.path, lock_signers=[made.certificate])


def test_importing_the_api_loads_no_machinery() -> None:
    code = (
        "import sys, lockkeys.api\n"
        "heavy = ('typer', 'rich', 'pydantic', 'pysequoia', 'packaging', 'lockkeys._internal')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


RESULT_TYPES = [
    "LockOutcome",
    "PackageChange",
    "Lock",
    "LockedPackage",
    "LockDiff",
    "LockChange",
    "ChangeKind",
    "GateResult",
    "Why",
    "ExportResult",
    "GeneratedFiles",
    "CertFacts",
    "KeyFacts",
    "SignedFile",
    "ThresholdResult",
]


@pytest.mark.parametrize("name", RESULT_TYPES)
def test_result_types_are_importable_by_name(name: str) -> None:
    loaded = getattr(api, name)
    assert isinstance(loaded, type) and name in dir(api)
