"""The lock itself signed n of m (item 7): checked before anything else is read from it.

Lock signers are GnuPG-made keys; the signatures over pylock.toml are made by gpg.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from gnupg import GnuPG

from lockkeys._internal.cli import main
from lockkeys._internal.install import pipeline
from lockkeys._internal.install.request import DeployRequest, open_request
from lockkeys._internal.lockmodel.io import parse_lock_bytes
from lockkeys._internal.locktrust import locksignature as locksig
from lockkeys._internal.locktrust.locksignature import (
    SIGNERS_ENV,
    THRESHOLD_ENV,
    LockSignaturePolicy,
)
from lockkeys._internal.trust.threshold import ThresholdResult
from lockkeys._internal.trust.verify import verify_bytes, verify_file
from lockkeys.errors import VerificationError
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


# --- the rule lives in the library (pipeline), not only in the CLI ----------------------------


def test_row_20_library_refuses_a_lock_the_environment_says_must_be_signed(
    project: Path,
    lock_signers: tuple[GnuPG, dict[str, str], dict[str, Path]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Python caller on a deploy host gets the same refusal as `lockkeys verify`."""
    g, fprs, certs = lock_signers
    lock = project / "pylock.toml"
    sign_lock(g, fprs, lock, "rm1", "rm2")
    monkeypatch.setenv(SIGNERS_ENV, os.pathsep.join(str(c) for c in certs.values()))
    monkeypatch.setenv(THRESHOLD_ENV, "2")
    report = pipeline.verify(open_request(lock))  # signed 2 of 3: accepted
    assert report.ok
    assert "foo" in [p.name for p in report.packages]
    text = lock.read_text()
    lock.write_text(text.replace('verify = "hashes+signatures"', 'verify = "hashes"', 1))
    # The source is gone: anything fetched would be a SourceError, not a VerificationError.
    shutil.rmtree(project / "public")
    with pytest.raises(VerificationError, match="do not meet the lock threshold") as refused:
        pipeline.verify(open_request(lock))
    assert refused.value.exit_code == 1
    assert "0 of 2 required signers" in refused.value.message
    dest = project / "wheelhouse"
    with pytest.raises(VerificationError, match="do not meet the lock threshold"):
        pipeline.download(open_request(lock), dest)
    assert not dest.exists()  # refused before even the destination was made
    Path(f"{lock}.asc").unlink()
    lock.write_text(text)
    with pytest.raises(VerificationError, match="the lock is not signed"):
        pipeline.audit(open_request(lock))


def test_row_20_library_install_with_an_explicit_lock_signature_policy(
    project: Path, lock_signers: tuple[GnuPG, dict[str, str], dict[str, Path]]
) -> None:
    g, fprs, certs = lock_signers
    lock = project / "pylock.toml"
    python = make_venv(project / "venv")
    policy = LockSignaturePolicy(signers=tuple(certs.values()), threshold=2)
    sign_lock(g, fprs, lock, "rm1")
    with pytest.raises(VerificationError, match=r"1 of 2 required signers"):
        pipeline.install(open_request(lock, python=str(python), lock_signature=policy))
    assert installed(python) == []
    sign_lock(g, fprs, lock, "rm1", "rm3")
    report = pipeline.install(open_request(lock, python=str(python), lock_signature=policy))
    assert report.ok and report.installed
    assert ["foo", "1.0"] in installed(python)


def test_a_lock_opened_once_is_not_given_a_second_policy(
    project: Path, lock_signers: tuple[GnuPG, dict[str, str], dict[str, Path]]
) -> None:
    """open_lock applied the policy; the request holds that opened lock, and no entry point
    takes a second policy that could be ignored silently."""
    g, fprs, certs = lock_signers
    lock = project / "pylock.toml"
    sign_lock(g, fprs, lock, "rm1")
    opened = locksig.open_lock(lock, LockSignaturePolicy(signers=(certs["rm1"],), threshold=1))
    assert opened.signature is not None and opened.signature.met
    # The request holds the lock opened once; no entry point takes a second policy.
    assert pipeline.verify(DeployRequest(lock=opened)).ok


# --- time of check, time of use: the verified bytes are the bytes used ------------------------


@pytest.fixture
def weakened_lock(tmp_path: Path, fixture_data: Path) -> bytes:
    """An attacker's lock for the same folder: unsigned, another package set (bar, no signers)."""
    other = tmp_path / "attacker"
    other.mkdir()
    shutil.copytree(fixture_data / "public", other / "public")
    (other / "requirements.in").write_text("bar==1.0\n")
    (other / "lockkeys.toml").write_text(
        'requirements = ["requirements.in"]\n[[sources]]\nname = "public"\npath = "public"\n'
    )
    assert main(["--config", str(other / "lockkeys.toml"), "lock"]) == 0
    data = (other / "pylock.toml").read_bytes()
    assert pinned(data) == [("bar", "1.0"), ("broken", "1.0")]
    return data


def pinned(data: bytes) -> list[tuple[str, str]]:
    return sorted((p.name, p.version) for p in parse_lock_bytes(data, "pylock.toml").packages)


def swap_after_the_check(monkeypatch: pytest.MonkeyPatch, lock: Path, weakened: bytes) -> list[int]:
    """Replace the lock on disk as soon as its signatures have been checked; count swaps."""
    real = locksig.require_signed_lock
    swaps: list[int] = []

    def check_then_swap(*args: object, **kwargs: object) -> ThresholdResult:
        result = real(*args, **kwargs)  # type: ignore[arg-type]
        lock.write_bytes(weakened)
        swaps.append(1)
        return result

    monkeypatch.setattr(locksig, "require_signed_lock", check_then_swap)
    return swaps


def test_row_20_lock_swapped_after_its_signature_check_is_never_used_cli(
    project: Path,
    lock_signers: tuple[GnuPG, dict[str, str], dict[str, Path]],
    weakened_lock: bytes,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    g, fprs, certs = lock_signers
    lock = project / "pylock.toml"
    sign_lock(g, fprs, lock, "rm1", "rm2")
    python = make_venv(project / "venv")
    signed = pinned(lock.read_bytes())
    assert ("foo", "1.0") in signed and signed != pinned(weakened_lock)
    swaps = swap_after_the_check(monkeypatch, lock, weakened_lock)
    args = ["--lock", str(lock), "install", "--python", str(python), "--json"]
    capsys.readouterr()
    assert main([*args, *signer_args(certs), "--lock-threshold", "2"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert swaps == [1] and lock.read_bytes() == weakened_lock  # the swap did happen
    assert sorted((p["name"], p["version"]) for p in report["packages"]) == signed
    assert [tuple(d) for d in installed(python)] == signed


def test_row_20_lock_swapped_after_its_signature_check_is_never_used_library(
    project: Path,
    lock_signers: tuple[GnuPG, dict[str, str], dict[str, Path]],
    weakened_lock: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    g, fprs, certs = lock_signers
    lock = project / "pylock.toml"
    sign_lock(g, fprs, lock, "rm1", "rm2")
    signed = pinned(lock.read_bytes())
    swaps = swap_after_the_check(monkeypatch, lock, weakened_lock)
    policy = LockSignaturePolicy(signers=tuple(certs.values()), threshold=2)
    dest = project / "wheelhouse"
    report = pipeline.download(open_request(lock, lock_signature=policy), dest)
    assert swaps == [1] and lock.read_bytes() == weakened_lock
    assert report.ok
    assert sorted((p.name, p.version) for p in report.packages) == signed
    wheels = sorted(p.name for p in dest.iterdir() if p.suffix == ".whl")
    assert wheels == [f"{name}-{version}-py3-none-any.whl" for name, version in signed]


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
