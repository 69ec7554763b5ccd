"""Certificates and keyrings: loading armored files, and refusing ambiguous sets.

Trust anchors are full primary fingerprints (verifier rule 1). A keyring refuses two
certificates with the same primary fingerprint or the same key material (rule 2, and the
TUF bug class of one key counted twice under two names).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from lockkeys._internal.fsutil import read_regular_file
from lockkeys._internal.limits import MAX_KEY_FILE
from lockkeys._internal.openpgp.armor import (
    TAG_PUBLIC_KEY,
    TAG_SECRET_KEY,
    TAG_SIGNATURE,
    armor,
    decode,
)
from lockkeys._internal.openpgp.engine import CertFacts, EngineCert, OpenPGPEngine
from lockkeys._internal.openpgp.sequoia import default_engine
from lockkeys.errors import InputError, escape

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Certificate:
    """A public certificate with the name it is known by (a config name, or its file)."""

    facts: CertFacts
    handle: EngineCert
    binary: bytes
    source: str
    name: str | None = None

    @property
    def fingerprint(self) -> str:
        """The primary key's fingerprint."""
        return self.facts.fingerprint

    @property
    def label(self) -> str:
        """How to name this signer in messages: `name (FINGERPRINT)`."""
        if self.name:
            return f"{escape(self.name)} ({self.fingerprint})"
        return self.fingerprint

    def armored(self) -> str:
        """The certificate as an ASCII-armored public key block."""
        return armor(self.binary, "PUBLIC KEY BLOCK")


@dataclass(frozen=True)
class SecretKey:
    """A transferable secret key loaded for signing, with its facts."""

    facts: CertFacts
    handle: EngineCert
    source: str

    @property
    def fingerprint(self) -> str:
        """The primary key's fingerprint."""
        return self.facts.fingerprint


def _single_key_block(data: bytes, source: str, *, want_secret: bool) -> bytes:
    blocks = decode(data, source)
    packets = [p for block in blocks for p in block.packets]
    first = packets[0]
    expected = "a secret key" if want_secret else "a public certificate"
    if first.tag == TAG_SIGNATURE:
        raise InputError(
            f"this is a signature file, not {expected}",
            file=source,
            expected=expected,
            found=f"{len(packets)} signature packet(s)",
        )
    if first.tag == TAG_SECRET_KEY and not want_secret:
        raise InputError(
            "this is a secret key where a public certificate is expected",
            file=source,
            expected="a public certificate (NAME.asc)",
            found="a secret key (never share or embed it)",
            fix="use the public certificate written beside it, e.g. NAME.asc, not NAME.secret.asc",
        )
    if first.tag == TAG_PUBLIC_KEY and want_secret:
        raise InputError(
            "this is a public certificate where a secret key is expected",
            file=source,
            expected="a secret key (NAME.secret.asc)",
            found="a public certificate",
            fix="pass the secret key file written by `lockkeys key generate`",
        )
    if first.tag not in (TAG_PUBLIC_KEY, TAG_SECRET_KEY):
        raise InputError(
            f"not an OpenPGP key: it starts with {first.what}",
            file=source,
            expected=expected,
        )
    primaries = [p for p in packets if p.tag in (TAG_PUBLIC_KEY, TAG_SECRET_KEY)]
    if len(primaries) > 1:
        raise InputError(
            f"holds {len(primaries)} keys; lockkeys reads one key per file",
            file=source,
            fix="split the keyring into one armored file per key (gpg --export --armor FPR)",
        )
    return b"".join(p.raw for p in packets)


def parse_certificate(
    data: bytes,
    source: str,
    name: str | None = None,
    engine: OpenPGPEngine | None = None,
    *,
    keep_certifiers: frozenset[str] = frozenset(),
) -> Certificate:
    """Parse one certificate into the canonical form Sequoia produces after checking it.

    Unbound user IDs, user attributes, third-party signatures (except certifications by a key
    in ``keep_certifiers``: a transition statement) and packets Sequoia cannot read are
    dropped, so what is embedded in a lock is what binds to the key, not the input's bytes.
    """
    engine = engine or default_engine()
    raw = _single_key_block(data, source, want_secret=False)
    handle, _facts = engine.load_certificate(raw, source)
    binary = engine.canonical(handle, keep_certifiers)
    handle, facts = engine.load_certificate(binary, source)
    for note in facts.notes:
        log.warning("%s: %s", escape(source), escape(note))
    return Certificate(facts=facts, handle=handle, binary=binary, source=source, name=name)


def merge_certificates(
    embedded: Certificate, update: Certificate, engine: OpenPGPEngine | None = None
) -> Certificate:
    """Sequoia's merge of two certificates of one primary key (never a replacement).

    New subkeys, self-signatures (expiry changes) and revocations are added; older
    self-signatures are kept, so a signature made under an older binding stays valid.
    """
    engine = engine or default_engine()
    if embedded.fingerprint != update.fingerprint:
        raise InputError(
            "not the same key: a certificate whose primary fingerprint changed is a "
            "replacement, not a merge",
            file=update.source,
            expected=embedded.fingerprint,
            found=update.fingerprint,
        )
    merged = engine.merge(embedded.handle, update.handle, update.source)
    keep = frozenset(_third_party_certifiers(embedded) | _third_party_certifiers(update))
    binary = engine.canonical(merged, keep)
    handle, facts = engine.load_certificate(binary, update.source)
    return Certificate(
        facts=facts,
        handle=handle,
        binary=binary,
        source=update.source,
        name=update.name or embedded.name,
    )


def _third_party_certifiers(cert: Certificate) -> set[str]:
    from lockkeys._internal.openpgp.sigpacket import parse_signature_packet

    out: set[str] = set()
    for packet in decode(cert.binary, cert.source)[0].packets:
        if packet.tag != TAG_SIGNATURE:
            continue
        try:
            facts = parse_signature_packet(packet.body)
        except ValueError:
            continue
        issuer = facts.issuer_fingerprint
        if issuer and issuer != cert.fingerprint and 0x10 <= facts.type_id <= 0x13:
            out.add(issuer)
    return out


def load_certificate(
    path: Path, name: str | None = None, engine: OpenPGPEngine | None = None
) -> Certificate:
    """The one public certificate in the file at ``path`` (an InputError otherwise)."""
    return parse_certificate(_read(path, "certificate"), str(path), name, engine)


def load_secret_key(path: Path, engine: OpenPGPEngine | None = None) -> SecretKey:
    """The one transferable secret key in the file at ``path``."""
    engine = engine or default_engine()
    source = str(path)
    binary = _single_key_block(_read(path, "secret key"), source, want_secret=True)
    handle, facts = engine.load_secret_key(binary, source)
    return SecretKey(facts=facts, handle=handle, source=source)


def load_key_any(path: Path, engine: OpenPGPEngine | None = None) -> CertFacts:
    """Facts of a public certificate or a secret key (for `key show`)."""
    data = _read(path, "key")
    blocks = decode(data, str(path))
    if blocks[0].packets[0].tag == TAG_SECRET_KEY:
        return load_secret_key(path, engine).facts
    return parse_certificate(data, str(path), None, engine).facts


def _read(path: Path, what: str) -> bytes:
    return read_regular_file(Path(path), f"{what} file", MAX_KEY_FILE)


class Keyring:
    """A set of trusted certificates, unambiguous by fingerprint and by key material."""

    def __init__(self, certificates: Iterable[Certificate]) -> None:
        self._by_fpr: dict[str, Certificate] = {}
        material_owner: dict[str, Certificate] = {}
        for cert in certificates:
            other = self._by_fpr.get(cert.fingerprint)
            if other is not None:
                raise InputError(
                    f"duplicate certificate: {cert.fingerprint} is listed twice",
                    file=cert.source,
                    found=f"also in {other.source}"
                    + (f" as {escape(other.name)!r}" if other.name else ""),
                    fix="list each signer once",
                )
            for key in cert.facts.all_keys():
                owner = material_owner.get(key.material)
                if owner is not None and owner.fingerprint != cert.fingerprint:
                    raise InputError(
                        "duplicate key material: certificate "
                        f"{cert.fingerprint} reuses key {key.fingerprint} of {owner.label}",
                        file=cert.source,
                        found=f"the same key material in {owner.source}",
                        fix="one key cannot stand for two signers; remove one of them",
                    )
                material_owner.setdefault(key.material, cert)
            self._by_fpr[cert.fingerprint] = cert

    def __iter__(self) -> Iterator[Certificate]:
        return iter(self.certificates())

    def __len__(self) -> int:
        return len(self._by_fpr)

    def certificates(self) -> list[Certificate]:
        """Every certificate, ordered by fingerprint."""
        return sorted(self._by_fpr.values(), key=lambda c: c.fingerprint)

    def fingerprints(self) -> list[str]:
        """Every primary fingerprint, sorted."""
        return sorted(self._by_fpr)

    def get(self, fingerprint: str) -> Certificate | None:
        """The certificate with this primary fingerprint, if the keyring holds it."""
        return self._by_fpr.get(fingerprint.upper())

    def candidates(
        self, issuer_fingerprint: str | None, issuer_key_id: str | None
    ) -> list[Certificate]:
        """Certificates holding a key that matches the signature's issuer hint."""
        found = []
        for cert in self.certificates():
            for key in cert.facts.all_keys():
                if issuer_fingerprint and key.fingerprint == issuer_fingerprint.upper():
                    found.append(cert)
                    break
                if (
                    not issuer_fingerprint
                    and issuer_key_id
                    and key.fingerprint.endswith(issuer_key_id.upper())
                ):
                    found.append(cert)
                    break
        return found

    def subset(self, fingerprints: Sequence[str]) -> Keyring:
        """A keyring of only the certificates with these fingerprints."""
        return Keyring(c for c in self.certificates() if c.fingerprint in set(fingerprints))
