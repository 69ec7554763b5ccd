"""The walk over both lock documents: every difference no classified change covers.

Each remaining difference is classified by its field
(:mod:`lockkeys._internal.locktrust.lockfields`; a field it does not know is a weakening), so
that no field, known to lockkeys' model or not, goes unreported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lockkeys._internal.lockmodel.lock import LockedPackage
from lockkeys._internal.lockmodel.walk import MISSING, differences, entry_key, leaves
from lockkeys._internal.locktrust.lockdiff_record import DiffRecorder, pair_entries
from lockkeys._internal.locktrust.lockdiff_report import LOCK_WIDE
from lockkeys._internal.locktrust.lockfields import (
    Kind,
    entry_field,
    entry_kind,
    lock_field,
    lock_kind,
    new_entry_kind,
)


class DocumentWalk(DiffRecorder):
    """The last rule: both TOML documents walked for what the other rules did not report."""

    def walk(self, old_doc: Mapping[str, Any], new_doc: Mapping[str, Any]) -> None:
        """Every difference no classified change covers, classified by its field
        (:mod:`lockkeys._internal.locktrust.lockfields`; a field it does not know is a
        weakening)."""
        self.scope = LOCK_WIDE
        rest_old = {k: v for k, v in old_doc.items() if k != "packages"}
        rest_new = {k: v for k, v in new_doc.items() if k != "packages"}
        for d in differences(rest_old, rest_new):
            field_ = lock_field(d.path)
            if not self._covered(field_):
                kind, what = lock_kind(field_, d.old, d.new)
                self._generic(LOCK_WIDE, field_, d.old, d.new, kind, what)
        old_entries = _entries(old_doc)
        new_entries = _entries(new_doc)
        seen_old: set[str] = set()
        seen_new: set[str] = set()
        pairs = pair_entries(self.old.packages, self.new.packages)
        for index, (before, after) in enumerate(pairs):
            self.scope = f"{index}"
            label = self._label(before or after)
            a = old_entries.get(_key(before), {}) if before is not None else None
            b = new_entries.get(_key(after), {}) if after is not None else None
            seen_old.add(_key(before))
            seen_new.add(_key(after))
            if a is not None and b is not None:
                self._walk_pair(label, a, b)
            elif b is not None:
                self._walk_added(label, b)
        self.scope = LOCK_WIDE
        order = [k for k in old_entries if k in new_entries]
        if order != [k for k in new_entries if k in old_entries]:
            self._generic(LOCK_WIDE, "packages (order)", order, None, *_reordered())
        for key in sorted(old_entries.keys() - seen_old):
            self._generic(key, "entry", "(unread entry)", None, *_unread())
        for key in sorted(new_entries.keys() - seen_new):
            self._generic(key, "entry", None, "(unread entry)", *_unread())

    def _covered(self, field_: str) -> bool:
        done = self.covered.get(self.scope, set())
        return field_ in done or any(field_.startswith(f"{c}.") for c in done if "files." in c)

    def _walk_pair(self, label: str, a: Mapping[str, Any], b: Mapping[str, Any]) -> None:
        sdist = _sdist_name(b) or _sdist_name(a)
        for d in differences(a, b):
            field_ = entry_field(d.path, sdist)
            if not self._covered(field_):
                kind, what = entry_kind(field_, d.old, d.new)
                self._generic(label, field_, d.old, d.new, kind, what)

    def _walk_added(self, label: str, b: Mapping[str, Any]) -> None:
        sdist = _sdist_name(b)
        for path, value in leaves(b):
            field_ = entry_field(path, sdist)
            verdict = new_entry_kind(field_)
            if verdict is not None and not self._covered(field_):
                self._generic(label, field_, MISSING, value, *verdict)

    def _generic(
        self, package: str, field_: str, old: Any, new: Any, kind: Kind, what: str
    ) -> None:
        self.add(package, field_, _text(old), _text(new), kind, what)


def _text(value: Any) -> str | None:
    from lockkeys._internal.lockmodel.walk import show

    if value is MISSING or value is None:
        return None
    if isinstance(value, str):
        return value if len(value) <= 200 else value[:197] + "..."
    return show(value, 200)


def _reordered() -> tuple[Kind, str]:
    return Kind.NEUTRAL, "package entries reordered"


def _unread() -> tuple[Kind, str]:
    return Kind.WEAKENING, "a package entry lockkeys' model did not read: review the file"


def _key(pkg: LockedPackage | None) -> str:
    return "" if pkg is None else entry_key(pkg.name, pkg.version, pkg.marker)


def _entries(doc: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    out: dict[str, Mapping[str, Any]] = {}
    packages = doc.get("packages")
    for entry in packages if isinstance(packages, list) else []:
        if isinstance(entry, Mapping):
            key = entry_key(entry.get("name"), entry.get("version"), entry.get("marker", MISSING))
            out[key if key not in out else f"{key} (again)"] = entry
    return out


def _sdist_name(entry: Mapping[str, Any]) -> str | None:
    sdist = entry.get("sdist")
    return str(sdist.get("name")) if isinstance(sdist, Mapping) else None
