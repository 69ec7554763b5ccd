"""What one certificate holds that another lacks: for `lock --check`, `lock` and `diff`.

Certificates are merged, never replaced (:func:`lockkeys._internal.trust.certs.merge_certificates`).
This module describes the difference between two forms of one certificate in words a
reviewer can check: new subkeys, new self-signatures (an expiry change), revocations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lockkeys._internal.openpgp.armor import (
    TAG_PUBLIC_KEY,
    TAG_PUBLIC_SUBKEY,
    TAG_SECRET_KEY,
    TAG_SECRET_SUBKEY,
    TAG_SIGNATURE,
    TAG_USER_ID,
    decode,
)
from lockkeys._internal.openpgp.keypacket import parse_key_packet
from lockkeys._internal.openpgp.sigpacket import parse_signature_packet
from lockkeys._internal.trust.certs import Certificate
from lockkeys.errors import escape

_REVOCATIONS = {0x20, 0x28, 0x30}


@dataclass(frozen=True)
class _Item:
    raw: bytes
    text: str
    revocation: bool = False


@dataclass(frozen=True)
class CertDelta:
    """``added``: what the second form has that the first lacks; ``removed``: the reverse."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    revocations_added: tuple[str, ...]
    revocations_removed: tuple[str, ...]
    expiry_before: datetime | None
    expiry_after: datetime | None

    @property
    def empty(self) -> bool:
        """Whether the two certificates hold the same components."""
        return not (self.added or self.removed)

    def expiry_text(self) -> str | None:
        """``expiry OLD -> NEW`` when the expiry changed, else None."""
        if self.expiry_before == self.expiry_after:
            return None
        return f"expiry {_date(self.expiry_before)} -> {_date(self.expiry_after)}"


def _date(when: datetime | None) -> str:
    return f"{when:%Y-%m-%d}" if when else "never"


def _items(cert: Certificate) -> list[_Item]:
    items: list[_Item] = []
    component = "primary key"
    for packet in decode(cert.binary, cert.source)[0].packets:
        if packet.tag in (TAG_PUBLIC_KEY, TAG_SECRET_KEY):
            component = "primary key"
            continue
        if packet.tag in (TAG_PUBLIC_SUBKEY, TAG_SECRET_SUBKEY):
            fpr = parse_key_packet(packet.body).fingerprint
            component = f"subkey {fpr}"
            items.append(_Item(packet.raw, f"new subkey {fpr}"))
            continue
        if packet.tag == TAG_USER_ID:
            component = f"user ID {escape(packet.body.decode('utf-8', 'replace'))!r}"
            items.append(_Item(packet.raw, component))
            continue
        if packet.tag != TAG_SIGNATURE:
            continue
        try:
            facts = parse_signature_packet(packet.body)
        except ValueError:
            continue
        when = f"{facts.created:%Y-%m-%d}" if facts.created else "undated"
        if facts.type_id in _REVOCATIONS:
            reason = facts.revocation_reason or "no reason"
            items.append(_Item(packet.raw, f"revocation of {component} ({reason}, {when})", True))
        elif facts.issuer_fingerprint and facts.issuer_fingerprint != cert.fingerprint:
            items.append(
                _Item(packet.raw, f"certification of {component} by {facts.issuer_fingerprint}")
            )
        else:
            items.append(_Item(packet.raw, f"self-signature on {component} ({when})"))
    return items


def compare_certificates(first: Certificate, second: Certificate) -> CertDelta:
    """Packet-level difference between two forms of the same certificate."""
    before, after = _items(first), _items(second)
    before_raw = {i.raw for i in before}
    after_raw = {i.raw for i in after}
    added = [i for i in after if i.raw not in before_raw]
    removed = [i for i in before if i.raw not in after_raw]
    return CertDelta(
        added=tuple(i.text for i in added if not i.revocation),
        removed=tuple(i.text for i in removed if not i.revocation),
        revocations_added=tuple(i.text for i in added if i.revocation),
        revocations_removed=tuple(i.text for i in removed if i.revocation),
        expiry_before=first.facts.expires,
        expiry_after=second.facts.expires,
    )


def describe(delta: CertDelta) -> list[str]:
    """What is new, in words, for `lock --check` (``added`` and revocations added)."""
    lines = list(delta.revocations_added) + list(delta.added)
    expiry = delta.expiry_text()
    if expiry:
        lines.insert(0, expiry)
    return lines


__all__ = ["CertDelta", "compare_certificates", "describe"]
