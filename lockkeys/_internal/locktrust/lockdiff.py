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

import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lockkeys._internal.lockmodel.io import parse_lock_bytes, read_lock_bytes
from lockkeys._internal.lockmodel.lock import Lock, LockedPackage, LockSigner
from lockkeys._internal.lockmodel.walk import (
    MISSING,
    differences,
    document,
    entry_key,
    leaves,
    parse_document,
)
from lockkeys._internal.lockmodel.walk import pair_entries as pair_by_identity
from lockkeys._internal.locktrust.lockfields import (
    Kind,
    entry_field,
    entry_kind,
    lock_field,
    lock_kind,
    new_entry_kind,
)
from lockkeys._internal.trust.certs import Certificate, parse_certificate
from lockkeys.errors import InputError, UsageError, escape

Side = tuple[Lock, str, dict[str, Any]]

LOCK_WIDE = "*"


@dataclass(frozen=True)
class Change:
    package: str
    field: str
    old: str | None
    new: str | None
    kind: Kind
    what: str  # a short label: "threshold lowered", "rotation", "certificate merged", ...

    def line(self) -> str:
        old = "-" if self.old is None else self.old
        new = "-" if self.new is None else self.new
        return (
            f"{self.kind:<13} {escape(self.package)}  {self.field}: {escape(old)} -> "
            f"{escape(new)}  ({self.what})"
        )

    def to_json(self) -> dict[str, object]:
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
    old: str
    new: str
    changes: tuple[Change, ...] = field(default_factory=tuple)

    def of_kind(self, kind: Kind) -> list[Change]:
        return [c for c in self.changes if c.kind is kind]

    @property
    def weakening(self) -> list[Change]:
        return self.of_kind(Kind.WEAKENING)

    def summary(self) -> str:
        counts = {k: len(self.of_kind(k)) for k in Kind}
        if not self.changes:
            return "no changes"
        return ", ".join(f"{n} {k}" for k, n in counts.items() if n) + " change(s)"

    def lines(self) -> list[str]:
        return [c.line() for c in self.changes]

    def to_json(self) -> dict[str, object]:
        return {
            "old": self.old,
            "new": self.new,
            "changes": [c.to_json() for c in self.changes],
            "counts": {str(k): len(self.of_kind(k)) for k in Kind},
        }


# -- reading either side -------------------------------------------------------------------


def read_side(spec: str, default_path: Path) -> tuple[Lock, str]:
    """A lock file, or ``git:REF[:PATH]`` read with ``git show REF:PATH``.

    PATH defaults to ``default_path``, relative to the current folder (``REF:./PATH``).
    """
    lock, label, _doc = read_side_document(spec, default_path)
    return lock, label


def read_side_document(spec: str, default_path: Path) -> Side:
    """:func:`read_side`, with the TOML document as it is (every key, known or not)."""
    if not spec.startswith("git:"):
        data = read_lock_bytes(Path(spec))
        return _parsed(data, spec)
    ref, _, path_text = spec[len("git:") :].partition(":")
    if not ref:
        raise UsageError(f"{spec!r}: no git revision", expected="git:REF or git:REF:PATH")
    path = Path(path_text) if path_text else default_path
    folder = path.parent if path.is_absolute() else Path.cwd() / path.parent
    try:
        proc = subprocess.run(
            ["git", "show", f"{ref}:./{path.name}"],
            cwd=folder,
            capture_output=True,
            check=False,
            timeout=60,
        )
    except FileNotFoundError:
        raise UsageError("git is not installed", fix="pass the old lock as a file") from None
    except NotADirectoryError:
        raise UsageError(f"{spec}: no such folder {folder}") from None
    label = f"{ref}:{path}"
    if proc.returncode != 0:
        raise InputError(
            f"git show {ref}:{path.name} failed: "
            + escape(
                proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:][0]
                if proc.stderr.strip()
                else f"exit {proc.returncode}"
            ),
            file=label,
            fix="name a revision and path that exist, e.g. git:main or git:HEAD~1:pylock.toml",
        )
    return _parsed(proc.stdout, label)


def _parsed(data: bytes, label: str) -> Side:
    lock = parse_lock_bytes(data, label)
    return lock, label, parse_document(data.decode("utf-8"), label)


# -- comparing -----------------------------------------------------------------------------

_CHECKS = {
    "none": frozenset(),
    "hashes": frozenset({"hashes"}),
    "signatures": frozenset({"signatures"}),
    "hashes+signatures": frozenset({"hashes", "signatures"}),
}


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


def _short(cert: Certificate) -> str:
    expires = f"{cert.facts.expires:%Y-%m-%d}" if cert.facts.expires else "never"
    state = ", revoked" if cert.facts.revoked else ""
    return f"{cert.fingerprint[-16:]} expires {expires}{state}"


def _label(fpr: str, names: Mapping[str, str]) -> str:
    name = names.get(fpr)
    return f"{name} {fpr}" if name else fpr


class _Differ:
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

    # -- lock-wide --------------------------------------------------------------------------
    def lock_wide(self) -> None:
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

    # -- certificates -------------------------------------------------------------------------
    def certificate_changes(self) -> None:
        """Same fingerprint, other certificate bytes: a merge (or a loss of components)."""
        from lockkeys._internal.trust.merge import compare_certificates

        for fpr in sorted(self.old_certs.keys() & self.new_certs.keys()):
            before, after = self.old_certs[fpr], self.new_certs[fpr]
            if before.binary == after.binary:
                continue
            delta = compare_certificates(before, after)
            found: list[tuple[Kind, str]] = []
            lost = [*delta.revocations_removed, *delta.removed]
            if lost:
                found.append((Kind.WEAKENING, "certificate lost components: " + "; ".join(lost)))
            if delta.revocations_added:
                found.append(
                    (Kind.STRENGTHENING, "revocation added: " + "; ".join(delta.revocations_added))
                )
            merged = [t for t in (delta.expiry_text(),) if t] + list(delta.added)
            if merged:
                found.append((Kind.NEUTRAL, "certificate merged: " + "; ".join(merged)))
            field_ = f"signers.{self.new_names.get(fpr) or fpr}.certificate"
            old_field = f"signers.{self.old_names.get(fpr) or fpr}.certificate"
            for pkg in self._packages_pinning(fpr) or [LOCK_WIDE]:
                for kind, what in found:
                    self.add(
                        pkg, field_, _short(before), _short(after), kind, what, covers=(old_field,)
                    )

    def _packages_pinning(self, fpr: str) -> list[str]:
        return sorted(
            {p.name for p in self.new.packages if fpr in p.tool.signers}
            | {p.name for p in self.old.packages if fpr in p.tool.signers}
        )

    # -- packages -------------------------------------------------------------------------
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

    def _label(self, pkg: LockedPackage | None) -> str:
        """The package's name; ``name==version`` where either lock has several entries."""
        assert pkg is not None
        forked = len(self.old.entries(pkg.name)) > 1 or len(self.new.entries(pkg.name)) > 1
        return f"{pkg.name}=={pkg.version}" if forked else pkg.name

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

    def _signers(self, package: str, before: Iterable[str], after: Iterable[str]) -> None:
        from lockkeys._internal.trust.transition import find_transition

        removed = sorted(set(before) - set(after))
        added = sorted(set(after) - set(before))
        # The embedded certificates of keys whose pins changed: reported with the pins.
        tables = [self.old_names.get(f) for f in removed] + [self.new_names.get(f) for f in added]
        self.covered.setdefault(LOCK_WIDE, set()).update(
            f"signers.{name}{tail}"
            for name in tables
            if name
            for tail in ("", ".fingerprint", ".certificate")
        )
        for new_fpr in list(added):
            new_cert = self.new_certs.get(new_fpr)
            for old_fpr in removed:
                old_cert = self.old_certs.get(old_fpr)
                if new_cert is None or old_cert is None:
                    continue
                statement = find_transition(old_cert, new_cert)
                if statement is not None:
                    self.add(
                        package,
                        "signers",
                        _label(old_fpr, self.old_names),
                        _label(new_fpr, self.new_names),
                        Kind.NEUTRAL,
                        f"rotation: the new key is certified by the old one ({statement})",
                    )
                    removed.remove(old_fpr)
                    added.remove(new_fpr)
                    break
        for new_fpr in list(added):
            name = self.new_names.get(new_fpr)
            match = next((f for f in removed if name and self.old_names.get(f) == name), None)
            if match is not None:
                self.add(
                    package,
                    "signers",
                    _label(match, self.old_names),
                    _label(new_fpr, self.new_names),
                    Kind.WEAKENING,
                    "signer replaced: the primary key changed and no transition statement "
                    "by the old key certifies the new one",
                )
                removed.remove(match)
                added.remove(new_fpr)
        for fpr in removed:
            self.add(
                package,
                "signers",
                _label(fpr, self.old_names),
                None,
                Kind.WEAKENING,
                "signer removed",
            )
        for fpr in added:
            self.add(
                package,
                "signers",
                None,
                _label(fpr, self.new_names),
                Kind.WEAKENING,
                "signer added: one more key can count toward the threshold",
            )

    # -- everything else: both documents walked ------------------------------------------
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


def _policy(pkg: LockedPackage) -> tuple[object, ...]:
    t = pkg.tool
    return (t.verify, tuple(sorted(t.signers)), t.threshold, t.source, t.allow_sdist, pkg.index)


def _policy_text(pkg: LockedPackage) -> str:
    t = pkg.tool
    pins = f" {t.threshold}-of-{len(t.signers)}" if t.signers else ""
    sdist = ", sdists allowed" if t.allow_sdist else ""
    return f"{t.verify}{pins} from {t.source} ({pkg.index}){sdist}"


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


def pair_entries(
    old: Sequence[LockedPackage], new: Sequence[LockedPackage]
) -> list[tuple[LockedPackage | None, LockedPackage | None]]:
    """Old and new entries paired for comparison
    (:func:`lockkeys._internal.lockmodel.walk.pair_entries`):
    a second entry of one name is an entry of its own, never hidden by the first."""
    return pair_by_identity(old, new, lambda p: (p.name, p.version, p.marker))


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
    "Change",
    "Kind",
    "LockDiff",
    "LockSigner",
    "diff_locks",
    "diff_specs",
    "pair_entries",
    "read_side",
    "read_side_document",
]
