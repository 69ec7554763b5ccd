"""Embedded certificates are the canonical form (item 8), and merges keep history (item 1)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from gnupg import GnuPG

from lockkeys._internal.openpgp.armor import TAG_USER_ID, decode
from lockkeys._internal.trust.certs import merge_certificates, parse_certificate
from lockkeys._internal.trust.merge import compare_certificates, describe
from lockkeys._internal.trust.signatures import load_signatures
from lockkeys._internal.trust.threshold import Keyring, evaluate_threshold
from lockkeys.errors import InputError

pytestmark = pytest.mark.skipif(shutil.which("gpg") is None, reason="GnuPG is not installed")


@pytest.fixture
def gpg() -> Iterator[GnuPG]:
    with GnuPG() as g:
        yield g


def _packet(tag: int, body: bytes) -> bytes:
    return bytes([0xC0 | tag, 0xFF]) + len(body).to_bytes(4, "big") + body


def test_appended_unbound_user_id_and_user_attribute_are_dropped(gpg: GnuPG) -> None:
    fpr = gpg.gen_key("Canon (TEST ONLY) <canon@test.invalid>")
    exported = gpg.export(fpr, armor=False)
    clean = parse_certificate(exported, "clean.gpg")
    padded = exported + _packet(TAG_USER_ID, b"x" * (1 << 20)) + _packet(17, b"\x01" * 64)
    certificate = parse_certificate(padded, "padded.gpg")
    assert certificate.fingerprint == fpr
    assert len(certificate.binary) < 4096
    assert certificate.binary == clean.binary
    assert certificate.facts.user_ids == ("Canon (TEST ONLY) <canon@test.invalid>",)
    uids = [p for p in decode(certificate.binary, "c")[0].packets if p.tag == TAG_USER_ID]
    assert len(uids) == 1


def test_third_party_certifications_dropped_unless_asked_for(gpg: GnuPG) -> None:
    signer = gpg.gen_key("Certifier (TEST ONLY) <c@test.invalid>")
    fpr = gpg.gen_key("Certified (TEST ONLY) <d@test.invalid>")
    gpg.run("--local-user", signer, "--quick-sign-key", fpr)
    exported = gpg.export(fpr)
    plain = parse_certificate(exported, "d.asc")
    kept = parse_certificate(exported, "d.asc", keep_certifiers=frozenset({signer}))
    assert len(kept.binary) > len(plain.binary)
    assert compare_certificates(plain, kept).added == (
        f"certification of user ID 'Certified (TEST ONLY) <d@test.invalid>' by {signer}",
    )


def test_merge_after_expiry_extension_keeps_old_signatures_valid(
    gpg: GnuPG, tmp_path: Path
) -> None:
    """gpg --quick-set-expire replaces the self-signature in exports; the merge keeps the old
    one, so a file signed before the extension still verifies (the README limitation)."""
    data = tmp_path / "data.txt"
    data.write_bytes(b"payload\n")
    fpr = gpg.gen_key("Extender (TEST ONLY)", expire="2y", at="20250101T000000")
    before = parse_certificate(gpg.export(fpr), "before.asc")
    signature = gpg.sign(fpr, data, at="20250301T000000")
    gpg.set_expire(fpr, "10y", at="20250601T000000")
    after = parse_certificate(gpg.export(fpr), "after.asc")
    sigs = load_signatures(signature)
    assert not evaluate_threshold(data, sigs, Keyring([after]), 1).met  # export alone: lost
    merged = merge_certificates(before, after)
    result = evaluate_threshold(data, sigs, Keyring([merged]), 1)
    assert result.met, result.explain()
    delta = compare_certificates(before, merged)
    assert not delta.removed
    lines = describe(delta)
    assert lines[0].startswith("expiry 2027-01-01 -> 2035-")
    assert any("self-signature on user ID" in line for line in lines)
    assert describe(compare_certificates(merged, merge_certificates(merged, after))) == []


def test_a_different_primary_key_is_not_a_merge(gpg: GnuPG) -> None:
    a = parse_certificate(gpg.export(gpg.gen_key("A (TEST ONLY)")), "a.asc")
    b = parse_certificate(gpg.export(gpg.gen_key("B (TEST ONLY)")), "b.asc")
    with pytest.raises(InputError, match="replacement, not a merge"):
        merge_certificates(a, b)
