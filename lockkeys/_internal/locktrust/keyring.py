"""The certificates embedded in a lock, as a keyring, and each package's trusted subset."""

from __future__ import annotations

from lockkeys._internal.lockmodel.lock import Lock, LockedPackage
from lockkeys._internal.trust.certs import Certificate, Keyring, parse_certificate
from lockkeys.errors import InputError


def lock_keyring(lock: Lock, file: str) -> Keyring:
    """Parse every embedded certificate; its fingerprint must be the one recorded beside it."""
    certs: list[Certificate] = []
    for name, signer in sorted(lock.tool.signers.items()):
        source = f"{file}: tool.lockkeys.signers.{name}.certificate"
        cert = parse_certificate(signer.certificate.encode("utf-8"), source, name=name)
        if cert.fingerprint != signer.fingerprint:
            raise InputError(
                f"tool.lockkeys.signers.{name}: the certificate's fingerprint is not the one "
                "recorded",
                file=file,
                expected=signer.fingerprint,
                found=cert.fingerprint,
                fix="the lock was edited by hand; re-lock from the config",
            )
        certs.append(cert)
    try:
        return Keyring(certs)
    except InputError as exc:
        raise InputError(f"tool.lockkeys.signers: {exc.message}", file=file) from None


def package_keyring(keyring: Keyring, package: LockedPackage) -> Keyring:
    """Only the signers pinned for this package count for it (threat-model row 10)."""
    return keyring.subset(package.tool.signers)
