"""Detached signature files: one or more armor blocks (or binary) of signature packets only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lockkeys._internal.openpgp.armor import TAG_MARKER, TAG_SIGNATURE, armor, decode
from lockkeys._internal.openpgp.sigpacket import (
    SignatureFacts,
    UnsupportedSignature,
    parse_signature_packet,
)
from lockkeys.errors import InputError

# A local signature file larger than this is refused before it is read (the same cap as for
# signature files fetched from a source): about 8,000 signature packets.
MAX_SIGNATURE_FILE = 1024 * 1024


@dataclass(frozen=True)
class DetachedSignature:
    """One signature packet and where it came from (file and position, for messages)."""

    packet: bytes  # the whole packet (header + body): what the engine verifies
    facts: SignatureFacts
    source: str
    index: int
    unsupported: str | None = None  # why it cannot count (unknown version, algorithm, ...)

    @property
    def where(self) -> str:
        """The signature as named in reports: ``FILE#N``."""
        return f"{self.source}#{self.index + 1}"


def parse_signatures(data: bytes, source: str) -> list[DetachedSignature]:
    """Parse a signature file. Keys, literal data or anything else inside is an InputError."""
    blocks = decode(data, source)
    out: list[DetachedSignature] = []
    for block in blocks:
        if block.label is not None and block.label != "SIGNATURE":
            raise InputError(
                f"armor block 'PGP {block.label}' where a signature is expected",
                file=source,
                expected="-----BEGIN PGP SIGNATURE-----",
                fix="pass the .asc signature file, not a key",
            )
        for packet in block.packets:
            if packet.tag == TAG_MARKER:
                continue
            if packet.tag != TAG_SIGNATURE:
                raise InputError(
                    f"{packet.what} packet inside a signature file",
                    file=source,
                    expected="signature packets only",
                    found=packet.what,
                    fix="a detached signature file holds signatures only "
                    "(make one with `lockkeys sign` or `gpg --detach-sign --armor`)",
                )
            unsupported: str | None = None
            try:
                facts = parse_signature_packet(packet.body)
            except UnsupportedSignature as exc:
                # Not counted, with its reason; the known signatures of the file still count.
                unsupported = str(exc)
                facts = _unknown_facts(exc.version)
            out.append(
                DetachedSignature(
                    packet=packet.raw,
                    facts=facts,
                    source=source,
                    index=len(out),
                    unsupported=unsupported,
                )
            )
    if not out:
        raise InputError("no signature in the file", file=source)
    return out


def _unknown_facts(version: int | None) -> SignatureFacts:
    return SignatureFacts(
        version=version if version is not None else 0,
        type_id=-1,
        hash_algorithm="unknown",
        created=None,
        expires=None,
        key_expires_after=None,
        issuer_key_id=None,
        issuer_fingerprint=None,
    )


def load_signatures(path: Path) -> list[DetachedSignature]:
    """The signatures in the signature file at ``path`` (size-limited, regular file)."""
    from lockkeys._internal.fsutil import read_regular_file

    data = read_regular_file(
        Path(path),
        "signature file",
        MAX_SIGNATURE_FILE,
        missing_fix="sign the file with `lockkeys sign FILE --key SECRET`, or pass --signature",
    )
    return parse_signatures(data, str(path))


def armor_signatures(packets: list[bytes]) -> str:
    """Binary signature packets as one ASCII-armored signature block."""
    return armor(b"".join(packets), "SIGNATURE")
