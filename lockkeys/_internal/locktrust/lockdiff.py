"""What changed between two locks, with every trust change classified for review.

A lock is generated, so a pull request that weakens it is a diff of a generated file. This
module reads two locks and lists, per package, version and file changes and every change to
what the lock trusts, each classified:

- **weakening**: threshold lowered, signer removed, replaced or added (one more key can count),
  policy moved toward ``none`` (a check dropped), hash pins dropped or changed, source changed or
  widened (another URL, a new mirror), a new substitute or override, sdists newly allowed, a
  certificate whose primary key changed, a certificate that lost components (a revocation);
- **strengthening**: threshold raised, a check added, a revocation added;
- **neutral**: versions and files, a certificate merge that only adds components (new subkeys,
  a later expiry), and a replacement key certified by the key it replaces (a **rotation**,
  checked by :mod:`lockkeys._internal.trust.transition`).

Every change names the package (``*`` for what applies to the whole lock), the field, the old
and the new value.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lockkeys._internal.lockmodel.lock import Lock, LockSigner
from lockkeys._internal.lockmodel.walk import document
from lockkeys._internal.locktrust.lockdiff_packages import PackageRules
from lockkeys._internal.locktrust.lockdiff_record import pair_entries
from lockkeys._internal.locktrust.lockdiff_report import LOCK_WIDE, Change, LockDiff
from lockkeys._internal.locktrust.lockdiff_sides import Side, read_side, read_side_document
from lockkeys._internal.locktrust.lockdiff_walk import DocumentWalk
from lockkeys._internal.locktrust.lockfields import Kind


class _Differ(PackageRules, DocumentWalk):
    """All the rules over one pair of locks, run in report order by :func:`diff_locks`."""


def diff_locks(
    old: Lock,
    new: Lock,
    old_label: str = "old",
    new_label: str = "new",
    *,
    old_doc: Mapping[str, Any] | None = None,
    new_doc: Mapping[str, Any] | None = None,
) -> LockDiff:
    """Every change from ``old`` to ``new``, classified. ``old_doc``/``new_doc``: the TOML
    documents the locks were read from (default: as lockkeys writes them), walked so that no
    field, known or not, goes unreported."""
    differ = _Differ(old, new, old_label, new_label)
    differ.lock_wide()
    differ.packages()
    differ.certificate_changes()
    differ.walk(
        old_doc if old_doc is not None else document(old),
        new_doc if new_doc is not None else document(new),
    )
    return LockDiff(old=old_label, new=new_label, changes=tuple(differ.changes))


def diff_specs(old: str, new: str, default_path: Path) -> LockDiff:
    """Library entry point for `lockkeys diff OLD NEW` (files or ``git:REF[:PATH]``)."""
    old_lock, old_label, old_doc = read_side_document(old, _default_for(new, default_path))
    new_lock, new_label, new_doc = read_side_document(new, _default_for(old, default_path))
    return diff_locks(old_lock, new_lock, old_label, new_label, old_doc=old_doc, new_doc=new_doc)


def _default_for(other: str, default_path: Path) -> Path:
    """`git:REF` next to a file argument reads that same path at REF."""
    if not other.startswith("git:"):
        path = Path(other)
        return path
    return default_path


__all__ = [
    "LOCK_WIDE",
    "Change",
    "Kind",
    "LockDiff",
    "LockSigner",
    "Side",
    "diff_locks",
    "diff_specs",
    "pair_entries",
    "read_side",
    "read_side_document",
]
