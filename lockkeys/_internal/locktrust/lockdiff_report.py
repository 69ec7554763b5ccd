"""The result of comparing two locks: each :class:`Change`, classified, and how it reads.

:class:`LockDiff` is what ``lockkeys diff`` prints (one line per change) and what its JSON
output and the review gate are made from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lockkeys._internal.locktrust.lockfields import Kind
from lockkeys.errors import escape

LOCK_WIDE = "*"  # the package name of a change that applies to the whole lock


@dataclass(frozen=True)
class Change:
    """One difference between two locks: where, from what to what, and how it weighs."""

    package: str
    field: str
    old: str | None
    new: str | None
    kind: Kind
    what: str  # a short label: "threshold lowered", "rotation", "certificate merged", ...

    def line(self) -> str:
        """The change as one escaped report line."""
        old = "-" if self.old is None else self.old
        new = "-" if self.new is None else self.new
        return (
            f"{self.kind:<13} {escape(self.package)}  {self.field}: {escape(old)} -> "
            f"{escape(new)}  ({self.what})"
        )

    def to_json(self) -> dict[str, object]:
        """The change as a JSON object."""
        return {
            "package": self.package,
            "field": self.field,
            "old": self.old,
            "new": self.new,
            "kind": str(self.kind),
            "what": self.what,
        }


@dataclass(frozen=True)
class LockDiff:
    """Every change from one lock to another, in report order."""

    old: str
    new: str
    changes: tuple[Change, ...] = field(default_factory=tuple)

    def of_kind(self, kind: Kind) -> list[Change]:
        """The changes classified as ``kind``."""
        return [c for c in self.changes if c.kind is kind]

    @property
    def weakening(self) -> list[Change]:
        """The changes that weaken what the lock trusts (what a review must look at)."""
        return self.of_kind(Kind.WEAKENING)

    def summary(self) -> str:
        """One line counting the changes of each kind."""
        counts = {k: len(self.of_kind(k)) for k in Kind}
        if not self.changes:
            return "no changes"
        return ", ".join(f"{n} {k}" for k, n in counts.items() if n) + " change(s)"

    def lines(self) -> list[str]:
        """The report: one line per change."""
        return [c.line() for c in self.changes]

    def to_json(self) -> dict[str, object]:
        """The whole diff as a JSON object, with counts per kind."""
        return {
            "old": self.old,
            "new": self.new,
            "changes": [c.to_json() for c in self.changes],
            "counts": {str(k): len(self.of_kind(k)) for k in Kind},
        }
