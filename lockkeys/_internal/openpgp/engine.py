"""The OpenPGP engine interface: what lockkeys needs from an OpenPGP library, and no more.

The one implementation is the Sequoia adapter (:mod:`lockkeys._internal.openpgp.sequoia`); every
call into pysequoia lives there. Decisions about validity (bindings, back-signatures, revocation,
expiry at signing time, digest policy) are the engine's; lockkeys adds the rules Sequoia does
not own (distinct signers, key strength, binary-document type, display escaping) on top.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class KeyFacts:
    """One key of a certificate (primary or subkey), as read from its packets.

    These are the certificate's claims (bindings issued by its own primary), read to explain
    decisions and to display keys; they are not cryptographically checked here. Whether a key
    may make a signature that counts is decided by the engine when it verifies.
    """

    fingerprint: str  # uppercase hex
    algorithm: str  # e.g. "EdDSA (Ed25519)", "RSA-3072"
    bits: int | None
    created: datetime
    expires: datetime | None
    capabilities: frozenset[str]  # "certify", "sign", "encrypt", "authenticate"
    revoked: bool
    revocation_reason: str | None
    material: str  # digest of the public key material
    is_rsa: bool
    valid_from: datetime | None = None  # the oldest self-signature binding this key
    revoked_at: datetime | None = None  # when a soft revocation took effect (else None)
    """Set only for a soft revocation (superseded, retired): signatures made before it still
    count. A hard one (compromised, no reason) voids every signature, whenever made."""


@dataclass(frozen=True)
class CertFacts:
    """What lockkeys knows about a certificate: its keys, user IDs, expiry and revocation."""

    fingerprint: str
    user_ids: tuple[str, ...]
    primary: KeyFacts
    subkeys: tuple[KeyFacts, ...]
    expires: datetime | None
    revoked: bool
    has_secret: bool
    notes: tuple[str, ...] = ()  # components ignored while reading (e.g. a v5 subkey)

    def all_keys(self) -> tuple[KeyFacts, ...]:
        """The primary key, then every subkey."""
        return (self.primary, *self.subkeys)

    def key(self, fingerprint_or_id: str) -> KeyFacts | None:
        """The key with this fingerprint, or whose fingerprint ends with this key ID."""
        wanted = fingerprint_or_id.upper()
        for key in self.all_keys():
            if key.fingerprint == wanted or key.fingerprint.endswith(wanted):
                return key
        return None


@dataclass(frozen=True)
class Verified:
    """A signature the engine accepted: the primary certificate and the key that signed."""

    certificate: str
    signing_key: str


@dataclass(frozen=True)
class GeneratedKey:
    """A newly generated key: its secret key, certificate and revocation, in binary."""

    secret: bytes  # binary transferable secret key (unprotected)
    certificate: bytes  # binary certificate
    revocation: bytes  # binary key-revocation signature
    fingerprint: str


class EngineCert(Protocol):
    """An opaque certificate handle owned by the engine."""


class OpenPGPEngine(Protocol):
    """The operations lockkeys needs from an OpenPGP library (one adapter: Sequoia)."""

    name: str

    def load_certificate(self, binary: bytes, source: str) -> tuple[EngineCert, CertFacts]:
        """Parse one certificate (public only). Raises InputError naming ``source``."""
        ...

    def load_secret_key(self, binary: bytes, source: str) -> tuple[EngineCert, CertFacts]:
        """Parse one transferable secret key. Raises InputError naming ``source``."""
        ...

    def canonical(self, handle: EngineCert, keep_certifiers: frozenset[str] = frozenset()) -> bytes:
        """The certificate's binary form with only validly bound components."""
        ...

    def certify(
        self, certificate: bytes, user_id: str, certifier: EngineCert, passphrase: str | None
    ) -> bytes:
        """Certify a user ID of ``certificate`` with another key's primary (third-party)."""
        ...

    def merge(self, first: EngineCert, second: EngineCert, source: str) -> EngineCert:
        """Merge two certificates with the same primary key."""
        ...

    def verify_detached(
        self, signed: Path | bytes, signature: bytes, certificates: list[EngineCert]
    ) -> Verified | str:
        """Verify one binary signature packet over the file at ``signed`` (streamed), or over
        ``signed`` itself when it is bytes already read (a small file such as the lock, which
        must be verified and used as the very same bytes).

        Returns what was verified, or the engine's one-line reason for refusing.
        """
        ...

    def sign_detached(self, secret: EngineCert, path: Path, passphrase: str | None) -> bytes:
        """Make a binary-document signature over ``path``; returns the signature packet."""
        ...

    def generate(self, user_id: str, validity_seconds: int | None, algorithm: str) -> GeneratedKey:
        """Generate a certify-only primary with a signing subkey (and an encryption subkey)."""
        ...
