"""Revocation material merged into pinned certificates.

Only revocations are taken from this material: key revocations, subkey revocations and user ID
revocations for certificates the lock pins, merged into the pinned certificate. Sequoia then
decides what they void (a hard revocation, compromised or no reason, voids every signature by
the key; a soft one, superseded or retired, only signatures made after it). New subkeys or
expiry changes in an updated certificate are not taken here: they widen trust, so they need a
re-lock, where `lockkeys diff` shows them. Material for a key the lock does not pin is
ignored with a note. Where the material comes from (the lock's `revocations` folders and
URLs) is :mod:`lockkeys._internal.locktrust.revocations`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from lockkeys._internal.openpgp.armor import (
    TAG_PUBLIC_KEY,
    TAG_PUBLIC_SUBKEY,
    TAG_SECRET_KEY,
    TAG_SECRET_SUBKEY,
    TAG_SIGNATURE,
    TAG_USER_ID,
    Packet,
    decode,
)
from lockkeys._internal.openpgp.keypacket import parse_key_packet
from lockkeys._internal.openpgp.sigpacket import parse_signature_packet
from lockkeys._internal.trust.certs import Certificate, Keyring, parse_certificate
from lockkeys._internal.trust.merge import compare_certificates
from lockkeys.errors import InputError, escape

_REVOCATION_TYPES = {0x20, 0x28, 0x30}
_BLOCK = re.compile(
    r"^:?(-----BEGIN PGP [A-Z ]+-----)$(.*?)^(-----END PGP [A-Z ]+-----)$", re.M | re.S
)


@dataclass
class RevocationOutcome:
    """The keyring after revocations, with notes for the report and what was applied."""

    keyring: Keyring
    notes: list[str] = field(default_factory=list)
    applied: dict[str, list[str]] = field(default_factory=dict)  # fingerprint -> revocations


def _blocks(data: bytes, source: str) -> list[list[Packet]]:
    """Packets of each armor block (text around the blocks is allowed), or of binary data."""
    if data[:1] and data[0] & 0x80:
        return [list(b.packets) for b in decode(data, source)]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("neither binary OpenPGP nor text", file=source) from None
    found = [m.group(1) + m.group(2) + m.group(3) for m in _BLOCK.finditer(text)]
    if not found:
        raise InputError(
            "no OpenPGP armor block in the file",
            file=source,
            expected="revocation certificates or certificates (-----BEGIN PGP ...-----)",
        )
    return [list(b.packets) for block in found for b in decode(block.encode(), source)]


def _revocations_in(packets: list[Packet]) -> list[tuple[str | None, bytes, bytes]]:
    """(primary fingerprint or None for a bare signature, component packet, signature packet)."""
    out: list[tuple[str | None, bytes, bytes]] = []
    primary: str | None = None
    component = b""
    for packet in packets:
        if packet.tag in (TAG_PUBLIC_KEY, TAG_SECRET_KEY):
            primary, component = parse_key_packet(packet.body).fingerprint, b""
        elif packet.tag in (TAG_PUBLIC_SUBKEY, TAG_SECRET_SUBKEY, TAG_USER_ID):
            component = packet.raw if packet.tag == TAG_USER_ID else _public(packet)
        elif packet.tag == TAG_SIGNATURE:
            try:
                facts = parse_signature_packet(packet.body)
            except ValueError:
                continue
            if facts.type_id in _REVOCATION_TYPES:
                owner = primary or facts.issuer_fingerprint
                out.append((owner, component if facts.type_id != 0x20 else b"", packet.raw))
    return out


def _public(packet: Packet) -> bytes:
    if packet.tag == TAG_PUBLIC_SUBKEY:
        return packet.raw
    raise InputError("secret key material in a revocation source", file="revocations")


def merge_revocations(
    keyring: Keyring, documents: Sequence[tuple[str, bytes]], notes: Sequence[str] = ()
) -> RevocationOutcome:
    """Merge the revocations found in ``documents`` (name, bytes) into the pinned certificates.

    ``notes`` are carried into the outcome first (what the caller could not read, and why).
    """
    outcome = RevocationOutcome(keyring=keyring, notes=list(notes))
    extra: dict[str, list[bytes]] = {}
    for name, data in documents:
        if not data.strip():
            continue
        for packets in _blocks(data, name):
            for owner, component, signature in _revocations_in(packets):
                cert = keyring.get(owner) if owner else None
                if cert is None:
                    outcome.notes.append(
                        f"revocations: ignored a revocation in {escape(name)} for "
                        f"{owner or 'an unnamed key'}: not a key this lock pins"
                    )
                    continue
                extra.setdefault(cert.fingerprint, []).append(component + signature)
    if not extra:
        return outcome
    updated: list[Certificate] = []
    for cert in keyring.certificates():
        parts = extra.get(cert.fingerprint)
        if not parts:
            updated.append(cert)
            continue
        merged = parse_certificate(
            cert.binary + b"".join(parts), f"{cert.source} + revocations", cert.name
        )
        if merged.fingerprint != cert.fingerprint:  # cannot happen: the primary comes first
            raise InputError("revocation material changed a certificate's key", file=cert.source)
        added = list(compare_certificates(cert, merged).revocations_added)
        if added:
            outcome.applied[cert.fingerprint] = added
            outcome.notes += [f"revocations: {cert.label}: published {line}" for line in added]
        updated.append(
            Certificate(
                facts=merged.facts,
                handle=merged.handle,
                binary=merged.binary,
                source=cert.source,
                name=cert.name,
            )
        )
    outcome.keyring = Keyring(updated)
    return outcome


__all__ = ["RevocationOutcome", "merge_revocations"]
