"""Threat model, "Verifier rules" 1-13: one test (or a small group) per rule.

Every key and signature here is made by real GnuPG 2.2 (or by Sequoia through pysequoia), not
by lockkeys itself, so the rules are proved against what signers actually publish. Where it
shows a difference, the test also records what `gpgv` said about the same input: gpgv exits 0
for revoked keys, expired keys, SHA-1 and weak RSA keys, lockkeys does not count them.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pysequoia
import pytest
from gnupg import GnuPG, gpgv

from lockkeys._internal.openpgp.armor import (
    TAG_PUBLIC_SUBKEY,
    TAG_SIGNATURE,
    armor,
    decode,
    split_packets,
)
from lockkeys._internal.openpgp.keypacket import parse_key_packet
from lockkeys._internal.trust.certs import Certificate, Keyring, load_certificate, parse_certificate
from lockkeys._internal.trust.keygen import generate_key
from lockkeys._internal.trust.signatures import DetachedSignature, load_signatures
from lockkeys._internal.trust.signing import sign_files
from lockkeys._internal.trust.threshold import Reason, ThresholdResult, evaluate_threshold
from lockkeys.errors import InputError, VerificationError, escape

pytestmark = pytest.mark.skipif(
    shutil.which("gpg") is None or shutil.which("gpgv") is None, reason="GnuPG is not installed"
)

DATA = b"certifi==2024.8.30 --hash=sha256:922820b53db7a7257ffbda3f597266d435234903\n"
Y2020 = "20200101T000000"


@pytest.fixture
def gpg() -> Iterator[GnuPG]:
    """A throwaway GnuPG home at real time; its agent is stopped at teardown."""
    with GnuPG() as g:
        yield g


@pytest.fixture(scope="module")
def rsa_home() -> Iterator[tuple[GnuPG, str]]:
    """One RSA-3072 key (created 2020-01-01) shared by the module: RSA keygen is slow."""
    with GnuPG() as g:
        yield g, g.gen_key("RSA signer (TEST ONLY) <rsa@test.invalid>", "rsa3072", at=Y2020)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "pylock.toml"
    path.write_bytes(DATA)
    return path


def cert(g: GnuPG, fpr: str, name: str | None = None) -> Certificate:
    return parse_certificate(g.export(fpr), f"{fpr}.asc", name)


def evaluate(
    file: Path,
    signatures: Sequence[Path],
    certs: Sequence[Certificate],
    threshold: int = 1,
    now: datetime | None = None,
) -> ThresholdResult:
    sigs: list[DetachedSignature] = []
    for path in signatures:
        sigs.extend(load_signatures(path))
    return evaluate_threshold(file, sigs, Keyring(certs), threshold, now=now)


def reasons(result: ThresholdResult) -> list[Reason]:
    return [u.reason for u in result.uncounted]


def keyring_file(folder: Path, certificate: bytes, name: str = "ring.gpg") -> Path:
    """A binary keyring file for gpgv from (possibly edited) certificate bytes."""
    path = folder / name
    path.write_bytes(dearmored(certificate))
    return path


def dearmored(data: bytes) -> bytes:
    """The binary packets of an armored (or binary) certificate or signature file."""
    return b"".join(p.raw for block in decode(data, "cert") for p in block.packets)


# -- packet surgery (RFC 9580 framing), for certificates and signatures that GnuPG made -------


def _length(n: int) -> bytes:
    if n < 192:
        return bytes([n])
    if n < 8384:
        n -= 192
        return bytes([(n >> 8) + 192, n & 0xFF])
    return b"\xff" + n.to_bytes(4, "big")


def packet(tag: int, body: bytes) -> bytes:
    """A new-format packet."""
    return bytes([0xC0 | tag]) + _length(len(body)) + body


def subpackets(area: bytes) -> list[tuple[int, bytes]]:
    """(type without the critical bit, the whole raw subpacket) for each subpacket."""
    out = []
    pos = 0
    while pos < len(area):
        o1 = area[pos]
        if o1 < 192:
            length, start = o1, pos + 1
        elif o1 < 255:
            length, start = ((o1 - 192) << 8) + area[pos + 1] + 192, pos + 2
        else:
            length, start = int.from_bytes(area[pos + 1 : pos + 5], "big"), pos + 5
        out.append((area[start] & 0x7F, area[pos : start + length]))
        pos = start + length
    return out


def subpacket_data(raw: bytes) -> bytes:
    """The data of one raw subpacket (after its length and type octets)."""
    o1 = raw[0]
    skip = 1 if o1 < 192 else 2 if o1 < 255 else 5
    return raw[skip + 1 :]


def split_sig(body: bytes) -> tuple[bytes, bytes, bytes, bytes]:
    """A v4 signature body: (head, hashed area, unhashed area, left-16 and MPIs)."""
    assert body[0] == 4
    hashed_len = int.from_bytes(body[4:6], "big")
    hashed = body[6 : 6 + hashed_len]
    pos = 6 + hashed_len
    unhashed_len = int.from_bytes(body[pos : pos + 2], "big")
    unhashed = body[pos + 2 : pos + 2 + unhashed_len]
    return body[:4], hashed, unhashed, body[pos + 2 + unhashed_len :]


def join_sig(head: bytes, hashed: bytes, unhashed: bytes, tail: bytes) -> bytes:
    return (
        head
        + len(hashed).to_bytes(2, "big")
        + hashed
        + len(unhashed).to_bytes(2, "big")
        + (unhashed + tail)
    )


def flip_last_byte(body: bytes) -> bytes:
    """Damage the last MPI of a signature: it no longer verifies."""
    return body[:-1] + bytes([body[-1] ^ 0x01])


def edit_binding(certificate: bytes, subkey: str, edit: Callable[[bytes], bytes | None]) -> bytes:
    """Apply ``edit`` to every signature packet body after ``subkey`` (None drops it)."""
    out: list[bytes] = []
    in_subkey = False
    for p in split_packets(dearmored(certificate), "cert"):
        if p.tag == TAG_PUBLIC_SUBKEY:
            in_subkey = parse_key_packet(p.body).fingerprint == subkey.upper()
        elif p.tag != TAG_SIGNATURE:
            in_subkey = False
        if in_subkey and p.tag == TAG_SIGNATURE:
            body = edit(p.body)
            if body is not None:
                out.append(packet(TAG_SIGNATURE, body))
            continue
        out.append(p.raw)
    return armor(b"".join(out), "PUBLIC KEY BLOCK").encode()


def edit_signature_file(path: Path, edit: Callable[[bytes], bytes]) -> Path:
    (p,) = split_packets(dearmored(path.read_bytes()), str(path))
    out = path.with_name("edited-" + path.name)
    out.write_text(armor(packet(TAG_SIGNATURE, edit(p.body)), "SIGNATURE"))
    return out


def without_subpacket(area: bytes, kind: int) -> bytes:
    return b"".join(raw for k, raw in subpackets(area) if k != kind)


# -- rule 1 ---------------------------------------------------------------------------------


def test_rule_01_anchors_are_full_fingerprints_not_key_ids_or_user_ids(
    gpg: GnuPG, data: Path
) -> None:
    trusted = gpg.gen_key("Trusted (TEST ONLY) <t@test.invalid>")
    stranger = gpg.gen_key("Trusted (TEST ONLY) <t@test.invalid>")  # the same user ID
    trusted_cert = cert(gpg, trusted)
    signature = gpg.sign(stranger, data)

    result = evaluate(data, [signature], [trusted_cert])
    assert not result.met
    assert reasons(result) == [Reason.UNKNOWN_SIGNER]
    assert stranger in result.uncounted[0].detail  # the issuer, by full fingerprint

    # The unhashed issuer key ID is only a hint: rewriting it to claim the trusted key's ID
    # (the signature still verifies cryptographically) changes nothing, the hashed issuer
    # fingerprint names the stranger.
    def claim_trusted_key_id(body: bytes) -> bytes:
        head, hashed, unhashed, tail = split_sig(body)
        unhashed = without_subpacket(unhashed, 16) + b"\x09\x10" + bytes.fromhex(trusted[-16:])
        return join_sig(head, hashed, unhashed, tail)

    lying = edit_signature_file(signature, claim_trusted_key_id)
    (facts,) = [s.facts for s in load_signatures(lying)]
    assert facts.issuer_key_id == trusted[-16:]
    result = evaluate(data, [lying], [trusted_cert])
    assert reasons(result) == [Reason.UNKNOWN_SIGNER]
    assert stranger in result.uncounted[0].detail

    keyring = Keyring([trusted_cert])
    key_id = trusted[-16:]
    lookalike = "0" * 24 + key_id  # same key ID, another fingerprint
    assert keyring.candidates(lookalike, key_id) == []
    assert keyring.candidates(trusted, None) == [trusted_cert]
    for uid in trusted_cert.facts.user_ids:  # never by user ID
        assert keyring.candidates(uid, None) == []
        assert keyring.candidates(None, uid) == []


# -- rule 2 ---------------------------------------------------------------------------------


def test_rule_02_same_certificate_under_two_names_refused(gpg: GnuPG, tmp_path: Path) -> None:
    fpr = gpg.gen_key("Twice (TEST ONLY) <twice@test.invalid>")
    path = tmp_path / "twice.asc"
    path.write_bytes(gpg.export(fpr))
    alice = load_certificate(path, name="alice")
    bob = load_certificate(path, name="bob")
    with pytest.raises(InputError, match="duplicate certificate") as excinfo:
        Keyring([alice, bob])
    assert "alice" in excinfo.value.diagnostics()

    # Another export of the same key (it gained a user ID): other bytes, same signer.
    gpg.run("--quick-add-uid", fpr, "Twice again (TEST ONLY) <again@test.invalid>")
    again = cert(gpg, fpr, name="carol")
    assert again.binary != alice.binary
    assert len(again.facts.user_ids) == 2
    with pytest.raises(InputError, match="duplicate certificate"):
        Keyring([alice, again])


def test_rule_02_two_certificates_sharing_key_material_refused(gpg: GnuPG) -> None:
    first = gpg.gen_key("First (TEST ONLY)", usage="cert", at=Y2020)
    subkey = gpg.add_subkey(first, at=Y2020)
    grip = gpg.keygrips(first)[1]
    second = gpg.gen_key("Second (TEST ONLY)", usage="cert", at="20200201T000000")
    # gpg --expert addkey "(13) Existing key": the same secret key, a new subkey packet
    reused = gpg.add_existing_subkey(second, grip, at="20200201T000000")
    assert reused != subkey  # another creation time, so another fingerprint ...
    a, b = cert(gpg, first), cert(gpg, second)
    key_a, key_b = a.facts.key(subkey), b.facts.key(reused)
    assert key_a is not None and key_b is not None
    assert key_a.material == key_b.material  # ... but the same key material
    with pytest.raises(InputError, match="duplicate key material"):
        Keyring([a, b])


# -- rule 3 ---------------------------------------------------------------------------------


@pytest.fixture
def subkey_signer(gpg: GnuPG, data: Path) -> tuple[str, str, Path]:
    """A certify-only primary, an Ed25519 signing subkey, and its signature over ``data``."""
    primary = gpg.gen_key("Subkey signer (TEST ONLY)", usage="cert")
    subkey = gpg.add_subkey(primary)
    return primary, subkey, gpg.sign(subkey, data)


def test_rule_03_subkey_without_binding_signature_does_not_count(
    gpg: GnuPG, data: Path, subkey_signer: tuple[str, str, Path]
) -> None:
    primary, subkey, signature = subkey_signer
    assert evaluate(data, [signature], [cert(gpg, primary)]).met  # intact: counts
    stripped = edit_binding(gpg.export(primary), subkey, lambda body: None)
    certificate = parse_certificate(stripped, "stripped.asc")
    assert certificate.facts.key(subkey) is None
    result = evaluate(data, [signature], [certificate])
    assert not result.met
    assert reasons(result)[0] in (Reason.UNKNOWN_SIGNER, Reason.BAD_SIGNATURE)
    status = gpgv(keyring_file(data.parent, stripped), signature, data)
    assert "VALIDSIG" not in status.keywords()


def test_rule_03_binding_without_back_signature_does_not_count(
    gpg: GnuPG, data: Path, subkey_signer: tuple[str, str, Path]
) -> None:
    primary, subkey, signature = subkey_signer

    def drop_backsig(body: bytes) -> bytes:
        head, hashed, unhashed, tail = split_sig(body)
        assert 32 not in [k for k, _ in subpackets(hashed)]
        assert 32 in [k for k, _ in subpackets(unhashed)]  # GnuPG puts it in the unhashed area
        return join_sig(head, hashed, without_subpacket(unhashed, 32), tail)

    edited = edit_binding(gpg.export(primary), subkey, drop_backsig)
    result = evaluate(data, [signature], [parse_certificate(edited, "no-backsig.asc")])
    assert not result.met
    assert reasons(result)[0] in (Reason.UNKNOWN_SIGNER, Reason.BAD_SIGNATURE)
    status = gpgv(keyring_file(data.parent, edited), signature, data)
    assert "VALIDSIG" not in status.keywords()  # gpg also wants the back-signature


def test_rule_03_binding_with_corrupted_back_signature_does_not_count(
    gpg: GnuPG, data: Path, subkey_signer: tuple[str, str, Path]
) -> None:
    primary, subkey, signature = subkey_signer

    def corrupt_backsig(body: bytes) -> bytes:
        head, hashed, unhashed, tail = split_sig(body)
        area = b""
        for kind, raw in subpackets(unhashed):
            if kind == 32:
                embedded = subpacket_data(raw)
                raw = raw[: len(raw) - len(embedded)] + flip_last_byte(embedded)
            area += raw
        return join_sig(head, hashed, area, tail)

    edited = edit_binding(gpg.export(primary), subkey, corrupt_backsig)
    result = evaluate(data, [signature], [parse_certificate(edited, "bad-backsig.asc")])
    assert not result.met
    assert reasons(result)[0] in (Reason.UNKNOWN_SIGNER, Reason.BAD_SIGNATURE)


def test_rule_03_hashed_back_signature_cannot_be_removed(tmp_path: Path, data: Path) -> None:
    """Sequoia puts the back-signature in the hashed area: removing it breaks the binding."""
    key = generate_key("seq", out_dir=tmp_path / "keys", user_id="Sequoia key (TEST ONLY)")
    (signed,) = sign_files([data], key=key.secret)
    original = key.certificate.read_bytes()
    assert evaluate(data, [signed.signature_file], [parse_certificate(original, "o")]).met
    (sig,) = load_signatures(signed.signature_file)
    subkey = sig.facts.issuer_fingerprint
    assert subkey is not None and subkey != key.fingerprint

    def drop_hashed_backsig(body: bytes) -> bytes:
        head, hashed, unhashed, tail = split_sig(body)
        assert 32 in [k for k, _ in subpackets(hashed)]
        return join_sig(head, without_subpacket(hashed, 32), unhashed, tail)

    edited = edit_binding(original, subkey, drop_hashed_backsig)
    result = evaluate(data, [signed.signature_file], [parse_certificate(edited, "edited.asc")])
    assert not result.met
    assert reasons(result)[0] in (Reason.UNKNOWN_SIGNER, Reason.BAD_SIGNATURE)


# -- rule 4 ---------------------------------------------------------------------------------


def test_rule_04_certify_only_key_cannot_sign_data(tmp_path: Path, data: Path) -> None:
    tsk = pysequoia.Tsk.generate(
        "Certifier (TEST ONLY) <c@test.invalid>", cipher_suite=pysequoia.CipherSuite.Cv25519
    )
    certificate = parse_certificate(bytes(tsk.extract_certificate()), "certifier.asc")
    assert certificate.facts.primary.capabilities == frozenset({"certify"})
    signature = tmp_path / "certifier.asc"
    signature.write_bytes(
        pysequoia.sign(tsk.certifier(), DATA, mode=pysequoia.SignatureMode.DETACHED)
    )
    (sig,) = load_signatures(signature)
    assert sig.facts.issuer_fingerprint == certificate.fingerprint  # made by the primary
    result = evaluate(data, [signature], [certificate])
    assert not result.met
    assert reasons(result) == [Reason.NOT_SIGNING_CAPABLE]
    # ... while the signing subkey of the same certificate is fine.
    good = tmp_path / "signer.asc"
    good.write_bytes(pysequoia.sign(tsk.signer(), DATA, mode=pysequoia.SignatureMode.DETACHED))
    assert evaluate(data, [good], [certificate]).met


# -- rule 5 ---------------------------------------------------------------------------------


@pytest.fixture
def lost_key(gpg: GnuPG, data: Path) -> tuple[str, bytes, bytes, Path, Path]:
    """Key made 2020-01; signs 2020-03 and 2022-01; at 2020-06 set to expire 2021-01-01.

    gpg refuses to sign with an expired key, so the 2022 signature is made before the expiry
    is set: what decides is the expiry self-signature (dated 2020-06), not the file order.
    Returns (fpr, export before, export after, 2020 signature, 2022 signature).
    """
    fpr = gpg.gen_key("Lost key (TEST ONLY) <lost@test.invalid>", at=Y2020)
    before = gpg.export(fpr)
    in_2020 = gpg.sign(fpr, data, at="20200301T000000")
    in_2022 = gpg.sign(fpr, data, at="20220101T000000")
    gpg.set_expire(fpr, "2021-01-01", at="20200601T000000")
    after = gpg.export(fpr)
    status = gpgv(gpg.keyring(fpr), in_2020, data)
    assert status.returncode == 0
    assert "EXPKEYSIG" in status.keywords()  # gpgv: good signature, key expired now
    return fpr, before, after, in_2020, in_2022


def test_rule_05_validity_judged_at_signature_time(
    data: Path, lost_key: tuple[str, bytes, bytes, Path, Path]
) -> None:
    """The certificate with its whole history (old and new self-signature, as Sequoia or a
    keyserver merges it): the 2020 signature counts today, the 2022 one does not."""
    _fpr, before, after, in_2020, in_2022 = lost_key
    merged = bytes(pysequoia.Cert.from_bytes(before).merge(pysequoia.Cert.from_bytes(after)))
    certificate = parse_certificate(merged, "merged.asc")
    assert certificate.facts.expires == datetime(2021, 1, 1, 12, tzinfo=UTC)

    result = evaluate(data, [in_2020], [certificate])
    assert result.met, result.explain()
    assert result.counted[0].created == datetime(2020, 3, 1, tzinfo=UTC)

    result = evaluate(data, [in_2022], [certificate])
    assert not result.met
    assert reasons(result) == [Reason.EXPIRED_AT_SIGNING]


def test_rule_05_lost_key_with_gnupg_export_that_replaced_its_self_signature(
    gpg: GnuPG, data: Path, lost_key: tuple[str, bytes, bytes, Path, Path]
) -> None:
    """`gpg --quick-set-expire` replaces the self-signature, and `gpg --export` carries only
    the new one (dated 2020-06). The key was valid from 2020-01 to 2021-01 and gpgv accepts
    the 2020-03 signature; rule 5 says it stays valid after the key expired."""
    _fpr, _before, after, in_2020, in_2022 = lost_key
    signatures = [p for p in split_packets(dearmored(after), "a") if p.tag == TAG_SIGNATURE]
    assert len(signatures) == 1  # the one self-signature, dated 2020-06-01
    certificate = parse_certificate(after, "gpg-export.asc")

    result = evaluate(data, [in_2022], [certificate])
    assert reasons(result) == [Reason.EXPIRED_AT_SIGNING]

    # Known limitation (README, "Security model"): with no self-signature older than the
    # 2020-03 signature, Sequoia cannot show the key was valid when it signed, and pysequoia
    # offers no way to relax that. lockkeys fails closed and says exactly why and what helps;
    # the certificate export that keeps the older self-signature verifies (test above).
    result = evaluate(data, [in_2020], [certificate])
    assert not result.met
    assert reasons(result) == [Reason.NOT_VALID_AT_SIGNING]
    detail = result.uncounted[0].detail
    assert "2020-06-01" in detail and "quick-set-expire" in detail


# -- rule 6 ---------------------------------------------------------------------------------


def test_rule_06_signature_from_the_future_refused(gpg: GnuPG, data: Path) -> None:
    fpr = gpg.gen_key("Time traveller (TEST ONLY)", at=Y2020)
    signature = gpg.sign(fpr, data, at="20990101T000000")
    result = evaluate(data, [signature], [cert(gpg, fpr)])
    assert not result.met
    assert reasons(result) == [Reason.FUTURE]
    assert "2099-01-01" in result.uncounted[0].detail
    status = gpgv(gpg.keyring(fpr), signature, data)
    assert status.returncode == 0
    assert "VALIDSIG" in status.keywords()  # gpgv: a good signature, made in 2099


def test_rule_06_signature_expiration_honored(gpg: GnuPG, data: Path) -> None:
    fpr = gpg.gen_key("Short-lived signature (TEST ONLY)", at=Y2020)
    signature = gpg.sign(fpr, data, at="20200301T000000", sig_expire="1d")
    (sig,) = load_signatures(signature)
    assert sig.facts.expires == datetime(2020, 3, 2, tzinfo=UTC)
    status = gpgv(gpg.keyring(fpr), signature, data)
    assert "EXPSIG" in status.keywords()  # gpgv: good but expired signature (exit 1)
    result = evaluate(data, [signature], [cert(gpg, fpr)])
    assert not result.met
    assert reasons(result) == [Reason.SIGNATURE_EXPIRED]


def test_rule_06_injected_clock_cannot_revive_an_expired_signature(gpg: GnuPG, data: Path) -> None:
    """`evaluate_threshold(now=...)` is the clock of lockkeys' own checks; the engine judges
    at the system clock (pysequoia has no reference time). An injected past clock must never
    make an expired signature count: lockkeys' check passes it on, Sequoia still refuses."""
    fpr = gpg.gen_key("Short-lived signature (TEST ONLY)", at=Y2020)
    signature = gpg.sign(fpr, data, at="20200301T000000", sig_expire="1d")
    within = datetime(2020, 3, 1, 12, tzinfo=UTC)
    result = evaluate(data, [signature], [cert(gpg, fpr)], now=within)
    assert not result.met
    # Not lockkeys' own pre-check (it judged at the injected clock): the engine refused it.
    assert reasons(result) == [Reason.BAD_SIGNATURE]
    # Judged at the real clock, lockkeys' own check names the expiry.
    assert reasons(evaluate(data, [signature], [cert(gpg, fpr)])) == [Reason.SIGNATURE_EXPIRED]


# -- rule 7 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "hard"),
    [(0, True), (1, True), (2, False), (3, False)],
    ids=["no-reason", "compromised", "superseded", "no-longer-used"],
)
def test_rule_07_hard_revocation_voids_all_soft_only_later(
    gpg: GnuPG, data: Path, code: int, hard: bool
) -> None:
    fpr = gpg.gen_key(f"Revoked {code} (TEST ONLY)", at=Y2020)
    in_2021 = gpg.sign(fpr, data, at="20210101T000000")
    # gpg refuses to sign with a revoked key: sign 2023 first; the revocation is dated 2022.
    in_2023 = gpg.sign(fpr, data, at="20230101T000000")
    gpg.revoke_key(fpr, code, at="20220101T000000")
    certificate = cert(gpg, fpr)
    assert certificate.facts.revoked

    for signature in (in_2021, in_2023):
        status = gpgv(gpg.keyring(fpr), signature, data)
        assert status.returncode == 0
        assert "REVKEYSIG" in status.keywords()  # gpgv: good signature by a revoked key

    before = evaluate(data, [in_2021], [certificate])
    after = evaluate(data, [in_2023], [certificate])
    assert reasons(after) == [Reason.REVOKED]
    if hard:
        assert reasons(before) == [Reason.REVOKED]
    else:
        assert before.met, before.explain()


# -- rule 8 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("digest", ["MD5", "SHA1", "RIPEMD160"])
def test_rule_08_weak_digests_refused(rsa_home: tuple[GnuPG, str], data: Path, digest: str) -> None:
    g, fpr = rsa_home
    signature = g.sign(fpr, data, digest=digest)
    (sig,) = load_signatures(signature)
    assert sig.facts.hash_algorithm == digest
    result = evaluate(data, [signature], [cert(g, fpr)])
    assert not result.met
    assert reasons(result) == [Reason.WEAK_DIGEST]
    status = gpgv(g.keyring(fpr), signature, data)
    if digest == "MD5":
        assert "VALIDSIG" not in status.keywords()  # GnuPG 2.2 rejects MD5 itself
    else:
        assert status.returncode == 0
        assert "GOODSIG" in status.keywords()
    # A SHA-256 signature by the same key counts.
    assert evaluate(data, [g.sign(fpr, data)], [cert(g, fpr)]).met


# -- rule 9 ---------------------------------------------------------------------------------


def test_rule_09_rsa_1024_signing_subkey_refused(gpg: GnuPG, data: Path) -> None:
    primary = gpg.gen_key("Weak RSA subkey (TEST ONLY)", usage="cert")
    subkey = gpg.add_subkey(primary, algo="rsa1024", usage="sign")
    certificate = cert(gpg, primary)
    weak = certificate.facts.key(subkey)
    assert weak is not None and weak.bits == 1024 and weak.is_rsa
    signature = gpg.sign(subkey, data)
    status = gpgv(gpg.keyring(primary), signature, data)
    assert status.returncode == 0
    assert "GOODSIG" in status.keywords()
    result = evaluate(data, [signature], [certificate])
    assert not result.met
    assert reasons(result) == [Reason.WEAK_KEY]
    assert "RSA-1024" in result.uncounted[0].detail


def test_rule_09_rsa_1024_primary_refused(gpg: GnuPG, data: Path) -> None:
    """An RSA-1024 certificate must load (or be refused with an InputError naming the file),
    and a signature by it must be refused as WEAK_KEY, not crash."""
    fpr = gpg.gen_key("Weak RSA (TEST ONLY)", algo="rsa1024")
    signature = gpg.sign(fpr, data)
    status = gpgv(gpg.keyring(fpr), signature, data)
    assert status.returncode == 0
    assert "GOODSIG" in status.keywords()
    try:
        certificate = cert(gpg, fpr)
    except InputError as exc:  # acceptable: refused at load, naming the file
        assert fpr in exc.diagnostics()
        return
    assert certificate.facts.primary.bits == 1024
    result = evaluate(data, [signature], [certificate])
    assert not result.met
    assert reasons(result) == [Reason.WEAK_KEY]
    assert "RSA-1024" in result.uncounted[0].detail


# -- rule 10 --------------------------------------------------------------------------------


def test_rule_10_critical_notation_refused_non_critical_fine(gpg: GnuPG, data: Path) -> None:
    fpr = gpg.gen_key("Notations (TEST ONLY)")
    certificate = cert(gpg, fpr)
    critical = gpg.sign(fpr, data, notation="!critical@test.invalid=1")
    plain = gpg.sign(fpr, data, notation="plain@test.invalid=1")

    result = evaluate(data, [critical], [certificate])
    assert not result.met
    assert reasons(result) == [Reason.CRITICAL_UNKNOWN]
    assert "VALIDSIG" not in gpgv(gpg.keyring(fpr), critical, data).keywords()

    assert evaluate(data, [plain], [certificate]).met
    status = gpgv(gpg.keyring(fpr), plain, data)
    assert "VALIDSIG" in status.keywords()
    assert "NOTATION_NAME" in status.keywords()


# -- rule 11 --------------------------------------------------------------------------------


def test_rule_11_only_binary_document_signatures(gpg: GnuPG, data: Path) -> None:
    fpr = gpg.gen_key("Text mode (TEST ONLY)")
    signature = gpg.sign(fpr, data, textmode=True)
    (sig,) = load_signatures(signature)
    assert sig.facts.type_id == 0x01
    status = gpgv(gpg.keyring(fpr), signature, data)
    assert status.returncode == 0
    assert status.lines("VALIDSIG")[0][8] == "01"  # gpgv: a good text signature
    result = evaluate(data, [signature], [cert(gpg, fpr)])
    assert not result.met
    assert reasons(result) == [Reason.NOT_BINARY]


# -- rule 12 --------------------------------------------------------------------------------


def test_rule_12_subkey_with_corrupted_binding_does_not_count(gpg: GnuPG, data: Path) -> None:
    primary = gpg.gen_key("Bundle (TEST ONLY)", usage="cert")
    damaged = gpg.add_subkey(primary)
    intact = gpg.add_subkey(primary)
    by_damaged = gpg.sign(damaged, data)
    by_intact = gpg.sign(intact, data)
    edited = edit_binding(gpg.export(primary), damaged, flip_last_byte)

    certificate = parse_certificate(edited, "damaged.asc")  # still loads
    assert certificate.fingerprint == primary

    result = evaluate(data, [by_damaged], [certificate])
    assert not result.met
    assert reasons(result)[0] in (Reason.UNKNOWN_SIGNER, Reason.BAD_SIGNATURE)
    assert "VALIDSIG" not in gpgv(keyring_file(data.parent, edited), by_damaged, data).keywords()

    result = evaluate(data, [by_intact], [certificate])  # the valid component still counts
    assert result.met, result.explain()
    assert result.counted[0].signing_key == intact


def test_rule_12_damaged_binding_never_lets_its_subkey_count(gpg: GnuPG, data: Path) -> None:
    """The subkey's only binding signature does not verify. The facts lockkeys reads for
    display may still list the subkey (they are the certificate's claims, not checked), but
    the decision is the engine's: a signature by that subkey never counts."""
    primary = gpg.gen_key("Bundle (TEST ONLY)", usage="cert")
    damaged = gpg.add_subkey(primary)
    signature = gpg.sign(damaged + "!", data)
    edited = edit_binding(gpg.export(primary), damaged, flip_last_byte)
    certificate = parse_certificate(edited, "damaged.asc")
    assert certificate.fingerprint == primary
    result = evaluate(data, [signature], [certificate])
    assert not result.met
    assert reasons(result) == [Reason.BAD_SIGNATURE]


def test_rule_12_grafted_component_does_not_veto_a_valid_signature(gpg: GnuPG, data: Path) -> None:
    """Someone appends another certificate's RSA-1024 subkey (with that certificate's own
    binding, which cannot verify under this primary) to a trusted certificate. The graft
    fails validation and must be dropped: the trusted signer's good signature still counts."""
    trusted = gpg.gen_key("Trusted (TEST ONLY) <t@test.invalid>")
    other = gpg.gen_key("Other (TEST ONLY)", usage="cert")
    weak = gpg.add_subkey(other, algo="rsa1024")
    signature = gpg.sign(trusted, data)
    assert evaluate(data, [signature], [cert(gpg, trusted)]).met

    packets = split_packets(dearmored(gpg.export(other)), "other")
    start = next(i for i, p in enumerate(packets) if p.tag == TAG_PUBLIC_SUBKEY)
    graft = b"".join(p.raw for p in packets[start:])  # weak subkey + its binding by `other`
    grafted = armor(dearmored(gpg.export(trusted)) + graft, "PUBLIC KEY BLOCK").encode()
    status = gpgv(keyring_file(data.parent, grafted), signature, data)
    assert status.returncode == 0 and "GOODSIG" in status.keywords()  # gpgv ignores the graft

    certificate = parse_certificate(grafted, "grafted.asc")
    assert certificate.fingerprint == trusted
    result = evaluate(data, [signature], [certificate])
    assert result.met, result.explain()
    assert certificate.facts.key(weak) is None


# -- rule 13 --------------------------------------------------------------------------------

HOSTILE = "Mallory \x1b[31mred\nsecond line (TEST ONLY) <m@test.invalid>"


def test_rule_13_hostile_user_id_loads_and_is_escaped(gpg: GnuPG, data: Path) -> None:
    fpr = gpg.gen_key(HOSTILE)
    other = gpg.gen_key("Other (TEST ONLY)")
    certificate = cert(gpg, fpr, name=HOSTILE)  # e.g. a name taken from the user ID
    assert certificate.facts.user_ids == (HOSTILE,)
    assert "\x1b" not in certificate.label and "\n" not in certificate.label
    assert escape(HOSTILE) in certificate.label

    # Duplicate refusal names it escaped.
    with pytest.raises(InputError) as excinfo:
        Keyring([certificate, cert(gpg, fpr, name=HOSTILE)])
    assert "\x1b" not in excinfo.value.diagnostics()

    # Reports and the refusal name the signer escaped, one line each.
    result = evaluate(data, [gpg.sign(fpr, data)], [certificate, cert(gpg, other)], threshold=2)
    assert not result.met
    for line in result.explain():
        assert "\x1b" not in line and "\n" not in line, line
    with pytest.raises(VerificationError) as verror:
        result.require("certifi")
    text = verror.value.diagnostics()
    assert "\x1b" not in text
    assert not any(line.startswith("second line") for line in text.splitlines())


def test_rule_13_same_user_id_does_not_make_a_signer(gpg: GnuPG, data: Path) -> None:
    fpr = gpg.gen_key(HOSTILE)
    impostor = gpg.gen_key(HOSTILE)
    signature = gpg.sign(impostor, data)
    result = evaluate(data, [signature], [cert(gpg, fpr, name="mallory")])
    assert not result.met
    assert reasons(result) == [Reason.UNKNOWN_SIGNER]
    assert impostor in result.uncounted[0].detail
