"""Read the facts of a signature packet: type, digest, times, issuer, flags, revocation reason.

These facts explain a decision (why a signature did not count) and feed `key show`; they never
make one. Whether a signature is valid is decided by the engine (Sequoia) alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

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

_SUB_CREATED = 2
_SUB_SIG_EXPIRES = 3
_SUB_KEY_EXPIRES = 9
_SUB_ISSUER_KEY_ID = 16
_SUB_NOTATION = 20
_SUB_KEY_FLAGS = 27
_SUB_REVOCATION_REASON = 29
_SUB_EMBEDDED_SIGNATURE = 32
_SUB_ISSUER_FPR = 33


@dataclass(frozen=True)
class SignatureFacts:
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
        return SIGNATURE_TYPES.get(self.type_id, f"type 0x{self.type_id:02x}")

    @property
    def issuer(self) -> str | None:
        return self.issuer_fingerprint or self.issuer_key_id

    @property
    def revocation_reason(self) -> str | None:
        if self.revocation_code is None:
            return None
        return REVOCATION_REASONS.get(self.revocation_code, f"reason {self.revocation_code}")

    @property
    def hard_revocation(self) -> bool:
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


def _flags(data: bytes) -> frozenset[str]:
    if not data:
        return frozenset()
    bits = data[0]
    names = []
    if bits & 0x01:
        names.append("certify")
    if bits & 0x02:
        names.append("sign")
    if bits & 0x0C:
        names.append("encrypt")
    if bits & 0x20:
        names.append("authenticate")
    return frozenset(names)


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


def parse_signature_packet(body: bytes) -> SignatureFacts:
    """Parse a signature packet body (v3, v4 or v6). Raises ValueError when malformed."""
    if not body:
        raise ValueError("empty signature packet")
    version = body[0]
    if version == 3:
        if len(body) < 19:
            raise ValueError("signature packet too short")
        return SignatureFacts(
            version=3,
            type_id=body[2],
            hash_algorithm=HASH_ALGORITHMS.get(body[16], f"hash {body[16]}"),
            created=datetime.fromtimestamp(int.from_bytes(body[3:7], "big"), tz=UTC),
            expires=None,
            key_expires_after=None,
            issuer_key_id=body[7:15].hex().upper(),
            issuer_fingerprint=None,
        )
    if version not in (4, 5, 6):
        raise ValueError(f"unsupported signature version {version}")
    if len(body) < 6:
        raise ValueError("signature packet too short")
    type_id, hash_id = body[1], body[3]
    width = 2 if version == 4 else 4
    pos = 4
    hashed_len = int.from_bytes(body[pos : pos + width], "big")
    pos += width
    hashed = body[pos : pos + hashed_len]
    pos += hashed_len
    unhashed_len = int.from_bytes(body[pos : pos + width], "big")
    pos += width
    unhashed = body[pos : pos + unhashed_len]
    if len(hashed) != hashed_len or len(unhashed) != unhashed_len:
        raise ValueError("signature packet truncated")

    created: datetime | None = None
    sig_expires_after: int | None = None
    key_expires_after: timedelta | None = None
    key_id: str | None = None
    fpr: str | None = None
    flags: frozenset[str] = frozenset()
    rev_code: int | None = None
    rev_text: str | None = None
    critical_unknown: list[int] = []
    embedded = False
    for area, is_hashed in ((hashed, True), (unhashed, False)):
        for kind, critical, data in _subpackets(area):
            if is_hashed and kind == _SUB_CREATED and len(data) == 4:
                created = datetime.fromtimestamp(int.from_bytes(data, "big"), tz=UTC)
            elif is_hashed and kind == _SUB_SIG_EXPIRES and len(data) == 4:
                sig_expires_after = int.from_bytes(data, "big") or None
            elif is_hashed and kind == _SUB_KEY_EXPIRES and len(data) == 4:
                seconds = int.from_bytes(data, "big")
                key_expires_after = timedelta(seconds=seconds) if seconds else None
            elif kind == _SUB_ISSUER_KEY_ID and len(data) == 8:
                key_id = key_id or data.hex().upper()
            elif kind == _SUB_ISSUER_FPR and len(data) > 1:
                fpr = fpr or data[1:].hex().upper()
            elif is_hashed and kind == _SUB_KEY_FLAGS:
                flags = _flags(data)
            elif is_hashed and kind == _SUB_REVOCATION_REASON and data:
                rev_code = data[0]
                rev_text = data[1:].decode("utf-8", "replace")
            elif kind == _SUB_EMBEDDED_SIGNATURE:
                embedded = True
            if is_hashed and critical and (kind not in _KNOWN_SUBPACKETS or kind == _SUB_NOTATION):
                critical_unknown.append(kind)
    if fpr and not key_id:
        key_id = fpr[-16:]
    expires = (
        created + timedelta(seconds=sig_expires_after)
        if created is not None and sig_expires_after
        else None
    )
    return SignatureFacts(
        version=version,
        type_id=type_id,
        hash_algorithm=HASH_ALGORITHMS.get(hash_id, f"hash {hash_id}"),
        created=created,
        expires=expires,
        key_expires_after=key_expires_after,
        issuer_key_id=key_id,
        issuer_fingerprint=fpr,
        key_flags=flags,
        revocation_code=rev_code,
        revocation_text=rev_text,
        critical_unknown=tuple(critical_unknown),
        has_embedded_signature=embedded,
    )
