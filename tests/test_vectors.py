"""Third-party vectors (fixtures/data/vectors, made by Sequoia's `sq` and RNP, see
fixtures/README.md): lockkeys agrees with `sqv` and with `gpgv --status-fd` on who signed,
and is stricter only where a documented verifier rule says so."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from lockkeys._internal.trust.certs import Keyring, load_certificate
from lockkeys._internal.trust.signatures import load_signatures
from lockkeys._internal.trust.threshold import Reason, evaluate_threshold

VECTORS = Path(__file__).resolve().parent.parent / "fixtures" / "data" / "vectors"
DATA = VECTORS / "data.txt"
CERTS = ("sq-rsa3k.asc", "rnp-ed25519.asc")

pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("sqv", "gpgv", "gpg")),
    reason="needs sqv (Debian package sqv) and GnuPG",
)


def keyring() -> Keyring:
    return Keyring(load_certificate(VECTORS / name, name=name) for name in CERTS)


def lockkeys_signers(signature: str) -> tuple[list[str], list[Reason]]:
    ring = keyring()
    result = evaluate_threshold(DATA, load_signatures(VECTORS / signature), ring, 1)
    return [c.fingerprint for c in result.counted], [u.reason for u in result.uncounted]


def sqv_signers(signature: str, certs: tuple[str, ...] = CERTS) -> list[str]:
    argv = ["sqv"] + [a for c in certs for a in ("--keyring", str(VECTORS / c))]
    proc = subprocess.run(
        [*argv, str(VECTORS / signature), str(DATA)], capture_output=True, text=True, check=False
    )
    return proc.stdout.split() if proc.returncode == 0 else []


def gpgv_signers(signature: str, tmp_path: Path) -> tuple[int, list[str]]:
    """(exit code, primary fingerprints of the VALIDSIG lines) of `gpgv --status-fd 1`."""
    from gnupg import dearmor, gpgv

    rings = [dearmor(VECTORS / c, tmp_path / f"{c}.gpg") for c in CERTS]
    joined = tmp_path / "ring.gpg"
    joined.write_bytes(b"".join(r.read_bytes() for r in rings))
    outcome = gpgv(joined, VECTORS / signature, DATA)
    return outcome.returncode, [line[-1] for line in outcome.lines("VALIDSIG")]


@pytest.mark.parametrize("signature", ["data.txt.sq.asc", "data.txt.rnp.asc"])
def test_vectors_all_three_agree_on_plain_signatures(signature: str, tmp_path: Path) -> None:
    ours, reasons = lockkeys_signers(signature)
    assert ours and not reasons
    assert ours == sqv_signers(signature)
    code, theirs = gpgv_signers(signature, tmp_path)
    assert code == 0 and theirs == ours


def test_vectors_sha1_refused_as_sqv_does_stricter_than_gpgv_by_rule_8(tmp_path: Path) -> None:
    ours, reasons = lockkeys_signers("data.txt.rnp-sha1.asc")
    assert ours == [] and reasons == [Reason.WEAK_DIGEST]
    assert sqv_signers("data.txt.rnp-sha1.asc") == []
    code, theirs = gpgv_signers("data.txt.rnp-sha1.asc", tmp_path)
    assert code == 0 and len(theirs) == 1  # gpgv still accepts SHA-1 data signatures


def test_vectors_critical_notation_refused_like_sqv_by_rule_10(tmp_path: Path) -> None:
    ours, reasons = lockkeys_signers("data.txt.sq-critical.asc")
    assert ours == [] and reasons == [Reason.CRITICAL_UNKNOWN]
    assert sqv_signers("data.txt.sq-critical.asc") == []
    code, theirs = gpgv_signers("data.txt.sq-critical.asc", tmp_path)
    assert code != 0 and theirs == []


def test_vectors_v10_packet_ignored_known_signature_counts_like_sqv(tmp_path: Path) -> None:
    """Issue 12 item 3: sqv counts the sq signature; gpgv stops at the v10 packet (exit 2,
    no VALIDSIG). lockkeys follows sqv and RFC 9580 section 5.2."""
    ours, reasons = lockkeys_signers("data.txt.v10-then-sq.asc")
    assert reasons == [Reason.UNSUPPORTED]
    assert ours == sqv_signers("data.txt.v10-then-sq.asc") == lockkeys_signers("data.txt.sq.asc")[0]
    code, _ = gpgv_signers("data.txt.v10-then-sq.asc", tmp_path)
    assert code == 2


def test_vectors_v5_subkey_certificate_ignored_with_a_note_rest_used() -> None:
    cert = load_certificate(VECTORS / "sq-rsa3k-v5-subkey.asc")
    assert any("version 5" in note for note in cert.facts.notes)
    plain = load_certificate(VECTORS / "sq-rsa3k.asc")
    assert cert.fingerprint == plain.fingerprint
    assert [k.fingerprint for k in cert.facts.subkeys] == [
        k.fingerprint for k in plain.facts.subkeys
    ]
    result = evaluate_threshold(
        DATA, load_signatures(VECTORS / "data.txt.sq.asc"), Keyring([cert]), 1
    )
    assert [c.fingerprint for c in result.counted] == sqv_signers(
        "data.txt.sq.asc", ("sq-rsa3k-v5-subkey.asc",)
    )
