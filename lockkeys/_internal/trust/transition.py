"""Key rotation: a transition statement is a certification of the new key by the old one.

`lockkeys key generate --replaces OLD.secret.asc` has the old primary key certify the new
key's user ID (an ordinary OpenPGP third-party certification, what `gpg --sign-key` makes:
`gpg --check-sigs NEW` shows it as `sig!`). `lockkeys diff` classifies a signer whose
primary key changed as a **rotation** (neutral) only when the new certificate carries such a
certification and it verifies against the old certificate pinned in the old lock.

pysequoia (0.1.35) verifies self-signatures and data signatures but exposes no check of a
third-party certification, so this module checks that one signature itself (RFC 9580
section 5.2.4, v4 signatures; Ed25519 and RSA keys) with the `cryptography` package. It only
ever decides how `diff` labels a change for a reviewer; it never makes a signature count at
install time. Anything it cannot check is not a rotation (the change stays a replacement).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers

from lockkeys._internal.openpgp.armor import (
    TAG_PUBLIC_KEY,
    TAG_PUBLIC_SUBKEY,
    TAG_SECRET_KEY,
    TAG_SECRET_SUBKEY,
    TAG_SIGNATURE,
    TAG_USER_ID,
    decode,
)
from lockkeys._internal.openpgp.sigpacket import parse_signature_packet
from lockkeys._internal.trust.certs import Certificate

_ED25519_OID = bytes.fromhex("2b06010401da470f01")
_HASHES = {
    8: ("sha256", hashes.SHA256),
    9: ("sha384", hashes.SHA384),
    10: ("sha512", hashes.SHA512),
}
_SOFT = {"key superseded", "key retired"}


@dataclass(frozen=True)
class _PublicKey:
    algorithm: int
    ed25519: bytes | None = None
    rsa: tuple[int, int] | None = None


def _mpi(data: bytes, pos: int) -> tuple[bytes, int]:
    bits = int.from_bytes(data[pos : pos + 2], "big")
    length = (bits + 7) // 8
    value = data[pos + 2 : pos + 2 + length]
    if len(value) != length:
        raise ValueError("truncated MPI")
    return value, pos + 2 + length


def _public_key(body: bytes) -> _PublicKey | None:
    if len(body) < 6 or body[0] != 4:
        return None
    algorithm = body[5]
    pos = 6
    if algorithm in (1, 3):
        n, pos = _mpi(body, pos)
        e, pos = _mpi(body, pos)
        return _PublicKey(algorithm, rsa=(int.from_bytes(n, "big"), int.from_bytes(e, "big")))
    if algorithm == 22:
        oid_len = body[pos]
        oid = body[pos + 1 : pos + 1 + oid_len]
        if oid != _ED25519_OID:
            return None
        point, _ = _mpi(body, pos + 1 + oid_len)
        if len(point) != 33 or point[0] != 0x40:
            return None
        return _PublicKey(algorithm, ed25519=point[1:])
    if algorithm == 27:
        return _PublicKey(algorithm, ed25519=body[pos : pos + 32])
    return None


def _verify(key: _PublicKey, sig_body: bytes, hashed_prefix: bytes) -> bool:
    """Check one v4 signature packet body over ``hashed_prefix`` (what precedes its trailer)."""
    if sig_body[0] != 4:
        return False
    hash_id = sig_body[3]
    if sig_body[2] != key.algorithm or hash_id not in _HASHES:
        return False
    hashed_len = int.from_bytes(sig_body[4:6], "big")
    signed_part = sig_body[: 6 + hashed_len]
    pos = 6 + hashed_len
    unhashed_len = int.from_bytes(sig_body[pos : pos + 2], "big")
    pos += 2 + unhashed_len + 2  # the unhashed area, then the left 16 bits of the digest
    name, algorithm = _HASHES[hash_id]
    trailer = b"\x04\xff" + len(signed_part).to_bytes(4, "big")
    digest = hashlib.new(name, hashed_prefix + signed_part + trailer).digest()
    try:
        if key.ed25519 is not None:
            if key.algorithm == 27:
                raw = sig_body[pos : pos + 64]
            else:
                r, pos = _mpi(sig_body, pos)
                s, _ = _mpi(sig_body, pos)
                raw = r.rjust(32, b"\0") + s.rjust(32, b"\0")
            Ed25519PublicKey.from_public_bytes(key.ed25519).verify(raw, digest)
            return True
        if key.rsa is not None:
            value, _ = _mpi(sig_body, pos)
            n, e = key.rsa
            public = RSAPublicNumbers(e, n).public_key()
            size = (public.key_size + 7) // 8
            public.verify(
                value.rjust(size, b"\0"), digest, padding.PKCS1v15(), utils.Prehashed(algorithm())
            )
            return True
    except (InvalidSignature, ValueError):
        return False
    return False


def _primary_body(cert: Certificate) -> bytes:
    first = decode(cert.binary, cert.source)[0].packets[0]
    return first.body


def find_transition(old: Certificate, new: Certificate) -> str | None:
    """Describe the certification of ``new`` by ``old``'s primary key, if one verifies."""
    primary = old.facts.primary
    if primary.revoked and (primary.revocation_reason or "") not in _SOFT:
        return None  # a key revoked as compromised (or for no reason) vouches for nothing
    old_key = _public_key(_primary_body(old))
    if old_key is None:
        return None
    packets = decode(new.binary, new.source)[0].packets
    new_body = packets[0].body
    if new_body[:1] != b"\x04":
        return None
    key_prefix = b"\x99" + len(new_body).to_bytes(2, "big") + new_body
    user_id: bytes | None = None
    for packet in packets[1:]:
        if packet.tag in (TAG_PUBLIC_SUBKEY, TAG_SECRET_SUBKEY, TAG_PUBLIC_KEY, TAG_SECRET_KEY):
            user_id = None
        elif packet.tag == TAG_USER_ID:
            user_id = packet.body
        elif packet.tag == TAG_SIGNATURE and user_id is not None:
            try:
                facts = parse_signature_packet(packet.body)
            except ValueError:
                continue
            if not 0x10 <= facts.type_id <= 0x13:
                continue
            issuer = facts.issuer_fingerprint or ""
            if issuer != old.fingerprint and not (
                not issuer and facts.issuer_key_id and old.fingerprint.endswith(facts.issuer_key_id)
            ):
                continue
            if facts.created is not None and facts.created < new.facts.primary.created:
                continue
            if facts.expires is not None and facts.expires <= datetime.now(UTC):
                continue  # an expired certification no longer vouches
            prefix = key_prefix + b"\xb4" + len(user_id).to_bytes(4, "big") + user_id
            if _verify(old_key, packet.body, prefix):
                when = f"{facts.created:%Y-%m-%d}" if facts.created else "undated"
                return f"certification by {old.fingerprint}, {when}"
    return None


__all__ = ["find_transition"]
