"""A publisher identity: who published a file, as a Trusted Publisher names it (PEP 740).

An identity is a signer like an OpenPGP certificate: the application pins it for a package,
and a file counts for it when the file carries a PEP 740 attestation that Sigstore signed for
a certificate whose claims are this identity. What the certificate binds, and therefore what
is checked, differs by kind:

- ``GitHub``: the repository and the workflow file, through the certificate's Build Config
  URI (``https://github.com/OWNER/REPO/.github/workflows/FILE@REF``) issued by GitHub's OIDC
  issuer. A GitHub *environment* is not in the certificate: it is never checked, and an
  identity that names one is refused rather than presented as checked.
- ``GitLab``: the project path and the CI file, through the Build Config URI
  (``https://gitlab.com/GROUP/PROJECT//FILE@REF``) issued by ``https://gitlab.com``.

This module holds the identity and its claims only; verification is
:mod:`lockkeys._internal.publishers.attestation`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lockkeys.errors import InputError

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
GITLAB_ISSUER = "https://gitlab.com"

_KINDS = {"github": "GitHub", "gitlab": "GitLab"}


@dataclass(frozen=True)
class PublisherIdentity:
    """A Trusted Publisher a package may be pinned to: kind, repository and workflow file."""

    kind: str  # "GitHub" or "GitLab", as PEP 740 spells the publisher kind
    repository: str  # OWNER/REPO (GitHub) or GROUP/PROJECT (GitLab)
    workflow: str  # the workflow file name (GitHub) or CI file path (GitLab)

    @property
    def issuer(self) -> str:
        """The OIDC issuer whose certificates can carry this identity."""
        return GITHUB_ISSUER if self.kind == "GitHub" else GITLAB_ISSUER

    def label(self) -> str:
        """How messages name the identity: ``GitHub pydantic/pydantic release.yml``."""
        return f"{self.kind} {self.repository} {self.workflow}"

    def matches(self, build_config_uri: str) -> bool:
        """True when a certificate's Build Config URI names this repository and workflow.

        Repository names compare without case (both forges treat them so); the workflow file
        compares exactly, and a ref must follow it.
        """
        found = parse_build_config(self.kind, build_config_uri)
        if found is None:
            return False
        repository, workflow, ref = found
        return (
            repository.lower() == self.repository.lower()
            and workflow == self.workflow
            and bool(ref)
        )

    def to_pylock(self) -> dict[str, str]:
        """The PEP 751 ``[[packages.attestation-identities]]`` entry: kind plus its keys."""
        return {"kind": self.kind, "repository": self.repository, "workflow": self.workflow}


_FORGES = {
    "GitHub": ("https://github.com/", "/.github/workflows/"),
    "GitLab": ("https://gitlab.com/", "//"),
}


def parse_build_config(kind: str, uri: str) -> tuple[str, str, str] | None:
    """(repository, workflow file, ref) from a Build Config URI of ``kind``, or None."""
    base, separator = _FORGES[kind]
    if not uri.startswith(base) or separator not in uri[len(base) :]:
        return None
    repository, _, workflow_ref = uri[len(base) :].partition(separator)
    workflow, at, ref = workflow_ref.rpartition("@")
    if not at or not repository or not workflow:
        return None
    return repository, workflow, ref


def identity_from_config(name: str, table: Mapping[str, object], file: str) -> PublisherIdentity:
    """A ``[tool.lockkeys.signers]`` entry such as ``{ github = "o/r", workflow = "ci.yml" }``."""
    kinds = [key for key in _KINDS if key in table]
    if len(kinds) != 1:
        raise InputError(
            f"signer {name!r}: a publisher identity names exactly one of github or gitlab",
            file=file,
            expected='{ github = "OWNER/REPO", workflow = "FILE" }',
            found=", ".join(sorted(str(k) for k in table)) or "an empty table",
            fix="give the forge and the repository, and the workflow file",
        )
    repository, workflow = table[kinds[0]], table.get("workflow")
    unknown = sorted(set(table) - {kinds[0], "workflow"})
    if unknown:
        raise InputError(
            f"signer {name!r}: {', '.join(unknown)} cannot be checked",
            file=file,
            expected="only the forge, the repository and the workflow",
            found=", ".join(unknown),
            fix="remove it: the Sigstore certificate does not bind it (a GitHub environment "
            "is not in the certificate), so pinning it would promise a check that is not made",
        )
    if not isinstance(repository, str) or repository.count("/") < 1 or not repository.strip("/"):
        raise InputError(
            f"signer {name!r}: {kinds[0]} must be OWNER/REPO",
            file=file,
            expected='"OWNER/REPO"',
            found=repr(repository),
            fix="write the repository as the forge shows it",
        )
    if not isinstance(workflow, str) or not workflow or workflow.startswith("/"):
        raise InputError(
            f"signer {name!r}: workflow must be the workflow file",
            file=file,
            expected='"release.yml" (GitHub) or ".gitlab-ci.yml" (GitLab)',
            found=repr(workflow),
            fix="name the file that publishes the package",
        )
    return PublisherIdentity(kind=_KINDS[kinds[0]], repository=repository, workflow=workflow)


__all__ = [
    "GITHUB_ISSUER",
    "GITLAB_ISSUER",
    "PublisherIdentity",
    "identity_from_config",
    "parse_build_config",
]
