"""Read the facts of a signature packet: type, digest, times, issuer, flags, revocation reason.

These facts explain a decision (why a signature did not count) and feed `key show`; they never
make one. Whether a signature is valid is decided by the engine (Sequoia) alone.

Every fact pysequoia's packet API gives (version, type, digest and public-key algorithms,
creation and expiration times, issuer, key flags, key validity) is taken from it. Hand-written
here is only what it lacks: the revocation reason, which hashed subpackets are critical (verifier
rule 10), and where the hashed area ends (for the 16-bit digest quick check).

A packet pysequoia cannot read as a signature (an unknown version such as v10, an unknown
signature type or algorithm, a malformed body) raises :class:`UnsupportedSignature` with a
one-line reason: the caller does not count it, and the other signatures of the file still count.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pysequoia

HASH_ALGORITHMS = {
    1: "MD5",
    2: "SHA1",
    3: "RIPEMD160",
    8: "SHA256",
    9: "SHA384",
    10: "SHA512",
    11: "SHA224",
    12: "SHA3-256",
    14: "SHA3-512",
}
WEAK_HASHES = frozenset({"MD5", "SHA1", "RIPEMD160"})

SIGNATURE_TYPES = {
    0x00: "binary",
    0x01: "text",
    0x02: "standalone",
    0x10: "generic certification",
    0x11: "persona certification",
    0x12: "casual certification",
    0x13: "positive certification",
    0x18: "subkey binding",
    0x19: "primary key binding",
    0x1F: "direct key",
    0x20: "key revocation",
    0x28: "subkey revocation",
    0x30: "certification revocation",
    0x40: "timestamp",
    0x50: "third-party confirmation",
}

REVOCATION_REASONS = {
    0: "no reason specified",
    1: "key superseded",
    2: "key compromised",
    3: "key retired",
    32: "user ID no longer valid",
}
SOFT_REVOCATIONS = frozenset({1, 3})  # superseded, retired: only later signatures are void

_SUB_NOTATION = 20
_SUB_REVOCATION_REASON = 29
_SUB_EMBEDDED_SIGNATURE = 32


@dataclass(frozen=True)
class SignatureFacts:
    """What lockkeys reads from a signature packet itself, before any engine sees it."""

    version: int
    type_id: int
    hash_algorithm: str
    created: datetime | None
    expires: datetime | None
    key_expires_after: timedelta | None
    issuer_key_id: str | None  # uppercase hex
    issuer_fingerprint: str | None  # uppercase hex
    key_flags: frozenset[str] = field(default_factory=frozenset)
    revocation_code: int | None = None
    revocation_text: str | None = None
    critical_unknown: tuple[int, ...] = ()
    has_embedded_signature: bool = False

    @property
    def signature_type(self) -> str:
        """The signature type in words (``binary document``, ...), for messages."""
        return SIGNATURE_TYPES.get(self.type_id, f"type 0x{self.type_id:02x}")

    @property
    def issuer(self) -> str | None:
        """The issuer hint: its fingerprint when given, else its key ID."""
        return self.issuer_fingerprint or self.issuer_key_id

    @property
    def revocation_reason(self) -> str | None:
        """For a revocation, its reason in words, if it gives one."""
        if self.revocation_code is None:
            return None
        return REVOCATION_REASONS.get(self.revocation_code, f"reason {self.revocation_code}")

    @property
    def hard_revocation(self) -> bool:
        """Whether a revocation is hard (not superseded or retired): it voids every signature."""
        return self.revocation_code not in SOFT_REVOCATIONS


_KNOWN_SUBPACKETS = frozenset(
    {
        2,
        3,
        4,
        5,
        6,
        7,
        9,
        11,
        12,
        16,
        20,
        21,
        22,
        23,
        24,
        25,
        26,
        27,
        28,
        29,
        30,
        31,
        32,
        33,
        34,
        35,
        37,
        39,
    }
)


def _subpackets(area: bytes) -> list[tuple[int, bool, bytes]]:
    out: list[tuple[int, bool, bytes]] = []
    pos = 0
    while pos < len(area):
        o1 = area[pos]
        if o1 < 192:
            length, pos = o1, pos + 1
        elif o1 < 255:
            if pos + 1 >= len(area):
                raise ValueError("malformed signature subpacket length")
            length, pos = ((o1 - 192) << 8) + area[pos + 1] + 192, pos + 2
        else:
            if pos + 4 >= len(area):
                raise ValueError("malformed signature subpacket length")
            length, pos = int.from_bytes(area[pos + 1 : pos + 5], "big"), pos + 5
        if length < 1 or pos + length > len(area):
            raise ValueError("malformed signature subpacket")
        kind = area[pos]
        out.append((kind & 0x7F, bool(kind & 0x80), area[pos + 1 : pos + length]))
        pos += length
    return out


class UnsupportedSignature(ValueError):
    """A signature packet lockkeys does not count: unknown version, type or algorithm, or
    malformed. ``version`` is the packet's version octet (None for an empty body)."""

    def __init__(self, reason: str, version: int | None) -> None:
        super().__init__(reason)
        self.version = version


# pysequoia's enum member names -> RFC 9580 identifiers (its own ints are not the RFC's).
_TYPE_IDS = {
    "Binary": 0x00,
    "Text": 0x01,
    "Standalone": 0x02,
    "GenericCertification": 0x10,
    "PersonaCertification": 0x11,
    "CasualCertification": 0x12,
    "PositiveCertification": 0x13,
    "CertificationApproval": 0x16,
    "SubkeyBinding": 0x18,
    "PrimaryKeyBinding": 0x19,
    "DirectKey": 0x1F,
    "KeyRevocation": 0x20,
    "SubkeyRevocation": 0x28,
    "CertificationRevocation": 0x30,
    "Timestamp": 0x40,
    "Confirmation": 0x50,
}
_HASH_NAMES = {
    "MD5": "MD5",
    "SHA1": "SHA1",
    "RipeMD": "RIPEMD160",
    "SHA224": "SHA224",
    "SHA256": "SHA256",
    "SHA384": "SHA384",
    "SHA512": "SHA512",
    "SHA3_256": "SHA3-256",
    "SHA3_512": "SHA3-512",
}


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _enum_name(value: object) -> str:
    return str(value).rsplit(".", 1)[-1]


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


def _get(packet: Any, attribute: str, version: int | None) -> Any:
    try:
        return getattr(packet, attribute)
    except RuntimeError as exc:
        raise UnsupportedSignature(_first_line(exc), version) from None


def _flag_names(flags: Any) -> frozenset[str]:
    if flags is None:
        return frozenset()
    names = []
    if flags.certification:
        names.append("certify")
    if flags.signing:
        names.append("sign")
    if flags.transport_encryption or flags.storage_encryption:
        names.append("encrypt")
    if flags.authentication:
        names.append("authenticate")
    return frozenset(names)


def hashed_trailer(body: bytes) -> bytes | None:
    """What a v4 signature hashes after the data (RFC 9580 section 5.2.4), or None for other
    versions. Used only for the 16-bit quick check, never to accept anything."""
    if len(body) < 6 or body[0] != 4:
        return None
    hashed_len = int.from_bytes(body[4:6], "big")
    if 6 + hashed_len > len(body):
        return None
    prefix = body[: 6 + hashed_len]
    return prefix + b"\x04\xff" + len(prefix).to_bytes(4, "big")


def digest_prefix(body: bytes) -> bytes | None:
    """The signature's left 16 bits of the signed digest (v4 only), or None."""
    if len(body) < 6 or body[0] != 4:
        return None
    pos = 6 + int.from_bytes(body[4:6], "big")
    if pos + 2 > len(body):
        return None
    pos += 2 + int.from_bytes(body[pos : pos + 2], "big")
    if pos + 2 > len(body):
        return None
    return body[pos : pos + 2]


def _own_subpackets(body: bytes, version: int) -> tuple[list[tuple[int, bool, bytes]], ...]:
    """(hashed, unhashed) subpackets of a v4/v6 body already accepted by pysequoia."""
    width = 2 if version == 4 else 4
    pos = 4
    hashed_len = int.from_bytes(body[pos : pos + width], "big")
    pos += width
    hashed = body[pos : pos + hashed_len]
    pos += hashed_len
    unhashed_len = int.from_bytes(body[pos : pos + width], "big")
    pos += width
    unhashed = body[pos : pos + unhashed_len]
    return _subpackets(hashed), _subpackets(unhashed)


def parse_signature_packet(body: bytes) -> SignatureFacts:
    """The facts of one signature packet, from its body (as framed by the one reader).

    Raises :class:`UnsupportedSignature` for anything pysequoia cannot read as a signature.
    """
    from lockkeys._internal.openpgp.framing import TAG_SIGNATURE, encode_packet

    raw = encode_packet(TAG_SIGNATURE, body)
    try:
        (packet,) = list(pysequoia.packet.PacketPile.from_bytes(raw))
    except (RuntimeError, ValueError) as exc:
        raise UnsupportedSignature(
            f"unreadable signature packet: {_first_line(exc)}", None
        ) from None
    # The body as framed is what is read by hand (pysequoia's ``body`` re-serializes, which
    # can itself fail).
    octet = body[0] if body else None
    version = _get(packet, "signature_version", octet)
    if version is None:
        if octet is not None and octet not in (3, 4, 6):
            raise UnsupportedSignature(f"signature version {octet} is not supported", octet)
        raise UnsupportedSignature("malformed signature packet", octet)
    type_id = _TYPE_IDS.get(_enum_name(_get(packet, "signature_type", version)))
    if type_id is None:
        raise UnsupportedSignature("unknown signature type", version)
    hash_name = _HASH_NAMES.get(_enum_name(_get(packet, "hash_algorithm", version)))
    if hash_name is None:
        raise UnsupportedSignature("unknown digest algorithm", version)
    try:
        pysequoia.Sig.from_bytes(raw).key_algorithm  # noqa: B018 - it raises when unknown
    except RuntimeError as exc:
        raise UnsupportedSignature(_first_line(exc), version) from None
    created = _utc(_get(packet, "signature_created", version))
    expires = _utc(_get(packet, "signature_expiration_time", version))
    validity = _get(packet, "key_validity_period", version)
    issuer_fpr = _get(packet, "issuer_fingerprint", version)
    issuer_id = _get(packet, "issuer_key_id", version)
    flags = _flag_names(_get(packet, "key_flags", version))

    rev_code: int | None = None
    rev_text: str | None = None
    critical_unknown: list[int] = []
    embedded = False
    if version in (4, 6):
        try:
            hashed, unhashed = _own_subpackets(body, version)
        except ValueError as exc:
            raise UnsupportedSignature(str(exc), version) from None
        for kind, critical, data in hashed:
            if kind == _SUB_REVOCATION_REASON and data:
                rev_code = data[0]
                rev_text = data[1:].decode("utf-8", "replace")
            if critical and (kind not in _KNOWN_SUBPACKETS or kind == _SUB_NOTATION):
                critical_unknown.append(kind)
        embedded = any(kind == _SUB_EMBEDDED_SIGNATURE for kind, _, _ in (*hashed, *unhashed))
    key_expires_after: timedelta | None = None
    if validity:
        with contextlib.suppress(TypeError, OverflowError):
            key_expires_after = validity if isinstance(validity, timedelta) else None
            if key_expires_after is None:
                key_expires_after = timedelta(seconds=int(validity))
    issuer_key_id = issuer_id.upper() if issuer_id else None
    issuer_fingerprint = issuer_fpr.upper() if issuer_fpr else None
    if issuer_fingerprint and not issuer_key_id:
        issuer_key_id = issuer_fingerprint[-16:]
    return SignatureFacts(
        version=version,
        type_id=type_id,
        hash_algorithm=hash_name,
        created=created,
        expires=expires,
        key_expires_after=key_expires_after,
        issuer_key_id=issuer_key_id,
        issuer_fingerprint=issuer_fingerprint,
        key_flags=flags,
        revocation_code=rev_code,
        revocation_text=rev_text,
        critical_unknown=tuple(critical_unknown),
        has_embedded_signature=embedded,
    )
