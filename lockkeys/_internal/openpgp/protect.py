"""Passphrase protection for transferable secret keys (pysequoia cannot set a passphrase).

`protect_secret_key` takes the binary TSK that ``bytes(pysequoia.Tsk)`` produces, whose secret
key material is in the clear (S2K usage octet 0), and re-encodes every v4 Secret-Key (tag 5) and
Secret-Subkey (tag 7) packet as RFC 4880 section 5.5.3 / RFC 9580 section 5.5.3 describe for S2K
usage 254:

    public key part || 254 || cipher (AES-256 = 9) || S2K specifier || IV
        || CFB(key, IV, secret fields || SHA-1(secret fields))

The S2K specifier is type 3, "iterated and salted" (RFC 4880 section 3.7.1.3), with SHA-256,
a fresh random 8-octet salt per packet and the coded count `DEFAULT_S2K_COUNT`. The key is
encrypted with plain full-block CFB (no OpenPGP resync step), as secret-key packets use. The
two-octet checksum of the unprotected form is verified and dropped: the SHA-1 replaces it.

Every other packet is copied byte for byte. Key packets are re-emitted with new-format headers.
GnuPG and Sequoia both read this format (GnuPG converts it on import into its own protection).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from lockkeys._internal.openpgp.framing import Packet, encode_packet, split_packets
from lockkeys.errors import InputError

try:  # cryptography >= 47 moved CFB here; the old location warns, then goes away in 49
    from cryptography.hazmat.decrepit.ciphers.modes import CFB
except ImportError:  # pragma: no cover - older cryptography
    from cryptography.hazmat.primitives.ciphers.modes import CFB

__all__ = [
    "DEFAULT_S2K_COUNT",
    "decode_s2k_count",
    "encode_packet",
    "iter_packets",
    "protect_secret_key",
    "public_key_end",
    "s2k_iterated_salted",
]

TAG_SECRET_KEY = 5
TAG_SECRET_SUBKEY = 7
_SECRET_TAGS = frozenset({TAG_SECRET_KEY, TAG_SECRET_SUBKEY})

S2K_USAGE_CLEAR = 0
S2K_USAGE_SHA1 = 254
S2K_TYPE_ITERATED_SALTED = 3
SYM_AES256 = 9
HASH_SHA256 = 8
_AES_KEY_SIZE = 32
_AES_BLOCK_SIZE = 16
_SALT_SIZE = 8

# Coded count 0xFF -> (16 + 15) << (15 + 6) = 65,011,712 octets (62 MiB) of SHA-256 input per
# key packet: the largest count the one-octet encoding can express and the count Sequoia itself
# uses when it encrypts a secret key, so these keys are no cheaper to brute-force than ones
# Sequoia or `sq` would write. With SHA-256 at native speed it costs tens of milliseconds per
# unlock (and per protected packet here; hashlib does the hashing in C).
DEFAULT_S2K_COUNT = 0xFF

# Public-key algorithm ids (RFC 4880 section 9.1, RFC 9580 section 9.1).
_RSA_IDS = frozenset({1, 2, 3})  # RSA, RSA encrypt-only, RSA sign-only: MPI n, MPI e
_ELGAMAL = 16  # MPI p, g, y
_DSA = 17  # MPI p, q, g, y
_ECDH = 18  # OID, MPI point, KDF parameters
_ECDSA = 19  # OID, MPI point
_EDDSA_LEGACY = 22  # OID, MPI point
# Native v4/v6 algorithms of RFC 9580: fixed-size public key fields.
_NATIVE_PUBLIC_SIZES = {25: 32, 26: 56, 27: 32, 28: 57}  # X25519, X448, Ed25519, Ed448

_HASH_CHUNK = 1 << 16


def iter_packets(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Yield (tag, body) for each packet of binary OpenPGP `data`.

    Framing is read by the one packet reader
    (:func:`lockkeys._internal.openpgp.framing.split_packets`), with its rules; a framing fault is
    raised as ValueError here.
    """
    for packet in _packets(data):
        yield packet.tag, packet.body


def _take(data: bytes, pos: int, length: int, what: str) -> bytes:
    if length < 0 or pos + length > len(data):
        raise ValueError(f"OpenPGP packet truncated: {what} runs past the end of the data")
    return data[pos : pos + length]


def _packets(data: bytes) -> tuple[Packet, ...]:
    try:
        return split_packets(data, "secret key")
    except InputError as exc:
        raise ValueError(exc.message) from None


def decode_s2k_count(coded: int) -> int:
    """Number of octets hashed for an iterated-and-salted S2K coded count (RFC 4880 3.7.1.3)."""
    if not 0 <= coded <= 255:
        raise ValueError(f"S2K coded count must be one octet, got {coded}")
    return (16 + (coded & 15)) << ((coded >> 4) + 6)


def s2k_iterated_salted(
    passphrase: bytes, salt: bytes, coded_count: int, key_size: int = _AES_KEY_SIZE
) -> bytes:
    """Derive `key_size` octets with the iterated and salted S2K using SHA-256.

    The salt || passphrase string is hashed repeatedly until `count` octets went in (at least
    once, whole). When more octets than one digest are needed, further contexts are preloaded
    with 1, 2, ... zero octets (RFC 4880 section 3.7.1.1).
    """
    if len(salt) != _SALT_SIZE:
        raise ValueError(f"S2K salt must be {_SALT_SIZE} octets, got {len(salt)}")
    count = decode_s2k_count(coded_count)
    unit = salt + passphrase
    total = max(count, len(unit))
    full, rest = divmod(total, len(unit))
    block = unit * max(1, _HASH_CHUNK // len(unit))
    per_block = len(block) // len(unit)
    key = b""
    preload = 0
    while len(key) < key_size:
        h = hashlib.sha256(b"\x00" * preload)
        remaining = full
        while remaining >= per_block:
            h.update(block)
            remaining -= per_block
        h.update(unit * remaining + unit[:rest])
        key += h.digest()
        preload += 1
    return key[:key_size]


def _mpi_end(body: bytes, pos: int, what: str) -> int:
    header = _take(body, pos, 2, f"{what} MPI length")
    bits = int.from_bytes(header, "big")
    size = (bits + 7) // 8
    _take(body, pos + 2, size, f"{what} MPI")
    return pos + 2 + size


def _prefixed_end(body: bytes, pos: int, what: str) -> int:
    size = _take(body, pos, 1, f"{what} length")[0]
    if size in (0, 0xFF):
        raise ValueError(f"{what} has reserved length {size}")
    _take(body, pos + 1, size, what)
    return pos + 1 + size


def public_key_end(body: bytes) -> int:
    """Offset just after the public part of a v4 key packet body (tag 5, 6, 7 or 14).

    Raises ValueError for other versions, unknown algorithms and truncated material.
    """
    if not body:
        raise ValueError("empty key packet")
    version = body[0]
    if version != 4:
        raise ValueError(f"only v4 key packets can be protected, got version {version}")
    algorithm = _take(body, 5, 1, "public-key algorithm octet")[0]
    pos = 6
    if algorithm in _RSA_IDS:
        for name in ("RSA n", "RSA e"):
            pos = _mpi_end(body, pos, name)
    elif algorithm == _ELGAMAL:
        for name in ("ElGamal p", "ElGamal g", "ElGamal y"):
            pos = _mpi_end(body, pos, name)
    elif algorithm == _DSA:
        for name in ("DSA p", "DSA q", "DSA g", "DSA y"):
            pos = _mpi_end(body, pos, name)
    elif algorithm in (_ECDSA, _EDDSA_LEGACY, _ECDH):
        pos = _prefixed_end(body, pos, "curve OID")
        pos = _mpi_end(body, pos, "EC point")
        if algorithm == _ECDH:
            pos = _prefixed_end(body, pos, "ECDH KDF parameters")
    elif algorithm in _NATIVE_PUBLIC_SIZES:
        size = _NATIVE_PUBLIC_SIZES[algorithm]
        _take(body, pos, size, f"algorithm {algorithm} public key")
        pos += size
    else:
        raise ValueError(f"cannot protect a key of unsupported public-key algorithm {algorithm}")
    return pos


def _protect_key_body(tag: int, body: bytes, passphrase: bytes, coded_count: int) -> bytes:
    end = public_key_end(body)
    usage = _take(body, end, 1, "S2K usage octet")[0]
    kind = "secret key" if tag == TAG_SECRET_KEY else "secret subkey"
    if usage != S2K_USAGE_CLEAR:
        raise ValueError(
            f"{kind} is already protected or stubbed (S2K usage {usage}); "
            "only unencrypted secret keys can be protected"
        )
    cleartext = body[end + 1 :]
    if len(cleartext) < 3:
        raise ValueError(f"{kind} has no secret key material")
    secret, checksum = cleartext[:-2], cleartext[-2:]
    if sum(secret) & 0xFFFF != int.from_bytes(checksum, "big"):
        raise ValueError(f"{kind} checksum does not match its secret key material")

    salt = os.urandom(_SALT_SIZE)
    iv = os.urandom(_AES_BLOCK_SIZE)
    key = s2k_iterated_salted(passphrase, salt, coded_count)
    encryptor = Cipher(algorithms.AES(key), CFB(iv)).encryptor()
    encrypted = encryptor.update(secret + hashlib.sha1(secret).digest()) + encryptor.finalize()
    s2k = bytes([S2K_TYPE_ITERATED_SALTED, HASH_SHA256]) + salt + bytes([coded_count])
    return body[:end] + bytes([S2K_USAGE_SHA1, SYM_AES256]) + s2k + iv + encrypted


def protect_secret_key(
    tsk: bytes, passphrase: bytes, *, coded_count: int = DEFAULT_S2K_COUNT
) -> bytes:
    """Return `tsk` with every Secret-Key and Secret-Subkey packet protected by `passphrase`.

    `tsk` is a binary transferable secret key whose secret material is unencrypted. Each key
    packet gets its own salt and IV. Raises ValueError on malformed packets, unsupported key
    versions or algorithms, keys that are already protected, an empty passphrase, or input
    without any secret key packet.
    """
    if not passphrase:
        raise ValueError("the passphrase must not be empty")
    decode_s2k_count(coded_count)
    out: list[bytes] = []
    protected = 0
    for packet in _packets(tsk):
        if packet.tag in _SECRET_TAGS:
            body = _protect_key_body(packet.tag, packet.body, passphrase, coded_count)
            out.append(encode_packet(packet.tag, body))
            protected += 1
        else:
            out.append(packet.raw)
    if not protected:
        raise ValueError("no Secret-Key or Secret-Subkey packet found: not a secret key")
    return b"".join(out)
