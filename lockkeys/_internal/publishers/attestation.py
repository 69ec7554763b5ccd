"""Verifying a PEP 740 attestation for one file, offline, against a given Sigstore trust root.

What is checked, in this order, each refusal naming the file:

1. the attestation parses (``pypi-attestations``' model) and its Sigstore bundle verifies
   under the trust root given, never fetched here (``sigstore``'s ``Verifier``: the signing
   certificate chains to the root's Fulcio CA at the time the transparency log recorded, the
   log entry's inclusion proof and signed time, the DSSE signature over the statement);
2. the certificate was issued by the identity's OIDC issuer and its Build Config URI names
   the pinned repository and workflow file (:mod:`lockkeys._internal.publishers.identity`);
3. the statement is an in-toto v1 statement with exactly one subject, whose name is this
   file's name and whose sha256 is this file's sha256;
4. its predicate type is the PEP 740 publish predicate.

The Sigstore libraries are imported inside the functions: a run with no publisher identity
never loads them (they cost about 0.4 s).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)

from lockkeys._internal.limits import load_json
from lockkeys._internal.publishers.identity import PublisherIdentity
from lockkeys.errors import VerificationError

if TYPE_CHECKING:
    from cryptography.x509 import Certificate
    from sigstore.models import Bundle
    from sigstore.verify import Verifier

PUBLISH_PREDICATE = "https://docs.pypi.org/attestations/publish/v1"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
INTOTO_PAYLOAD = "application/vnd.in-toto+json"
# Fulcio's certificate extensions (OID arc 1.3.6.1.4.1.57264.1): issuer (v2) and Build Config URI.
_OID_ISSUER_V2 = "1.3.6.1.4.1.57264.1.8"
_OID_BUILD_CONFIG_URI = "1.3.6.1.4.1.57264.1.18"


@dataclass(frozen=True)
class VerifiedAttestation:
    """An attestation that verified: the file it covers and the identity it counts for."""

    filename: str
    sha256: str
    identity: PublisherIdentity
    build_config_uri: str  # the full URI, with the ref the release was built from


def _refusal(filename: str, message: str, *, expected: str, found: str, fix: str) -> Exception:
    return VerificationError(
        f"publisher attestation refused: {message}",
        file=filename,
        expected=expected,
        found=found,
        fix=fix,
    )


def _dist_key(filename: str) -> tuple[object, ...] | None:
    """A wheel's (name, version, build, tags) or an sdist's (name, version), normalized.

    Two spellings of one file name compare equal (``Foo_Bar`` and ``foo-bar``); a wheel for
    other tags, or the sdist of the same release, does not.
    """
    try:
        if filename.endswith(".whl"):
            return ("wheel", *parse_wheel_filename(filename))
        return ("sdist", *parse_sdist_filename(filename))
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None


def trust_root_digest(trust_root: bytes) -> str:
    """The sha256 by which a lock pins the Sigstore trust root its identities were checked under."""
    return hashlib.sha256(trust_root).hexdigest()


@lru_cache(maxsize=4)
def _verifier(trust_root: bytes) -> Verifier:
    """A Sigstore verifier over exactly ``trust_root`` (a ``trusted_root.json``), made once."""
    from sigstore.models import TrustedRoot
    from sigstore.verify import Verifier

    with tempfile.TemporaryDirectory(prefix="lockkeys-sigstore-") as folder:
        path = Path(folder) / "trusted_root.json"
        path.write_bytes(trust_root)  # TrustedRoot reads only from a file in its public API
        root = TrustedRoot.from_file(str(path))
    return Verifier(trusted_root=root)


def _extension(cert: Certificate, oid: str) -> str | None:
    """A Fulcio v2 extension's value: a DER UTF8String, decoded."""
    from cryptography.x509 import ExtensionNotFound, ObjectIdentifier

    try:
        raw = cert.extensions.get_extension_for_oid(ObjectIdentifier(oid)).value.public_bytes()
    except ExtensionNotFound:
        return None
    if len(raw) < 2 or raw[0] != 0x0C:  # UTF8String
        return None
    length, offset = raw[1], 2
    if length & 0x80:  # long form: the next (length & 0x7f) bytes hold the length
        count = length & 0x7F
        length, offset = int.from_bytes(raw[2 : 2 + count], "big"), 2 + count
    value = raw[offset : offset + length]
    return value.decode("utf-8") if len(value) == length else None


class _IdentityPolicy:
    """A sigstore VerificationPolicy: the certificate names the pinned publisher."""

    def __init__(self, identity: PublisherIdentity, filename: str) -> None:
        self.identity, self.filename = identity, filename
        self.found = self.build_config_uri = ""

    def verify(self, cert: Certificate) -> None:
        from sigstore.errors import VerificationError as SigstoreRefusal

        issuer = _extension(cert, _OID_ISSUER_V2)
        uri = _extension(cert, _OID_BUILD_CONFIG_URI) or ""
        self.found = f"issuer {issuer or 'none'}, build config {uri or 'none'}"
        if issuer != self.identity.issuer or not self.identity.matches(uri):
            raise SigstoreRefusal(f"the certificate is for {self.found}")
        self.build_config_uri = uri


def _statement(payload: bytes, filename: str) -> dict[str, Any]:
    try:
        statement = json.loads(payload)
    except ValueError:
        statement = None
    if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE:
        raise _refusal(
            filename,
            "the signed payload is not an in-toto v1 statement",
            expected=STATEMENT_TYPE,
            found=str(statement.get("_type") if isinstance(statement, dict) else "not JSON"),
            fix="the index served a malformed attestation: report it to the index",
        )
    return statement


def _check_subject(statement: dict[str, Any], filename: str, sha256: str) -> None:
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or len(subjects) != 1 or not isinstance(subjects[0], dict):
        raise _refusal(
            filename,
            "the statement must name exactly one file",
            expected="one subject",
            found=f"{len(subjects) if isinstance(subjects, list) else 'no'} subjects",
            fix="the index served a malformed attestation: report it to the index",
        )
    name, digest = subjects[0].get("name"), subjects[0].get("digest")
    if (
        not isinstance(name, str)
        or _dist_key(name) is None
        or _dist_key(name) != _dist_key(filename)
    ):
        raise _refusal(
            filename,
            "the statement is about another file",
            expected=filename,
            found=str(name),
            fix="this attestation belongs to another file: do not trust this pairing",
        )
    found = digest.get("sha256") if isinstance(digest, dict) else None
    if found != sha256:
        raise _refusal(
            filename,
            "the statement's sha256 is not this file's",
            expected=f"sha256 {sha256}",
            found=f"sha256 {found}",
            fix="the bytes differ from the ones published: fetch the file again from its source",
        )
    if statement.get("predicateType") != PUBLISH_PREDICATE:
        raise _refusal(
            filename,
            "the statement is not a PEP 740 publish attestation",
            expected=PUBLISH_PREDICATE,
            found=str(statement.get("predicateType")),
            fix="only publish attestations count for a publisher identity",
        )


def _bundle(attestation: bytes, filename: str) -> Bundle:
    """The Sigstore bundle of a PEP 740 attestation; a refusal naming the file if unreadable."""
    from pydantic import ValidationError
    from pypi_attestations import Attestation
    from sigstore.errors import Error as SigstoreError

    try:
        return Attestation.model_validate_json(attestation).to_bundle()
    except (ValidationError, ValueError, SigstoreError) as exc:
        raise _refusal(
            filename,
            "the attestation cannot be read",
            expected="a PEP 740 attestation object (version 1)",
            found=str(exc).splitlines()[0][:200],
            fix="the source served a malformed attestation: report it to the publisher",
        ) from None


def verify_attestation(
    attestation: bytes,
    filename: str,
    sha256: str,
    identity: PublisherIdentity,
    trust_root: bytes,
) -> VerifiedAttestation:
    """Verify one PEP 740 attestation (JSON) of ``filename`` with ``sha256`` for ``identity``.

    ``trust_root`` is the Sigstore ``trusted_root.json`` to verify under (the one the lock
    pins); nothing is fetched. Raises :class:`~lockkeys.errors.VerificationError` naming the
    file, what was expected and what was found.
    """
    from sigstore.errors import Error as SigstoreError

    bundle = _bundle(attestation, filename)
    policy = _IdentityPolicy(identity, filename)
    try:
        payload_type, payload = _verifier(trust_root).verify_dsse(bundle, policy)
    except SigstoreError as exc:
        root = f"trust root sha256 {trust_root_digest(trust_root)[:16]}"
        if policy.found:  # the chain and the log verified; the certificate names another
            raise _refusal(
                filename,
                f"the attestation is not by {identity.label()}",
                expected=f"certificate for {identity.label()} ({identity.issuer})",
                found=policy.found,
                fix="check the pinned publisher; a changed publisher is what an account "
                "takeover looks like, so confirm it with the project before changing the pin",
            ) from None
        raise _refusal(
            filename,
            "Sigstore verification failed",
            expected=f"a bundle that verifies under the {root}",
            found=str(exc).splitlines()[0][:200],
            fix="the attestation was not made under the Sigstore instance this lock pins "
            "(another instance, or a forged bundle); do not trust it",
        ) from None
    if payload_type != INTOTO_PAYLOAD:
        raise _refusal(
            filename,
            "the signed payload is not an in-toto statement",
            expected=INTOTO_PAYLOAD,
            found=payload_type,
            fix="the index served a malformed attestation: report it to the index",
        )
    _check_subject(_statement(payload, filename), filename, sha256)
    return VerifiedAttestation(filename, sha256, identity, policy.build_config_uri)


def certificate_claims(attestation: bytes, filename: str) -> tuple[str, str] | None:
    """(OIDC issuer, Build Config URI) of an attestation's signing certificate, unverified.

    Only to know which identity to verify a lone attestation (one with no provenance naming
    its publisher) for: :func:`verify_attestation` then checks the certificate does name it.
    None when the certificate carries neither claim; an unreadable attestation is refused,
    naming the file.
    """
    cert = _bundle(attestation, filename).signing_certificate
    issuer, uri = _extension(cert, _OID_ISSUER_V2), _extension(cert, _OID_BUILD_CONFIG_URI)
    return (issuer, uri) if issuer and uri else None


def attestations_of(provenance: bytes, filename: str) -> list[tuple[dict[str, Any], bytes]]:
    """The (publisher, attestation JSON) pairs of a PEP 740 provenance object."""
    try:
        document = load_json(provenance)
        bundles = document["attestation_bundles"] if document.get("version") == 1 else None
    except (ValueError, KeyError, AttributeError):
        bundles = None
    if not isinstance(bundles, list):
        raise _refusal(
            filename,
            "the provenance object cannot be read",
            expected="a PEP 740 provenance object (version 1) with attestation_bundles",
            found=f"{len(provenance)} bytes that are not one" if provenance else "an empty body",
            fix="check the source serves PEP 740 provenance for this file",
        )
    pairs: list[tuple[dict[str, Any], bytes]] = []
    for bundle in bundles:
        if not isinstance(bundle, dict) or not isinstance(bundle.get("attestations"), list):
            continue
        found = bundle.get("publisher")
        publisher: dict[str, Any] = found if isinstance(found, dict) else {}
        for item in bundle["attestations"]:
            pairs.append((publisher, json.dumps(item).encode()))
    return pairs


__all__ = [
    "PUBLISH_PREDICATE",
    "VerifiedAttestation",
    "attestations_of",
    "certificate_claims",
    "trust_root_digest",
    "verify_attestation",
]
