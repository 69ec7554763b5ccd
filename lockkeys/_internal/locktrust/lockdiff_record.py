"""What both sides of a lock comparison share while it runs: the recorder of changes.

:class:`DiffRecorder` holds the two locks, their parsed certificates and signer names, the
changes found so far, and which fields each classified change covers (so that the walk over
both documents reports only what no classified change did).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from lockkeys._internal.lockmodel.lock import Lock, LockedPackage
from lockkeys._internal.lockmodel.walk import pair_entries as pair_by_identity
from lockkeys._internal.locktrust.lockdiff_report import LOCK_WIDE, Change
from lockkeys._internal.locktrust.lockfields import Kind
from lockkeys._internal.trust.certs import Certificate, parse_certificate


def _certificates(
    lock: Lock, label: str, keep: frozenset[str] = frozenset()
) -> dict[str, Certificate]:
    """fingerprint -> certificate (parsed, never trusted blindly: a bad one is an error).

    Certifications by a key in ``keep`` (the old lock's signers) are kept: they may be
    transition statements.
    """
    out: dict[str, Certificate] = {}
    for name, signer in sorted(lock.tool.signers.items()):
        source = f"{label}: tool.lockkeys.signers.{name}.certificate"
        out[signer.fingerprint] = parse_certificate(
            signer.certificate.encode(), source, name, keep_certifiers=keep
        )
    return out


def _names(lock: Lock) -> dict[str, str]:
    return {s.fingerprint: name for name, s in lock.tool.signers.items()}


def pair_entries(
    old: Sequence[LockedPackage], new: Sequence[LockedPackage]
) -> list[tuple[LockedPackage | None, LockedPackage | None]]:
    """Old and new entries paired for comparison
    (:func:`lockkeys._internal.lockmodel.walk.pair_entries`):
    a second entry of one name is an entry of its own, never hidden by the first."""
    return pair_by_identity(old, new, lambda p: (p.name, p.version, p.marker))


class DiffRecorder:
    """The state of one comparison; the rule mixins add changes to it with :meth:`add`."""

    def __init__(self, old: Lock, new: Lock, old_label: str, new_label: str) -> None:
        self.old, self.new = old, new
        self.old_certs = _certificates(old, old_label)
        self.new_certs = _certificates(new, new_label, frozenset(self.old_certs))
        self.old_names, self.new_names = _names(old), _names(new)
        self.changes: list[Change] = []
        # What each classified change covers, per scope (LOCK_WIDE or one pair of entries):
        # the walk over both documents reports every other difference.
        self.scope = LOCK_WIDE
        self.covered: dict[str, set[str]] = {}

    def add(
        self,
        package: str,
        field_: str,
        old: object,
        new: object,
        kind: Kind,
        what: str,
        covers: Iterable[str] = (),
    ) -> None:
        """Record one change, and the fields (``field_`` and ``covers``) it accounts for."""
        self.covered.setdefault(self.scope, set()).update((field_, *covers))
        self.changes.append(
            Change(
                package,
                field_,
                None if old is None else str(old),
                None if new is None else str(new),
                kind,
                what,
            )
        )

    def _label(self, pkg: LockedPackage | None) -> str:
        """The package's name; ``name==version`` where either lock has several entries."""
        assert pkg is not None
        forked = len(self.old.entries(pkg.name)) > 1 or len(self.new.entries(pkg.name)) > 1
        return f"{pkg.name}=={pkg.version}" if forked else pkg.name
