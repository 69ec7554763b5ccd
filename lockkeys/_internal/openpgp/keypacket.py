"""Facts about public-key packets. Version, fingerprint, creation time and algorithm come from
pysequoia's packet API; hand-written here is only what it lacks: the key's strength (RSA bit
length, curve) and a digest of the key material, so that one key under two certificates is
recognised (TUF's "one key counted twice under two IDs" bug class) and weak keys are refused
(verifier rule 9).

A key packet pysequoia does not read (a v5 key, an unknown algorithm) raises
:class:`UnsupportedKey`; a certificate ignores such a subkey with a note and uses the rest.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

import pysequoia

from lockkeys._internal.openpgp.framing import TAG_PUBLIC_KEY, encode_packet

ALGORITHMS = {
    1: "RSA",
    2: "RSA (encrypt-only)",
    3: "RSA (sign-only)",
    16: "ElGamal",
    20: "ElGamal (encrypt or sign)",
    17: "DSA",
    18: "ECDH",
    19: "ECDSA",
    22: "EdDSA",
    25: "X25519",
    26: "X448",
    27: "Ed25519",
    28: "Ed448",
}
_RSA = {1, 2, 3}

# Curve OIDs (DER body, without tag/length) -> (name, bits).
CURVES = {
    bytes.fromhex("2b06010401da470f01"): ("Ed25519", 256),
    bytes.fromhex("2b060104019755010501"): ("Curve25519", 256),
    bytes.fromhex("2a8648ce3d030107"): ("NIST P-256", 256),
    bytes.fromhex("2b81040022"): ("NIST P-384", 384),
    bytes.fromhex("2b81040023"): ("NIST P-521", 521),
    bytes.fromhex("2b2403030208010107"): ("brainpoolP256r1", 256),
    bytes.fromhex("2b240303020801010b"): ("brainpoolP384r1", 384),
    bytes.fromhex("2b240303020801010d"): ("brainpoolP512r1", 512),
}
_NATIVE_BITS = {25: 256, 26: 448, 27: 256, 28: 456}


@dataclass(frozen=True)
class KeyPacketInfo:
    """The facts read from one public-key packet, computed without the engine."""

    version: int
    created: datetime
    algorithm: str
    algorithm_id: int
    bits: int | None
    curve: str | None
    fingerprint: str  # uppercase hex, computed from the packet (v4: SHA-1, v6: SHA-256)
    material: str  # sha256 over algorithm id and public key material: same key, same value

    @property
    def description(self) -> str:
        """The algorithm as shown to people: with its curve or its size in bits."""
        if self.curve:
            return f"{self.algorithm} ({self.curve})"
        if self.bits:
            return f"{self.algorithm}-{self.bits}"
        return self.algorithm


def _mpi_value(data: bytes, pos: int) -> bytes:
    bits = int.from_bytes(data[pos : pos + 2], "big")
    return data[pos + 2 : pos + 2 + (bits + 7) // 8]


_ED25519_OID = bytes.fromhex("2b06010401da470f01")
_CURVE25519_OID = bytes.fromhex("2b060104019755010501")


def _canonical_material(algo: int, body: bytes, start: int, end: int) -> bytes:
    """The key itself, whatever its encoding: the same Ed25519 key as legacy EdDSA (22) or
    native (27), or the same RSA key under algorithm id 1 or 3, gives the same bytes."""
    if algo in _RSA:
        n = _mpi_value(body, start)
        e = _mpi_value(body, start + 2 + len(n))
        return b"rsa:" + len(n).to_bytes(4, "big") + n + e
    if algo in (22, 18):
        oid = body[start + 1 : start + 1 + body[start]]
        point = _mpi_value(body, start + 1 + body[start])
        if oid in (_ED25519_OID, _CURVE25519_OID) and len(point) == 33 and point[0] == 0x40:
            return (b"ed25519:" if algo == 22 else b"x25519:") + point[1:]
    if algo == 27:
        return b"ed25519:" + body[start : start + 32]
    if algo == 25:
        return b"x25519:" + body[start : start + 32]
    return bytes([algo]) + body[start:end]


def _mpi_bits(data: bytes, pos: int) -> tuple[int, int]:
    """Return (bit count, position after the MPI)."""
    bits = int.from_bytes(data[pos : pos + 2], "big")
    return bits, pos + 2 + (bits + 7) // 8


class UnsupportedKey(ValueError):
    """A key packet lockkeys cannot use: unknown version or algorithm, or malformed."""


_SEQUOIA_ALGORITHMS = {
    "RSAEncryptSign": 1,
    "RSAEncrypt": 2,
    "RSASign": 3,
    "ElGamalEncrypt": 16,
    "DSA": 17,
    "ECDH": 18,
    "ECDSA": 19,
    "ElGamalEncryptSign": 20,
    "EdDSA": 22,
    "X25519": 25,
    "X448": 26,
    "Ed25519": 27,
    "Ed448": 28,
}


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def parse_key_packet(body: bytes, tag: int = TAG_PUBLIC_KEY) -> KeyPacketInfo:
    """Facts of a (public or secret, primary or sub) key packet body with packet tag ``tag``.

    Raises :class:`UnsupportedKey` (a ValueError) for what pysequoia cannot read.
    """
    version = body[0] if body else None
    try:
        (packet,) = list(pysequoia.packet.PacketPile.from_bytes(encode_packet(tag, body)))
        fingerprint = packet.fingerprint
        created = packet.key_created
        algorithm = packet.key_algorithm
    except (RuntimeError, ValueError) as exc:
        raise UnsupportedKey(f"unreadable key packet: {_first_line(exc)}") from None
    if fingerprint is None or created is None or algorithm is None:
        if version not in (4, 6):
            raise UnsupportedKey(f"key packet version {version} is not supported")
        raise UnsupportedKey("malformed key packet or unknown public-key algorithm")
    algo_name = str(algorithm).rsplit(".", 1)[-1]
    algo = _SEQUOIA_ALGORITHMS.get(algo_name, body[5] if len(body) > 5 else -1)
    material_start = 6 if version == 4 else 10
    bits: int | None = None
    curve: str | None = None
    pos = material_start
    try:
        if algo in _RSA:
            bits, pos = _mpi_bits(body, pos)
            _, pos = _mpi_bits(body, pos)
        elif algo in (18, 19, 22):
            oid_len = body[pos]
            oid = body[pos + 1 : pos + 1 + oid_len]
            curve, bits = CURVES.get(oid, (f"unknown curve {oid.hex()}", None))
            pos += 1 + oid_len
            _, pos = _mpi_bits(body, pos)
            if algo == 18:
                pos += 1 + body[pos]
        elif algo in _NATIVE_BITS:
            bits = _NATIVE_BITS[algo]
            pos = len(body)
        elif algo == 17:
            bits, pos = _mpi_bits(body, pos)
            for _ in range(3):
                _, pos = _mpi_bits(body, pos)
        elif algo in (16, 20):
            bits, pos = _mpi_bits(body, pos)
            for _ in range(2):
                _, pos = _mpi_bits(body, pos)
        else:
            pos = len(body)
    except IndexError:
        raise UnsupportedKey("key packet truncated") from None
    if pos > len(body):
        raise UnsupportedKey("key packet truncated")
    # Only the public part: for secret-key packets the secret fields follow and are ignored.
    material = hashlib.sha256(_canonical_material(algo, body, material_start, pos)).hexdigest()
    return KeyPacketInfo(
        version=body[0],
        created=created.astimezone(UTC),
        algorithm=ALGORITHMS.get(algo, algo_name),
        algorithm_id=algo,
        bits=bits,
        curve=curve,
        fingerprint=str(fingerprint).upper(),
        material=material,
    )
