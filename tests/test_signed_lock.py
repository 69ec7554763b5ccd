"""The lock itself signed n of m (item 7): checked before anything else is read from it.

Lock signers are GnuPG-made keys; the signatures over pylock.toml are made by gpg.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from gnupg import GnuPG

from lockkeys.cli import main
from lockkeys.trust import verify_bytes, verify_file
from tests.support.venvs import installed, make_venv

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("gpg") is None, reason="GnuPG is not installed"),
]

CONFIG = """requirements = ["requirements.in"]
[[sources]]
name = "public"
path = "public"

[signers]
alice = "keys/alice.asc"

[packages.foo]
signers = ["alice"]
verify = "hashes+signatures"
"""


@pytest.fixture
def project(tmp_path: Path, fixture_data: Path) -> Path:
    shutil.copytree(fixture_data / "public", tmp_path / "public")
    shutil.copytree(fixture_data / "keys", tmp_path / "keys")
    (tmp_path / "requirements.in").write_text("foo\n")
    (tmp_path / "lockkeys.toml").write_text(CONFIG)
    assert main(["--config", str(tmp_path / "lockkeys.toml"), "lock"]) == 0
    return tmp_path


@pytest.fixture
def lock_signers(tmp_path: Path) -> Iterator[tuple[GnuPG, dict[str, str], dict[str, Path]]]:
    """Three release managers' keys, made by GnuPG; their certificates as files."""
    with GnuPG() as g:
        fprs = {n: g.gen_key(f"{n} lock signer (TEST ONLY)") for n in ("rm1", "rm2", "rm3")}
        certs = {}
        for name, fpr in fprs.items():
            certs[name] = tmp_path / f"{name}.asc"
            certs[name].write_bytes(g.export(fpr))
        yield g, fprs, certs


def sign_lock(g: GnuPG, fprs: dict[str, str], lock: Path, *names: str) -> None:
    parts = [g.sign(fprs[n], lock).read_bytes() for n in names]
    Path(f"{lock}.asc").write_bytes(b"".join(parts))


def signer_args(certs: dict[str, Path]) -> list[str]:
    return [arg for c in certs.values() for arg in ("--lock-signer", str(c))]


def test_lock_signed_2_of_3_installs(
    project: Path,
    lock_signers: tuple[GnuPG, dict[str, str], dict[str, Path]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    g, fprs, certs = lock_signers
    lock = project / "pylock.toml"
    python = make_venv(project / "venv")
    sign_lock(g, fprs, lock, "rm1")
    args = ["--lock", str(lock), "install", "--python", str(python), *signer_args(certs)]
    capsys.readouterr()
    assert main([*args, "--lock-threshold", "2"]) == 1  # one of three is not enough
    assert "1 of 2 required signers" in capsys.readouterr().err
    assert installed(python) == []
    sign_lock(g, fprs, lock, "rm1", "rm3")
    assert main([*args, "--lock-threshold", "2"]) == 0
    assert "lock signed: 2 of 2 required signers (of 3 trusted)" in capsys.readouterr().err
    assert ["foo", "1.0"] in installed(python)


def test_row_20_lock_edited_after_signing_refused_before_any_download(
    project: Path,
    lock_signers: tuple[GnuPG, dict[str, str], dict[str, Path]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    g, fprs, certs = lock_signers
    lock = project / "pylock.toml"
    sign_lock(g, fprs, lock, "rm1", "rm2")
    text = lock.read_text()
    assert 'verify = "hashes+signatures"' in text
    lock.write_text(text.replace('verify = "hashes+signatures"', 'verify = "hashes"', 1))
    # The source is gone: reading the lock and fetching anything would be a source error
    # (exit 3). The refusal comes first, from the lock's own signatures.
    shutil.rmtree(project / "public")
    capsys.readouterr()
    code = main(["--lock", str(lock), "verify", *signer_args(certs), "--lock-threshold", "2"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "the lock's signatures do not meet the lock threshold" in err
    assert "nothing was read from it" in err
    # The same from the environment, as on a deploy host; and download refuses too.
    monkeypatch.setenv("LOCKKEYS_LOCK_SIGNERS", ":".join(str(c) for c in certs.values()))
    monkeypatch.setenv("LOCKKEYS_LOCK_THRESHOLD", "2")
    assert main(["--lock", str(lock), "download", "--dest", str(project / "wh")]) == 1
    assert not (project / "wh").exists() or not any((project / "wh").iterdir())
    lock.unlink()
    Path(f"{lock}.asc").unlink()
    lock.write_text(text)
    assert main(["--lock", str(lock), "verify"]) == 1
    assert "the lock is not signed" in capsys.readouterr().err


def test_lock_threshold_without_signers_is_a_usage_error(project: Path) -> None:
    assert main(["--lock", str(project / "pylock.toml"), "verify", "--lock-threshold", "2"]) == 2


def test_verify_bytes_checks_the_bytes_given_never_the_file_again(
    tmp_path: Path, lock_signers: tuple[GnuPG, dict[str, str], dict[str, Path]]
) -> None:
    g, fprs, certs = lock_signers
    signed, edited = b"threshold = 2\n", b"threshold = 1\n"
    file = tmp_path / "pylock.toml"
    file.write_bytes(edited)
    over_edited = g.sign(fprs["rm1"], file).read_bytes()
    file.write_bytes(signed)
    asc = tmp_path / "pylock.toml.asc"
    # rm1 signed twice (the edited bytes too), so the 16-bit quick check runs over the bytes.
    asc.write_bytes(
        over_edited
        + g.sign(fprs["rm1"], file).read_bytes()
        + g.sign(fprs["rm2"], file).read_bytes()
    )
    signers = list(certs.values())
    file.write_bytes(edited)  # the file on disk changes after it was read
    ok = verify_bytes(signed, str(file), signers, signatures=[asc], threshold=2)
    assert ok.met, ok.explain()
    assert ok.file == str(file)
    assert any("quick check" in u.detail for u in ok.uncounted)
    assert not verify_file(file, signers, signatures=[asc], threshold=2).met
    bad = verify_bytes(edited, str(file), signers, signatures=[asc], threshold=2)
    assert not bad.met
