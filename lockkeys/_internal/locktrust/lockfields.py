"""Every lock field `lockkeys diff` does not compare on its own terms, classified.

:mod:`lockkeys._internal.locktrust.lockdiff` classifies the fields trust is made of (policies,
signers, hashes, sources, certificates) with their meaning. Every other difference between two
locks, found by walking both documents (:mod:`lockkeys._internal.lockmodel.walk`), is classified
here by its field: a few are known to be neutral (provenance, the recorded inputs) or strengthening
(a hash added); **a field not listed is a weakening** (fail closed), so a field added to the lock
later, or a key added by hand, is reported for review until someone classifies it.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

from lockkeys._internal.lockmodel.walk import MISSING, KeyPath

__all__ = ["Kind", "entry_field", "entry_kind", "lock_field", "lock_kind", "new_entry_kind"]


class Kind(enum.StrEnum):
    """How a change to a lock weighs for review."""

    WEAKENING = "weakening"
    STRENGTHENING = "strengthening"
    NEUTRAL = "neutral"


Verdict = tuple[Kind, str]

_LOCK_NEUTRAL = {
    "inputs-digest": "inputs digest changed",
    "requirements": "recorded requirements changed",
    "created-by": "created-by changed",
    "extras": "extras changed",
    "dependency-groups": "dependency groups changed",
}
_ENTRY_NEUTRAL = {
    "required-by": "provenance changed",
    "substitute-requested-by": "provenance changed",
    "reason": "reason changed",
    "files (order)": "files reordered",
}
# Fields of a newly added package entry that need no review beyond "package added"; its
# weakening ones (verify none, a substitute, an override, sdists) are reported by lockdiff.
_NEW_ENTRY_FIELDS = frozenset(
    {
        "name",
        "version",
        "marker",
        "index",
        "verify",
        "signers",
        "threshold",
        "source",
        "required-by",
        "substitutes",
        "substitute-requested-by",
        "override",
        "allow-sdist",
        "reason",
    }
)
_NEW_FILE_FIELDS = frozenset({"name", "url", "path", "size"})


def _join(parts: Sequence[str]) -> str:
    out = ""
    for part in parts:
        label = part[1:-1] if part.startswith("[") and part.endswith("]") else part
        out = label if not out else f"{out}.{label}" if part != "(order)" else f"{out} (order)"
    return out


def lock_field(path: KeyPath) -> str:
    """The field a lock-wide path is reported as: ``tool.lockkeys.sources[x].url`` is
    ``sources.x.url``, ``requires-python`` stays itself, another tool's table keeps its path."""
    if path[:2] == ("tool", "lockkeys"):
        return _join(path[2:]) or "tool.lockkeys"
    return _join(path)


def entry_field(path: KeyPath, sdist_name: str | None) -> str:
    """The field a path inside a package entry is reported as (as lockdiff names them):
    ``tool.lockkeys.verify`` is ``verify``, ``wheels[f.whl].size`` is ``files.f.whl.size``."""
    if path[:2] == ("tool", "lockkeys"):
        return _join(path[2:]) or "tool.lockkeys"
    if path[:1] == ("wheels",):
        return _join(("files", *path[1:]))
    if path[:1] == ("sdist",):
        return _join(("files", f"[{sdist_name or 'sdist'}]", *path[1:]))
    return _join(path)


def lock_kind(field: str, old: Any, new: Any) -> Verdict:
    """How a lock-wide change that lockdiff did not classify weighs."""
    if field in _LOCK_NEUTRAL:
        return Kind.NEUTRAL, _LOCK_NEUTRAL[field]
    if field == "sigstore-trust-root":
        if old is MISSING or new is MISSING:
            return (
                Kind.NEUTRAL,
                "Sigstore trust root pinned or unpinned (identities recorded or none)",
            )
        return (
            Kind.WEAKENING,
            "Sigstore trust root changed: identities are checked under another root",
        )
    if field == "signature-stores":
        added = set(_items(new)) - set(_items(old))
        if added:
            return Kind.WEAKENING, "signature store added: signatures are fetched from it"
        return Kind.NEUTRAL, "signature store removed"
    parts = field.split(".")
    if (
        parts[0] == "sources"
        and field.endswith(".mirrors")
        and set(_items(new)) <= set(_items(old))
    ):
        return Kind.NEUTRAL, "mirror removed"
    if parts[0] == "signers" and len(parts) >= 2:
        # Which keys count is each package's pinned fingerprints (compared per package);
        # an embedded certificate of the same key is compared as a certificate.
        return Kind.NEUTRAL, "embedded certificate changed (its pins are compared per package)"
    return _unclassified(field)


def _identity_kind(field: str, old: Any, new: Any) -> Verdict | None:
    """A publisher identity added (strengthening), removed or changed (weakening)."""
    if not field.startswith("attestation-identities"):
        return None
    if field.endswith(" (order)"):
        return Kind.NEUTRAL, "publisher identities reordered"
    if old is MISSING:
        return Kind.STRENGTHENING, "publisher identity added"
    if new is MISSING:
        return Kind.WEAKENING, "publisher identity removed: the release no longer verifies for it"
    return Kind.WEAKENING, "publisher identity changed"


def entry_kind(field: str, old: Any, new: Any) -> Verdict:
    """How a change inside a package entry (both sides present) that lockdiff did not
    classify weighs."""
    if field in _ENTRY_NEUTRAL:
        return Kind.NEUTRAL, _ENTRY_NEUTRAL[field]
    identity = _identity_kind(field, old, new)
    if identity is not None:
        return identity
    parts = field.split(".")
    if parts[0] == "files" and ".hashes." in field and old is MISSING:
        return Kind.STRENGTHENING, "hash pin added"
    if parts[0] == "files" and field.endswith(".size"):
        return Kind.WEAKENING, "file size changed (it caps the download)"
    if field == "threshold" and old in (MISSING, None):
        return Kind.STRENGTHENING, "threshold set"
    if field == "override" and not _true(new):
        return Kind.NEUTRAL, "override removed"
    if field == "allow-sdist" and _true(old) and not _true(new):
        return Kind.STRENGTHENING, "sdists no longer allowed"
    return _unclassified(field)


def new_entry_kind(field: str) -> Verdict | None:
    """None for a field of a new package entry that "package added" covers; a weakening for
    one the review does not know."""
    parts = field.split(".")
    if field in _NEW_ENTRY_FIELDS or parts[0] == "attestation-identities":
        return None
    if parts[0] == "files" and len(parts) >= 2:
        tail = field.rsplit(".", 1)[-1]
        if tail in _NEW_FILE_FIELDS or ".hashes." in field or field.endswith(" (order)"):
            return None
    return _unclassified(field)


def _unclassified(field: str) -> Verdict:
    return (
        Kind.WEAKENING,
        f"{field} changed: the review does not classify this field, so it counts as a "
        "weakening (read it)",
    )


def _true(value: Any) -> bool:
    return value is True


def _items(value: Any) -> list[str]:
    if value is MISSING or value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]
