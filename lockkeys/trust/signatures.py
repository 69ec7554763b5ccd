"""Detached signature files: one or more armor blocks (or binary) of signature packets only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lockkeys.errors import InputError
from lockkeys.openpgp.armor import TAG_MARKER, TAG_SIGNATURE, armor, decode
from lockkeys.openpgp.sigpacket import SignatureFacts, parse_signature_packet


@dataclass(frozen=True)
class DetachedSignature:
    """One signature packet and where it came from (file and position, for messages)."""

    packet: bytes  # the whole packet (header + body): what the engine verifies
    facts: SignatureFacts
    source: str
    index: int

    @property
    def where(self) -> str:
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
            try:
                facts = parse_signature_packet(packet.body)
            except (ValueError, IndexError) as exc:
                raise InputError(f"malformed signature packet: {exc}", file=source) from None
            out.append(
                DetachedSignature(packet=packet.raw, facts=facts, source=source, index=len(out))
            )
    if not out:
        raise InputError("no signature in the file", file=source)
    return out


def load_signatures(path: Path) -> list[DetachedSignature]:
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(
            "signature file not found",
            file=str(path),
            fix="sign the file with `lockkeys sign FILE --key SECRET`, or pass --signature",
        ) from None
    except OSError as exc:
        raise InputError(f"cannot read signature file: {exc.strerror}", file=str(path)) from None
    return parse_signatures(data, str(path))


def armor_signatures(packets: list[bytes]) -> str:
    return armor(b"".join(packets), "SIGNATURE")
