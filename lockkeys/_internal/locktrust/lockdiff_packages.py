"""The per-package trust classification: sources, policies, thresholds, files and pins.

Each rule records what weakens (a check dropped, a threshold lowered, a hash pin dropped or
changed, another source, a new substitute or override, sdists allowed), strengthens (a check
added, a threshold raised, a revocation source added) or is neutral (versions and files).
"""

from __future__ import annotations

from lockkeys._internal.lockmodel.lock import LockedPackage
from lockkeys._internal.locktrust.lockdiff_certs import CertificateRules
from lockkeys._internal.locktrust.lockdiff_record import pair_entries
from lockkeys._internal.locktrust.lockdiff_report import LOCK_WIDE
from lockkeys._internal.locktrust.lockfields import Kind

_CHECKS = {
    "none": frozenset(),
    "hashes": frozenset({"hashes"}),
    "signatures": frozenset({"signatures"}),
    "hashes+signatures": frozenset({"hashes", "signatures"}),
}


def _policy(pkg: LockedPackage) -> tuple[object, ...]:
    t = pkg.tool
    return (t.verify, tuple(sorted(t.signers)), t.threshold, t.source, t.allow_sdist, pkg.index)


def _policy_text(pkg: LockedPackage) -> str:
    t = pkg.tool
    pins = f" {t.threshold}-of-{len(t.signers)}" if t.signers else ""
    sdist = ", sdists allowed" if t.allow_sdist else ""
    return f"{t.verify}{pins} from {t.source} ({pkg.index}){sdist}"


class PackageRules(CertificateRules):
    """The rules for lock-wide sources and revocations, and for each pair of entries."""

    def lock_wide(self) -> None:
        """Sources added, removed, changed or widened, and revocation sources."""
        old_sources = {s.name: s for s in self.old.tool.sources}
        new_sources = {s.name: s for s in self.new.tool.sources}
        for name in sorted(old_sources.keys() | new_sources.keys()):
            before, after = old_sources.get(name), new_sources.get(name)
            where = f"sources.{name}"
            if before is None and after is not None:
                self.add(
                    LOCK_WIDE,
                    where,
                    None,
                    after.url or after.path,
                    Kind.WEAKENING,
                    "source added: packages without a pinned source may come from it",
                )
            elif after is None and before is not None:
                self.add(
                    LOCK_WIDE,
                    where,
                    before.url or before.path,
                    None,
                    Kind.NEUTRAL,
                    "source removed",
                )
            elif before is not None and after is not None:
                if (before.url, before.path) != (after.url, after.path):
                    self.add(
                        LOCK_WIDE,
                        where,
                        before.url or before.path,
                        after.url or after.path,
                        Kind.WEAKENING,
                        "source changed",
                        covers=(f"{where}.url", f"{where}.path"),
                    )
                added = [m for m in after.mirrors if m not in before.mirrors]
                if added:
                    self.add(
                        LOCK_WIDE,
                        f"{where}.mirrors",
                        ", ".join(before.mirrors) or None,
                        ", ".join(after.mirrors),
                        Kind.WEAKENING,
                        "source widened (new mirror)",
                    )
        old_revs = set(self.old.tool.revocations)
        new_revs = set(self.new.tool.revocations)
        for rev in sorted(old_revs - new_revs):
            self.add(
                LOCK_WIDE, "revocations", rev, None, Kind.WEAKENING, "revocation source removed"
            )
        for rev in sorted(new_revs - old_revs):
            self.add(
                LOCK_WIDE, "revocations", None, rev, Kind.STRENGTHENING, "revocation source added"
            )

    def packages(self) -> None:
        """Entries are paired by name, then by version and marker (:func:`pair_entries`):
        a second entry of one name is an entry of its own, never hidden by the first."""
        for index, (before, after) in enumerate(pair_entries(self.old.packages, self.new.packages)):
            self.scope = f"{index}"
            label = self._label(before or after)
            if before is None and after is not None:
                self.add(label, "version", None, after.version, Kind.NEUTRAL, "package added")
                self._added_package(after, label)
            elif after is None and before is not None:
                self.add(label, "version", before.version, None, Kind.NEUTRAL, "package removed")
            elif before is not None and after is not None:
                self._package(before, after, label)
        self.scope = LOCK_WIDE

    def _added_package(self, pkg: LockedPackage, label: str) -> None:
        tool = pkg.tool
        if tool.verify == "none":
            self.add(label, "verify", None, "none", Kind.WEAKENING, "new package, unverified")
        if tool.substitutes:
            self.add(label, "substitutes", None, tool.substitutes, Kind.WEAKENING, "new substitute")
        if tool.override:
            self.add(label, "override", None, "true", Kind.WEAKENING, "new override")
        if tool.allow_sdist:
            self.add(label, "allow-sdist", None, "true", Kind.WEAKENING, "sdists allowed")
        sibling = self.old.package(pkg.name)
        if sibling is not None and _policy(sibling) != _policy(pkg):
            # A new fork of a locked name with its own policy, source or index: a fork
            # added beside a narrowed entry must not slip in under "package added".
            self.add(
                label,
                "policy",
                _policy_text(sibling),
                _policy_text(pkg),
                Kind.WEAKENING,
                "new entry of a locked package with another policy, source or index",
            )

    def _package(self, before: LockedPackage, after: LockedPackage, name: str) -> None:
        if before.version != after.version:
            self.add(
                name, "version", before.version, after.version, Kind.NEUTRAL, "version changed"
            )
        if before.marker != after.marker:
            self.add(
                name,
                "marker",
                before.marker,
                after.marker,
                Kind.WEAKENING,
                "marker changed: where this entry is installed (or skipped) changed",
            )
        self._files(before, after, name)
        b, a = before.tool, after.tool
        if b.verify != a.verify:
            dropped = _CHECKS[b.verify] - _CHECKS[a.verify]
            gained = _CHECKS[a.verify] - _CHECKS[b.verify]
            if dropped:
                what = (
                    "policy moved to none"
                    if a.verify == "none"
                    else "hash pins dropped"
                    if "hashes" in dropped
                    else "signature check dropped"
                )
                self.add(name, "verify", b.verify, a.verify, Kind.WEAKENING, what)
            elif gained:
                self.add(name, "verify", b.verify, a.verify, Kind.STRENGTHENING, "check added")
        if (b.threshold or 0) != (a.threshold or 0) and b.threshold and a.threshold:
            if a.threshold < b.threshold:
                self.add(
                    name, "threshold", b.threshold, a.threshold, Kind.WEAKENING, "threshold lowered"
                )
            else:
                self.add(
                    name,
                    "threshold",
                    b.threshold,
                    a.threshold,
                    Kind.STRENGTHENING,
                    "threshold raised",
                )
        self._signers(name, b.signers, a.signers)
        if b.source != a.source:
            self.add(name, "source", b.source, a.source, Kind.WEAKENING, "source changed")
        if before.index != after.index:
            self.add(name, "index", before.index, after.index, Kind.WEAKENING, "source changed")
        if a.substitutes and a.substitutes != b.substitutes:
            self.add(
                name, "substitutes", b.substitutes, a.substitutes, Kind.WEAKENING, "new substitute"
            )
        elif b.substitutes and not a.substitutes:
            self.add(name, "substitutes", b.substitutes, None, Kind.NEUTRAL, "substitute removed")
        if a.override and not b.override:
            self.add(name, "override", "false", "true", Kind.WEAKENING, "new override")
        if a.allow_sdist and not b.allow_sdist:
            self.add(name, "allow-sdist", "false", "true", Kind.WEAKENING, "sdists now allowed")

    def _files(self, before: LockedPackage, after: LockedPackage, name: str) -> None:
        old = {f.filename: f for f in before.files}
        new = {f.filename: f for f in after.files}
        for filename in sorted(old.keys() - new.keys()):
            self.add(
                name, "files", filename, None, Kind.NEUTRAL, "file removed", (f"files.{filename}",)
            )
        for filename in sorted(new.keys() - old.keys()):
            self.add(
                name, "files", None, filename, Kind.NEUTRAL, "file added", (f"files.{filename}",)
            )
        for filename in sorted(old.keys() & new.keys()):
            b, a = old[filename], new[filename]
            for algo in sorted(b.hashes.keys() - a.hashes.keys()):
                self.add(
                    name,
                    f"files.{filename}.hashes.{algo}",
                    b.hashes[algo],
                    None,
                    Kind.WEAKENING,
                    "hash pin dropped",
                )
            for algo in sorted(b.hashes.keys() & a.hashes.keys()):
                if b.hashes[algo] != a.hashes[algo]:
                    self.add(
                        name,
                        f"files.{filename}.hashes.{algo}",
                        b.hashes[algo],
                        a.hashes[algo],
                        Kind.WEAKENING,
                        "hash pin changed: other bytes accepted under the same file name",
                    )
            if (b.url, b.path) != (a.url, a.path):
                self.add(
                    name,
                    f"files.{filename}.url",
                    b.url or b.path,
                    a.url or a.path,
                    Kind.WEAKENING,
                    "source changed",
                    covers=(f"files.{filename}.path",),
                )
