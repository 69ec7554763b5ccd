"""Passphrase protection of pysequoia-generated secret keys (lockkeys._internal.openpgp.protect)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pysequoia
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

try:  # cryptography >= 47 (as lockkeys._internal.openpgp.protect); older: the original location
    from cryptography.hazmat.decrepit.ciphers.modes import CFB
except ImportError:
    from cryptography.hazmat.primitives.ciphers.modes import CFB

from lockkeys._internal.openpgp.protect import (
    DEFAULT_S2K_COUNT,
    decode_s2k_count,
    encode_packet,
    iter_packets,
    protect_secret_key,
    public_key_end,
    s2k_iterated_salted,
)

PASSWORD = "pw"
SUITES = {
    "cv25519": None,
    "rsa3k": pysequoia.CipherSuite.RSA3k,
}


def _generate(suite: str) -> pysequoia.Tsk:
    cipher_suite = SUITES[suite]
    if cipher_suite is None:
        return pysequoia.Tsk.generate("Lock Signer <signer@example.org>")
    return pysequoia.Tsk.generate("Lock Signer <signer@example.org>", cipher_suite=cipher_suite)


@pytest.fixture(scope="module", params=sorted(SUITES))
def generated(request: pytest.FixtureRequest) -> tuple[pysequoia.Tsk, bytes]:
    tsk = _generate(request.param)
    return tsk, protect_secret_key(bytes(tsk), PASSWORD.encode())


def _old_format(tag: int, body: bytes) -> bytes:
    """Re-frame one packet with an old-format header (4-octet length form)."""
    return bytes([0x80 | (tag << 2) | 2]) + len(body).to_bytes(4, "big") + body


# --- pysequoia round trip -------------------------------------------------------------------


def test_pysequoia_unlocks_and_signs(generated: tuple[pysequoia.Tsk, bytes]) -> None:
    tsk, protected = generated
    cert = tsk.extract_certificate()
    signer = pysequoia.Tsk.from_bytes(protected).signer(password=PASSWORD)
    data = b"requirements.lock contents\n"
    sig = pysequoia.sign(signer, data, mode=pysequoia.SignatureMode.DETACHED, armor=False)
    result = pysequoia.verify(
        bytes=data, signature=pysequoia.Sig.from_bytes(sig), store=lambda ids: [cert]
    )
    assert len(result.valid_sigs) == 1
    # The certificate (public part) is unchanged by protection.
    assert pysequoia.Tsk.from_bytes(protected).extract_certificate().fingerprint == cert.fingerprint


def test_wrong_password_fails(generated: tuple[pysequoia.Tsk, bytes]) -> None:
    _, protected = generated
    # pysequoia raises RuntimeError: the wrong key decrypts to garbage, and what the parser
    # then says depends on the random key ("unexpected EOF", "Malformed MPI", ...)
    with pytest.raises(RuntimeError):
        pysequoia.Tsk.from_bytes(protected).signer(password="wrong")


def test_missing_password_fails(generated: tuple[pysequoia.Tsk, bytes]) -> None:
    _, protected = generated
    with pytest.raises(RuntimeError, match="secret key material is encrypted"):
        pysequoia.Tsk.from_bytes(protected).signer()


# --- packet structure, decrypted independently ----------------------------------------------


def _decrypt_secret(body: bytes, passphrase: bytes) -> bytes:
    end = public_key_end(body)
    rest = body[end:]
    assert rest[0] == 254  # S2K usage: SHA-1 integrity
    assert rest[1] == 9  # AES-256
    assert rest[2] == 3  # iterated and salted
    assert rest[3] == 8  # SHA-256
    salt, count, iv = rest[4:12], rest[12], rest[13:29]
    assert count == DEFAULT_S2K_COUNT
    key = s2k_iterated_salted(passphrase, salt, count)
    decryptor = Cipher(algorithms.AES(key), CFB(iv)).decryptor()
    plain = decryptor.update(rest[29:]) + decryptor.finalize()
    secret, digest = plain[:-20], plain[-20:]
    assert hashlib.sha1(secret).digest() == digest
    return secret


def test_structure_and_plaintext(generated: tuple[pysequoia.Tsk, bytes]) -> None:
    tsk, protected = generated
    before = list(iter_packets(bytes(tsk)))
    after = list(iter_packets(protected))
    assert [tag for tag, _ in before] == [tag for tag, _ in after]
    salts = set()
    for (tag, old), (_, new) in zip(before, after, strict=True):
        if tag not in (5, 7):
            assert new == old
            continue
        end = public_key_end(old)
        assert new[:end] == old[:end]  # public part untouched
        assert old[end] == 0
        # Unprotected form: secret fields followed by a 2-octet checksum, which is dropped.
        assert _decrypt_secret(new, PASSWORD.encode()) == old[end + 1 : -2]
        salts.add(new[end + 4 : end + 12])
    assert len(salts) == sum(1 for tag, _ in before if tag in (5, 7))


def test_non_key_packets_are_byte_identical(generated: tuple[pysequoia.Tsk, bytes]) -> None:
    tsk, protected = generated
    original = bytes(tsk)
    # pysequoia writes new-format headers; every non-key packet's raw bytes must reappear.
    pos = 0
    for tag, body in iter_packets(original):
        raw = encode_packet(tag, body)
        assert original[pos : pos + len(raw)] == raw
        pos += len(raw)
        if tag not in (5, 7):
            assert raw in protected


def test_each_call_uses_fresh_salt_and_iv() -> None:
    tsk = _generate("cv25519")
    first = protect_secret_key(bytes(tsk), b"pw")
    second = protect_secret_key(bytes(tsk), b"pw")
    assert first != second
    assert len(first) == len(second)


def test_old_format_input_is_accepted() -> None:
    tsk = _generate("cv25519")
    old = b"".join(_old_format(tag, body) for tag, body in iter_packets(bytes(tsk)))
    protected = protect_secret_key(old, b"pw")
    tags = [tag for tag, _ in iter_packets(protected)]
    assert tags == [tag for tag, _ in iter_packets(bytes(tsk))]
    for tag, body in iter_packets(protected):
        if tag in (5, 7):
            assert encode_packet(tag, body) in protected  # re-emitted with new-format header
        else:
            assert _old_format(tag, body) in protected  # copied as it was
    pysequoia.Tsk.from_bytes(protected).signer(password="pw")


def test_non_ascii_passphrase_bytes() -> None:
    tsk = _generate("cv25519")
    protected = protect_secret_key(bytes(tsk), "pässwörd ✓".encode())
    pysequoia.Tsk.from_bytes(protected).signer(password="pässwörd ✓")


# --- GnuPG interop ---------------------------------------------------------------------------


@pytest.fixture
def gnupghome(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    home.chmod(0o700)
    yield home
    subprocess.run(
        ["gpgconf", "--kill", "gpg-agent"],
        env={**os.environ, "GNUPGHOME": str(home)},
        check=False,
        capture_output=True,
    )


@pytest.mark.skipif(shutil.which("gpg") is None, reason="gpg is not installed")
@pytest.mark.parametrize("suite", sorted(SUITES))
def test_gnupg_imports_and_signs(suite: str, gnupghome: Path, tmp_path: Path) -> None:
    tsk = _generate(suite)
    protected = protect_secret_key(bytes(tsk), PASSWORD.encode())
    armored = pysequoia.armor(protected, pysequoia.ArmorKind.SecretKey)
    env = {**os.environ, "GNUPGHOME": str(gnupghome)}

    def gpg(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["gpg", "--batch", "--no-tty", *args],
            env=env,
            input=stdin,
            capture_output=True,
            timeout=120,
            check=False,
        )

    imported = gpg("--import", stdin=armored.encode())
    assert imported.returncode == 0, imported.stderr.decode()
    fpr = tsk.extract_certificate().fingerprint.upper()
    listed = gpg("--with-colons", "--list-secret-keys", fpr)
    assert listed.returncode == 0, listed.stderr.decode()

    document = tmp_path / "requirements.lock"
    document.write_bytes(b"pkg==1.0\n")

    def sign(passphrase: str, out: Path) -> subprocess.CompletedProcess[bytes]:
        return gpg(
            "--yes",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            passphrase,
            "--detach-sign",
            "--armor",
            "--output",
            str(out),
            "-u",
            fpr,
            str(document),
        )

    bad = sign("wrong", tmp_path / "bad.asc")
    assert bad.returncode != 0
    assert b"Bad passphrase" in bad.stderr, bad.stderr.decode()
    good = sign(PASSWORD, tmp_path / "good.asc")
    assert good.returncode == 0, good.stderr.decode()

    # The GnuPG signature verifies with Sequoia against the certificate.
    sig = pysequoia.Sig.from_bytes((tmp_path / "good.asc").read_bytes())
    cert = tsk.extract_certificate()
    result = pysequoia.verify(bytes=document.read_bytes(), signature=sig, store=lambda ids: [cert])
    assert len(result.valid_sigs) == 1


# --- framing helpers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "header_len"),
    [(0, 2), (191, 2), (192, 3), (8383, 3), (8384, 6), (100_000, 6)],
)
def test_encode_packet_length_forms(size: int, header_len: int) -> None:
    body = bytes(range(256)) * (size // 256) + bytes(size % 256)
    packet = encode_packet(13, body)
    assert packet[0] == 0xC0 | 13
    assert len(packet) == header_len + size
    assert list(iter_packets(packet)) == [(13, body)]


def test_encode_packet_rejects_bad_tag() -> None:
    for tag in (0, 64):
        with pytest.raises(ValueError, match="tag"):
            encode_packet(tag, b"")


def test_iter_packets_old_format_lengths() -> None:
    data = (
        bytes([0x80 | (13 << 2) | 0, 3]) + b"abc"  # one-octet length
        + bytes([0x80 | (13 << 2) | 1, 0, 2]) + b"de"  # two-octet length
        + bytes([0x80 | (2 << 2) | 2, 0, 0, 0, 1]) + b"f"  # four-octet length
    )  # fmt: skip
    assert list(iter_packets(data)) == [(13, b"abc"), (13, b"de"), (2, b"f")]


def test_iter_packets_uses_the_one_reader_indeterminate_and_partial_refused() -> None:
    """protect.py reads framing with the one packet reader's rules (issue 12, item 8): old
    indeterminate lengths and new partial lengths (data packets only) are refused."""
    indeterminate = bytes([0x80 | (11 << 2) | 3]) + b"to the end"
    with pytest.raises(ValueError, match="indeterminate"):
        list(iter_packets(indeterminate))
    body = bytes(512) + b"tail"
    partial = bytes([0xC0 | 11, 0xE0 | 9]) + body[:512] + bytes([4]) + body[512:]
    with pytest.raises(ValueError, match="partial"):
        list(iter_packets(partial))


def test_s2k_count_decoding() -> None:
    assert decode_s2k_count(0x00) == 1024
    assert decode_s2k_count(0x60) == 65536
    assert decode_s2k_count(0xE0) == 16 * 1024 * 1024
    assert decode_s2k_count(0xFF) == 65_011_712
    with pytest.raises(ValueError):
        decode_s2k_count(256)


def test_s2k_matches_the_definition() -> None:
    salt, passphrase = b"saltsalt", b"hunter2"
    count = decode_s2k_count(0x10)  # 2048 octets
    unit = salt + passphrase
    stream = (unit * (count // len(unit) + 1))[:count]
    assert s2k_iterated_salted(passphrase, salt, 0x10) == hashlib.sha256(stream).digest()
    # More key than one digest: the second context is preloaded with one zero octet.
    long_key = s2k_iterated_salted(passphrase, salt, 0x10, key_size=40)
    assert long_key[:32] == hashlib.sha256(stream).digest()
    assert long_key[32:] == hashlib.sha256(b"\x00" + stream).digest()[:8]
    # A count below the string length still hashes the whole string once.
    long_pass = b"x" * 2000
    assert s2k_iterated_salted(long_pass, salt, 0x00) == hashlib.sha256(salt + long_pass).digest()


# --- malformed input -------------------------------------------------------------------------


def _replace_key_body(tsk: bytes, edit: Callable[[bytes], bytes]) -> bytes:
    out = []
    for tag, body in iter_packets(tsk):
        if tag == 5:
            body = edit(body)
        out.append(encode_packet(tag, body))
    return b"".join(out)


@pytest.fixture(scope="module")
def plain_tsk() -> bytes:
    return bytes(_generate("cv25519"))


def test_already_protected_is_rejected(plain_tsk: bytes) -> None:
    protected = protect_secret_key(plain_tsk, b"pw")
    with pytest.raises(ValueError, match="already protected"):
        protect_secret_key(protected, b"pw")


def test_unknown_algorithm_is_rejected(plain_tsk: bytes) -> None:
    data = _replace_key_body(plain_tsk, lambda b: b[:5] + bytes([99]) + b[6:])
    with pytest.raises(ValueError, match="unsupported public-key algorithm 99"):
        protect_secret_key(data, b"pw")


def test_other_key_versions_are_rejected(plain_tsk: bytes) -> None:
    data = _replace_key_body(plain_tsk, lambda b: bytes([6]) + b[1:])
    with pytest.raises(ValueError, match="v4"):
        protect_secret_key(data, b"pw")


def test_bad_checksum_is_rejected(plain_tsk: bytes) -> None:
    data = _replace_key_body(plain_tsk, lambda b: b[:-1] + bytes([b[-1] ^ 1]))
    with pytest.raises(ValueError, match="checksum"):
        protect_secret_key(data, b"pw")


def test_truncated_key_material_is_rejected(plain_tsk: bytes) -> None:
    data = _replace_key_body(plain_tsk, lambda b: b[:12])
    with pytest.raises(ValueError, match="truncated"):
        protect_secret_key(data, b"pw")


def test_public_certificate_is_rejected() -> None:
    cert = bytes(_generate("cv25519").extract_certificate())
    with pytest.raises(ValueError, match="no Secret-Key"):
        protect_secret_key(cert, b"pw")


def test_empty_passphrase_is_rejected(plain_tsk: bytes) -> None:
    with pytest.raises(ValueError, match="passphrase"):
        protect_secret_key(plain_tsk, b"")


@pytest.mark.parametrize(
    "data",
    [
        b"",  # nothing at all
        b"\x00\x01\x02",  # header bit 7 clear
        b"-----BEGIN PGP PRIVATE KEY BLOCK-----\n",  # armored, not binary
        bytes([0xC5]),  # length missing
        bytes([0xC5, 0xC0]),  # two-octet length cut short
        bytes([0xC5, 0xFF, 0, 0]),  # five-octet length cut short
        bytes([0xC5, 10, 4, 0]),  # body shorter than its length
        bytes([0x80 | (5 << 2) | 1, 0]),  # old-format two-octet length cut short
        bytes([0xC0, 0]),  # reserved tag 0
        bytes([0xC5, 0]),  # empty key packet
        bytes([0xC5, 6, 4, 0, 0, 0, 0, 1]),  # RSA key without its MPIs
    ],
)
def test_malformed_input_raises_value_error(data: bytes) -> None:
    with pytest.raises(ValueError):
        protect_secret_key(data, b"pw")
