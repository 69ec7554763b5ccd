"""Issue 19, smaller findings: `export` obeys the lock-signature rule of the deploy commands;
`key show` says exactly which signatures of a softly revoked key still count.

Keys are made by real GnuPG (tests/gnupg.py); every user ID says TEST ONLY.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from gnupg import GnuPG

from lockkeys._internal.cli import main
from lockkeys._internal.locktrust.locksignature import SIGNERS_ENV

pytestmark = pytest.mark.skipif(shutil.which("gpg") is None, reason="GnuPG is not installed")


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- (a) export applies the lock-signature policy --------------------------------------------


@pytest.fixture
def locked(tmp_path: Path, fixture_data: Path) -> Path:
    shutil.copytree(fixture_data / "public", tmp_path / "public")
    (tmp_path / "requirements.in").write_text("foo\n")
    (tmp_path / "lockkeys.toml").write_text(
        'requirements = ["requirements.in"]\n[[sources]]\nname = "public"\npath = "public"\n'
    )
    assert main(["--config", str(tmp_path / "lockkeys.toml"), "lock"]) == 0
    return tmp_path / "pylock.toml"


@pytest.fixture
def release_manager(tmp_path: Path) -> Iterator[tuple[GnuPG, str, Path]]:
    with GnuPG() as g:
        fpr = g.gen_key("release manager (TEST ONLY)")
        cert = tmp_path / "rm.asc"
        cert.write_bytes(g.export(fpr))
        yield g, fpr, cert


@pytest.mark.parametrize("how", ["option", "environment"])
@pytest.mark.parametrize("fmt", ["requirements", "pylock"])
def test_export_refuses_a_lock_that_fails_the_lock_signature_policy(
    locked: Path,
    release_manager: tuple[GnuPG, str, Path],
    how: str,
    fmt: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Finding: `export` wrote requirements from a lock the deploy commands refuse (exit 0)."""
    g, fpr, cert = release_manager
    options: list[str | Path] = []
    if how == "option":
        options = ["--lock-signer", cert]
    else:
        monkeypatch.setenv(SIGNERS_ENV, str(cert))
    out = tmp_path / "exported.txt"
    base = ["--lock", locked, "export", "--format", fmt, "-o", out, *options]
    # Not signed: refused like `install` refuses it, and nothing is written.
    code, stdout, err = run(capsys, *base)
    assert code == 1, err
    assert "the lock is not signed, and lock signers are required" in err
    assert not out.exists() and stdout == ""
    verify_code, _, _ = run(capsys, "--lock", locked, "verify", *options)
    assert verify_code == code  # the same rule as the deploy commands
    # Signed by someone else: refused.
    with GnuPG() as other:
        stranger = other.gen_key("stranger (TEST ONLY)")
        Path(f"{locked}.asc").write_bytes(other.sign(stranger, locked).read_bytes())
    code, _, err = run(capsys, *base)
    assert code == 1 and "do not meet the lock threshold" in err, err
    assert not out.exists()
    # Signed by the lock signer: exported, from the very bytes checked.
    Path(f"{locked}.asc").write_bytes(g.sign(fpr, locked).read_bytes())
    code, _, err = run(capsys, *base)
    assert code == 0, err
    assert "lock signed:" in err
    wanted = "foo==" if fmt == "requirements" else 'name = "foo"'
    assert wanted in out.read_text()


def test_export_without_lock_signers_exports_as_before(
    locked: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--lock", locked, "export")
    assert code == 0, err
    assert "foo==" in out and "--hash=sha256:" in out


def test_export_lock_threshold_without_signers_is_a_usage_error(
    locked: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "--lock", locked, "export", "--lock-threshold", "2")
    assert code == 2 and "a lock threshold without lock signers" in err, err


# --- (c) key show: a soft revocation voids only later signatures ------------------------------


def test_key_show_soft_revocation_says_earlier_signatures_still_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Finding: `key show` said signatures of a softly revoked key "do not count", yet those
    made before the revocation count (as the verifier rightly decides)."""
    before, after = tmp_path / "before.txt", tmp_path / "after.txt"
    before.write_text("signed before the revocation\n")
    after.write_text("signed after the revocation\n")
    with GnuPG() as g:
        fpr = g.gen_key("retired signer (TEST ONLY)", at="20240101T000000")
        g.sign(fpr, before, at="20240201T000000", out=tmp_path / "before.txt.asc")
        g.sign(fpr, after, at="20240401T000000", out=tmp_path / "after.txt.asc")
        g.revoke_key(fpr, 2, at="20240301T000000")  # superseded: a soft revocation
        cert = tmp_path / "retired.asc"
        cert.write_bytes(g.export(fpr))
        hard_fpr = g.gen_key("compromised signer (TEST ONLY)", at="20240101T000000")
        g.revoke_key(hard_fpr, 1, at="20240301T000000")  # compromised: a hard revocation
        hard = tmp_path / "compromised.asc"
        hard.write_bytes(g.export(hard_fpr))
    code, out, err = run(capsys, "key", "show", cert)
    assert code == 0, err
    assert (
        "REVOKED: signatures made after 2024-03-01 00:00:00 UTC do not count; earlier ones still do"
    ) in out, out
    assert "signatures by this certificate do not count" not in out
    # What it says is what the verifier does.
    code, _, err = run(capsys, "verify-signature", before, "--signer", cert)
    assert code == 0, err
    code, _, err = run(capsys, "verify-signature", after, "--signer", cert)
    assert code == 1, err
    code, out, _ = run(capsys, "key", "show", "--json", cert)
    assert json.loads(out)[0]["primary"]["revoked_at"] == "2024-03-01T00:00:00+00:00"
    # A hard revocation voids every signature, whenever made: said so.
    code, out, err = run(capsys, "key", "show", hard)
    assert code == 0, err
    assert "REVOKED: signatures by this certificate do not count" in out, out
    code, out, _ = run(capsys, "key", "show", "--json", hard)
    assert json.loads(out)[0]["primary"]["revoked_at"] is None


def test_key_show_soft_subkey_revocation_says_earlier_signatures_still_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with GnuPG() as g:
        fpr = g.gen_key("rotating signer (TEST ONLY)", at="20240101T000000")
        sub = g.add_subkey(fpr, at="20240101T000000")
        g.revoke_subkey(fpr, sub, 3, at="20240201T000000")  # no longer used: soft
        cert = tmp_path / "rotating.asc"
        cert.write_bytes(g.export(fpr))
    code, out, err = run(capsys, "key", "show", cert)
    assert code == 0, err
    row = next(line for line in out.splitlines() if sub.upper() in line)
    assert (
        "revoked (key retired): signatures made after 2024-02-01 00:00:00 UTC do not count; "
        "earlier ones still do"
    ) in row, out
    assert "REVOKED" not in out  # the certificate itself is not revoked
