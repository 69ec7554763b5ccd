"""What a re-lock changed, package by package: versions moved, packages added or removed,
the same version with other files, a marker changed.

`lockkeys lock` prints these after every re-lock (and `lock --dry-run` instead of writing).
Trust changes (signers, thresholds, policies) are classified separately, by
:mod:`lockkeys._internal.locktrust.lockdiff` (which also reports every other field); this module is
only about what is installed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from packaging.version import InvalidVersion, Version

from lockkeys._internal.lockmodel.lock import Lock, LockedPackage

ChangeKind = Literal["added", "removed", "upgraded", "downgraded", "files", "marker"]


@dataclass(frozen=True)
class Change:
    """One package's change between two locks, as ``lockkeys lock`` reports it."""

    name: str
    kind: ChangeKind
    old: str | None = None  # version (or marker) before
    new: str | None = None  # version (or marker) after
    detail: str | None = None

    def line(self) -> str:
        """The change as one line of the lock command's report."""
        if self.kind == "added":
            return f"added {self.name} {self.new}"
        if self.kind == "removed":
            return f"removed {self.name} {self.old}"
        if self.kind in ("upgraded", "downgraded"):
            return f"{self.name} {self.old} -> {self.new}"
        if self.kind == "marker":
            return f"{self.name}: marker {self.old or '(none)'} -> {self.new or '(none)'}"
        return f"{self.name} {self.new}: {self.detail}"

    def to_json(self) -> dict[str, str | None]:
        """The change as a JSON object."""
        return {
            "name": self.name,
            "kind": self.kind,
            "old": self.old,
            "new": self.new,
            "detail": self.detail,
        }


def _newer(old: str, new: str) -> bool:
    try:
        return Version(new) > Version(old)
    except InvalidVersion:
        return new > old


def _files_detail(old: LockedPackage, new: LockedPackage) -> str | None:
    before = {f.filename: f for f in old.files}
    after = {f.filename: f for f in new.files}
    if before == after:
        return None
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    common = set(before) & set(after)
    rebuilt = sorted(n for n in common if before[n].hashes != after[n].hashes)
    moved = sorted(n for n in common if n not in rebuilt and before[n] != after[n])
    parts = []
    if added:
        parts.append(f"{len(added)} file(s) added")
    if removed:
        parts.append(f"{len(removed)} file(s) removed")
    if rebuilt:
        parts.append(f"{len(rebuilt)} file(s) with other hashes: {', '.join(rebuilt[:3])}")
        if len(rebuilt) > 3:
            parts[-1] += f" and {len(rebuilt) - 3} more"
    if moved:
        parts.append(f"{len(moved)} file(s) with another URL, path or size")
    return "; ".join(parts)


def _by_name(packages: tuple[LockedPackage, ...]) -> dict[str, LockedPackage]:
    """One entry per name; a universal lock's several versions of a name read as one entry
    whose version is ``1.0 | 2.0`` (markers and files likewise: every file of every fork)."""
    out: dict[str, LockedPackage] = {}
    for name in dict.fromkeys(p.name for p in packages):
        entries = [p for p in packages if p.name == name]
        if len(entries) == 1:
            out[name] = entries[0]
        else:
            out[name] = replace(
                entries[0],
                version=" | ".join(p.version for p in entries),
                wheels=tuple(f for p in entries for f in p.files),
                sdist=None,
                # Each fork's marker, so that a marker edited on one of them shows.
                marker=" | ".join(p.marker or "(none)" for p in entries),
            )
    return out


def version_changes(old: Lock | None, new: Lock) -> list[Change]:
    """Package changes from ``old`` (None: no lock before, everything is added) to ``new``,
    sorted by name."""
    before = _by_name(old.packages) if old is not None else {}
    after = _by_name(new.packages)
    changes: list[Change] = []
    for name in sorted(set(before) | set(after)):
        a, b = before.get(name), after.get(name)
        if a is None and b is not None:
            changes.append(Change(name, "added", new=b.version))
        elif b is None and a is not None:
            changes.append(Change(name, "removed", old=a.version))
        elif a is not None and b is not None:
            if a.version != b.version:
                kind: ChangeKind = "upgraded" if _newer(a.version, b.version) else "downgraded"
                changes.append(Change(name, kind, old=a.version, new=b.version))
                continue
            if a.marker != b.marker:
                changes.append(Change(name, "marker", old=a.marker, new=b.marker))
            detail = _files_detail(a, b)
            if detail is not None:
                changes.append(Change(name, "files", old=a.version, new=b.version, detail=detail))
    return changes


def summary(changes: list[Change]) -> str:
    """``2 upgraded, 1 added, 1 removed`` (or ``no package changes``)."""
    counts: dict[str, int] = {}
    for change in changes:
        counts[change.kind] = counts.get(change.kind, 0) + 1
    if not counts:
        return "no package changes"
    order = ("upgraded", "downgraded", "added", "removed", "files", "marker")
    words = {"files": "with other files", "marker": "with another marker"}
    return ", ".join(f"{counts[k]} {words.get(k, k)}" for k in order if k in counts)


__all__ = ["Change", "summary", "version_changes"]
