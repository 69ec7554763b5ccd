"""Interop with real GnuPG 2.2: gpg-made signatures verify in lockkeys, lockkeys-made
signatures verify in gpgv, and where lockkeys is stricter than gpgv (revoked keys and
subkeys, SHA-1) both answers are shown side by side: gpgv exits 0, lockkeys refuses.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from gnupg import GnuPG, dearmor, gpgv

from lockkeys._internal.trust.certs import Certificate, Keyring, parse_certificate
from lockkeys._internal.trust.keygen import generate_key
from lockkeys._internal.trust.signatures import DetachedSignature, load_signatures
from lockkeys._internal.trust.signing import sign_files
from lockkeys._internal.trust.threshold import Reason, ThresholdResult, evaluate_threshold

pytestmark = pytest.mark.skipif(
    shutil.which("gpg") is None or shutil.which("gpgv") is None, reason="GnuPG is not installed"
)

DATA = b"requests==2.32.3 --hash=sha256:70761cfe03c773ceb22aa2f671b4757976145175\n"


@pytest.fixture
def gpg() -> Iterator[GnuPG]:
    """A throwaway GnuPG home; its agent is stopped at teardown."""
    with GnuPG() as g:
        yield g


@pytest.fixture(scope="module")
def rsa_home() -> Iterator[tuple[GnuPG, str]]:
    """One RSA-3072 key per module (RSA key generation is the slow part)."""
    with GnuPG() as g:
        yield g, g.gen_key("RSA signer (TEST ONLY) <rsa@test.invalid>", algo="rsa3072")


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "pylock.toml"
    path.write_bytes(DATA)
    return path


def cert(g: GnuPG, fpr: str, name: str | None = None) -> Certificate:
    return parse_certificate(g.export(fpr), f"{fpr}.asc", name)


def sigs(*paths: Path) -> list[DetachedSignature]:
    out: list[DetachedSignature] = []
    for path in paths:
        out.extend(load_signatures(path))
    return out


def evaluate(
    file: Path, signatures: Sequence[Path], certs: Sequence[Certificate], threshold: int = 1
) -> ThresholdResult:
    return evaluate_threshold(file, sigs(*signatures), Keyring(certs), threshold)


def dearmor_cert(g: GnuPG, fpr: str, folder: Path) -> Path:
    armored = folder / f"{fpr}.asc"
    armored.write_bytes(g.export(fpr))
    return dearmor(armored, folder / f"{fpr}.gpg")


def reasons(result: ThresholdResult) -> list[Reason]:
    return [u.reason for u in result.uncounted]


def join_signatures(out: Path, *parts: Path) -> Path:
    """One .asc holding several armored signatures (as `cat a.asc b.asc` would)."""
    out.write_bytes(b"".join(p.read_bytes() for p in parts))
    return out


# -- gpg signs, lockkeys verifies ------------------------------------------------------------


def test_gpg_rsa3072_primary_signature_verifies(rsa_home: tuple[GnuPG, str], data: Path) -> None:
    g, fpr = rsa_home
    result = evaluate(data, [g.sign(fpr, data)], [cert(g, fpr)])
    assert result.met, result.explain()
    assert [(c.fingerprint, c.signing_key) for c in result.counted] == [(fpr, fpr)]


def test_gpg_ed25519_primary_signature_verifies(gpg: GnuPG, data: Path) -> None:
    fpr = gpg.gen_key("Ed signer (TEST ONLY) <ed@test.invalid>")
    result = evaluate(data, [gpg.sign(fpr, data)], [cert(gpg, fpr)])
    assert result.met, result.explain()
    assert [(c.fingerprint, c.signing_key) for c in result.counted] == [(fpr, fpr)]


def test_gpg_signing_subkey_counts_for_its_certify_only_primary(gpg: GnuPG, data: Path) -> None:
    primary = gpg.gen_key("Offline primary (TEST ONLY) <p@test.invalid>", usage="cert")
    subkey = gpg.add_subkey(primary, "ed25519", "sign")
    signature = gpg.sign(subkey, data)
    result = evaluate(data, [signature], [cert(gpg, primary)])
    assert result.met, result.explain()
    (counted,) = result.counted
    assert counted.fingerprint == primary  # pinned and counted by the primary
    assert counted.signing_key == subkey
    status = gpgv(dearmor_cert(gpg, primary, data.parent), signature, data)
    assert status.returncode == 0
    assert status.lines("VALIDSIG")[0][0] == subkey
    assert status.lines("VALIDSIG")[0][-1] == primary


# -- lockkeys signs, gpgv verifies -----------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["ed25519", "rsa3072"])
def test_lockkeys_signature_verifies_with_gpgv(tmp_path: Path, data: Path, algorithm: str) -> None:
    key = generate_key(
        "signer",
        out_dir=tmp_path / "keys",
        user_id=f"lockkeys {algorithm} (TEST ONLY) <lk@test.invalid>",
        algorithm=algorithm,
    )
    (signed,) = sign_files([data], key=key.secret)
    keyring = dearmor(key.certificate, tmp_path / "signer.gpg")
    status = gpgv(keyring, signed.signature_file, data)
    assert status.returncode == 0, status
    assert "GOODSIG" in status.keywords()
    (validsig,) = status.lines("VALIDSIG")
    assert validsig[-1] == key.fingerprint  # primary fingerprint
    assert validsig[0] != key.fingerprint  # made by the signing subkey
    assert validsig[8] == "00"  # binary-document signature


def test_two_lockkeys_signers_in_one_file_give_two_validsig(tmp_path: Path, data: Path) -> None:
    keys = [
        generate_key(n, out_dir=tmp_path / "keys", user_id=f"{n} (TEST ONLY) <{n}@test.invalid>")
        for n in ("alice", "bob")
    ]
    for key in keys:
        sign_files([data], key=key.secret)
    asc = data.with_name(data.name + ".asc")
    assert len(load_signatures(asc)) == 2  # appended, not replaced
    keyring = tmp_path / "both.gpg"
    keyring.write_bytes(
        b"".join(
            dearmor(k.certificate, tmp_path / f"{i}.gpg").read_bytes() for i, k in enumerate(keys)
        )
    )
    status = gpgv(keyring, asc, data)
    assert status.returncode == 0, status
    assert sorted(v[-1] for v in status.lines("VALIDSIG")) == sorted(k.fingerprint for k in keys)
    certs = [parse_certificate(k.certificate.read_bytes(), str(k.certificate)) for k in keys]
    assert evaluate(data, [asc], certs, threshold=2).met


# -- lockkeys refuses what gpgv accepts (exit 0) ---------------------------------------------


def test_revoked_key_compromised_refused_while_gpgv_exits_0(gpg: GnuPG, data: Path) -> None:
    fpr = gpg.gen_key("Revoked (TEST ONLY) <rev@test.invalid>", at="20200101T000000")
    signature = gpg.sign(fpr, data, at="20210101T000000")
    gpg.revoke_key(fpr, 1, at="20220101T000000")  # 1: key has been compromised
    status = gpgv(gpg.keyring(fpr), signature, data)
    assert status.returncode == 0
    assert "REVKEYSIG" in status.keywords()
    assert "VALIDSIG" in status.keywords()
    result = evaluate(data, [signature], [cert(gpg, fpr)])
    assert not result.met
    assert reasons(result) == [Reason.REVOKED]
    assert "compromised" in result.uncounted[0].detail


def test_revoked_signing_subkey_refused_while_gpgv_exits_0(gpg: GnuPG, data: Path) -> None:
    primary = gpg.gen_key("Subkey revoked (TEST ONLY)", usage="cert", at="20200101T000000")
    subkey = gpg.add_subkey(primary, at="20200101T000000")
    signature = gpg.sign(subkey, data, at="20210101T000000")
    gpg.revoke_subkey(primary, subkey, 1, at="20220101T000000")
    status = gpgv(gpg.keyring(primary), signature, data)
    assert status.returncode == 0
    assert "REVKEYSIG" in status.keywords()
    assert status.lines("VALIDSIG")[0][0] == subkey
    result = evaluate(data, [signature], [cert(gpg, primary)])
    assert not result.met
    assert reasons(result) == [Reason.REVOKED]
    assert subkey in result.uncounted[0].detail


def test_sha1_signature_refused_while_gpgv_exits_0(rsa_home: tuple[GnuPG, str], data: Path) -> None:
    g, fpr = rsa_home
    signature = g.sign(fpr, data, digest="SHA1")
    status = gpgv(g.keyring(fpr), signature, data)
    assert status.returncode == 0
    assert "GOODSIG" in status.keywords()
    assert status.lines("VALIDSIG")[0][7] == "2"  # hash algorithm 2: SHA-1
    result = evaluate(data, [signature], [cert(g, fpr)])
    assert not result.met
    assert reasons(result) == [Reason.WEAK_DIGEST]


# -- distinct signers ------------------------------------------------------------------------


def test_two_signing_subkeys_of_one_certificate_count_once(gpg: GnuPG, data: Path) -> None:
    primary = gpg.gen_key("Two subkeys (TEST ONLY)", usage="cert")
    other = gpg.gen_key("Other trusted (TEST ONLY)")
    sub1 = gpg.add_subkey(primary)
    sub2 = gpg.add_subkey(primary)
    asc = join_signatures(data.parent / "two.asc", gpg.sign(sub1, data), gpg.sign(sub2, data))
    status = gpgv(gpg.keyring(primary), asc, data)
    assert [v[0] for v in status.lines("VALIDSIG")] == [sub1, sub2]  # gpgv: two good signatures
    result = evaluate(data, [asc], [cert(gpg, primary), cert(gpg, other)], threshold=2)
    assert not result.met
    assert [c.fingerprint for c in result.counted] == [primary]
    assert reasons(result) == [Reason.DUPLICATE_SIGNER]
    assert result.missing == (other,)


def test_same_signature_file_twice_counts_once(gpg: GnuPG, data: Path) -> None:
    first = gpg.gen_key("First (TEST ONLY)")
    second = gpg.gen_key("Second (TEST ONLY)")
    signature = gpg.sign(first, data)
    result = evaluate(
        data, [signature, signature], [cert(gpg, first), cert(gpg, second)], threshold=2
    )
    assert not result.met
    assert [c.fingerprint for c in result.counted] == [first]
    assert reasons(result) == [Reason.DUPLICATE_SIGNATURE]
