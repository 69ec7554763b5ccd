"""The publisher identities of a release's files, verified at lock time (``publishers = "record"``).

A folder source keeps a file's PEP 740 material beside it, under the file's own name:

- ``FILE.publish.attestation``: one attestation, as the PyPA publishing action writes it. It
  names no publisher, so the identity to check is read from its certificate (the OIDC issuer
  and the Build Config URI) and then verified like any other;
- ``FILE.provenance``: a provenance object, as an index serves it: attestation bundles, each
  with the publisher it was made by.

Every attestation found is verified (:func:`~lockkeys._internal.publishers.attestation.
verify_attestation`) under the given Sigstore trust root, offline; one that fails is an error
naming the file, never skipped. A publisher of a kind lockkeys cannot check (not GitHub or
GitLab) is not recorded, and said so in a warning. A publisher's ``environment`` is never
recorded: the certificate does not bind it, so it is not checked.

A release's identities are those verified for every file that has material (a file without
any counts for nothing either way); the Sigstore libraries are imported only when a file has
material.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from lockkeys._internal.fsutil import read_regular_file
from lockkeys._internal.limits import MAX_ATTESTATION_FILE
from lockkeys._internal.publishers.identity import (
    GITHUB_ISSUER,
    GITLAB_ISSUER,
    PublisherIdentity,
    parse_build_config,
)

log = logging.getLogger("lockkeys.lock")

ATTESTATION_SUFFIX = ".publish.attestation"
PROVENANCE_SUFFIX = ".provenance"
#: Where sigstore-python keeps the production trust root it ships (its TUF bootstrap).
_PRODUCTION_ROOT = ("_store", "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev", "trusted_root.json")
_WORKFLOW_KEYS = {"GitHub": "workflow", "GitLab": "workflow_filepath"}
_KIND_OF_ISSUER = {GITHUB_ISSUER: "GitHub", GITLAB_ISSUER: "GitLab"}


@lru_cache(maxsize=1)
def production_trust_root() -> bytes:
    """The bytes of the Sigstore production ``trusted_root.json`` bundled with sigstore-python.

    Read from the installed package, never fetched: a lock's identities are checked under the
    root that ships with the pinned library version, and the lock pins its sha256.
    """
    resource = files("sigstore").joinpath(*_PRODUCTION_ROOT)
    return resource.read_bytes()


def publisher_identity(publisher: Mapping[str, Any]) -> PublisherIdentity | None:
    """The identity a provenance bundle's publisher names; None for a kind lockkeys cannot
    check. Its ``environment`` is left out: the certificate does not bind it."""
    kind = publisher.get("kind")
    repository = publisher.get("repository")
    workflow = publisher.get(_WORKFLOW_KEYS.get(str(kind), ""))
    if kind not in _WORKFLOW_KEYS or not isinstance(repository, str):
        return None
    if not isinstance(workflow, str) or not repository or not workflow:
        return None
    return PublisherIdentity(kind=str(kind), repository=repository, workflow=workflow)


def certificate_identity(attestation: bytes, filename: str) -> PublisherIdentity | None:
    """The identity an attestation's certificate claims (to be verified), or None for an
    issuer lockkeys cannot check; an unreadable attestation is refused, naming the file."""
    from lockkeys._internal.publishers.attestation import certificate_claims

    claims = certificate_claims(attestation, filename)
    kind = _KIND_OF_ISSUER.get(claims[0]) if claims else None
    if claims is None or kind is None:
        return None
    parsed = parse_build_config(kind, claims[1])
    if parsed is None:
        return None
    return PublisherIdentity(kind=kind, repository=parsed[0], workflow=parsed[1])


@dataclass(frozen=True)
class FileIdentities:
    """The identities verified for one file, and the publishers found that were not checked."""

    filename: str
    identities: frozenset[PublisherIdentity]
    unchecked: tuple[str, ...] = ()  # how each publisher that could not be checked is named


def _material(path: Path) -> list[tuple[str, bytes]]:
    """(suffix, bytes) of each attestation file beside ``path``, bounded."""
    found: list[tuple[str, bytes]] = []
    for suffix in (ATTESTATION_SUFFIX, PROVENANCE_SUFFIX):
        beside = path.with_name(path.name + suffix)
        if os.path.lexists(beside):
            found.append(
                (suffix, read_regular_file(beside, "attestation file", MAX_ATTESTATION_FILE))
            )
    return found


def file_identities(
    path: Path, filename: str, sha256: str, trust_root: Callable[[], bytes]
) -> FileIdentities | None:
    """Verify every attestation beside the file at ``path``; None when it has none.

    ``trust_root`` gives the Sigstore ``trusted_root.json`` to verify under; it is asked for
    (and the Sigstore libraries imported) only when the file has material.

    Raises :class:`~lockkeys.errors.VerificationError` naming the file for an attestation
    that does not verify for the publisher it names.
    """
    material = _material(path)
    if not material:
        return None
    from lockkeys._internal.publishers.attestation import attestations_of, verify_attestation

    pairs: list[tuple[PublisherIdentity | None, str, bytes]] = []
    for suffix, data in material:
        if suffix == PROVENANCE_SUFFIX:
            for publisher, attestation in attestations_of(data, filename):
                identity = publisher_identity(publisher)
                named = str(publisher.get("kind") or "a publisher with no kind")
                if identity is None and named in _WORKFLOW_KEYS:
                    named += " publisher with no repository or workflow"
                pairs.append((identity, named, attestation))
        else:
            pairs.append((certificate_identity(data, filename), "an unknown issuer", data))
    verified: set[PublisherIdentity] = set()
    unchecked: list[str] = []
    for identity, named, attestation in pairs:
        if identity is None:
            unchecked.append(named)
            continue
        verify_attestation(attestation, filename, sha256, identity, trust_root())
        verified.add(identity)
    for named in sorted(set(unchecked)):
        log.warning(
            "%s: an attestation by %s is not checked (lockkeys checks GitHub and GitLab "
            "publishers); it is not recorded",
            filename,
            named,
        )
    return FileIdentities(filename, frozenset(verified), tuple(sorted(set(unchecked))))


def release_identities(found: Sequence[FileIdentities]) -> tuple[PublisherIdentity, ...]:
    """The identities verified for every file that has material, sorted; none without any."""
    if not found:
        return ()
    common = set(found[0].identities)
    for entry in found[1:]:
        common &= entry.identities
    dropped = set().union(*(entry.identities for entry in found)) - common
    for identity in sorted(dropped, key=PublisherIdentity.label):
        log.warning(
            "%s is not recorded: not every file of the release has an attestation by it",
            identity.label(),
        )
    return tuple(sorted(common, key=lambda i: (i.kind, i.repository, i.workflow)))


__all__ = [
    "ATTESTATION_SUFFIX",
    "PROVENANCE_SUFFIX",
    "FileIdentities",
    "certificate_identity",
    "file_identities",
    "production_trust_root",
    "publisher_identity",
    "release_identities",
]
