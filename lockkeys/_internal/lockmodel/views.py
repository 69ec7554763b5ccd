"""Read-only views of a lock: `export` (requirements or plain PEP 751) and `why NAME`."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name

from lockkeys._internal.lockmodel.io import HEADER, dumps_pylock
from lockkeys._internal.lockmodel.lock import Lock, LockedPackage
from lockkeys._internal.markers import resolve_selection
from lockkeys.errors import UsageError

ROOT = "<root>"


def export_requirements(
    lock: Lock,
    *,
    lock_dir: Path | None = None,
    dest_dir: Path | None = None,
    extras: Set[str] = frozenset(),
    groups: Set[str] | None = None,
) -> str:
    """A `--require-hashes` requirements file: every locked file's hash, all platforms, each
    package's marker, and the sources a plain pip needs to find the files (the lock's index
    URLs, its folders as ``--find-links`` relative to ``dest_dir``, where the file goes)."""
    lines = [
        "# Exported from a lockkeys lock: hashes only; signer pins are NOT enforced by pip.",
        "# Install with: pip install --no-deps --require-hashes -r THIS_FILE",
        *source_options(lock, lock_dir=lock_dir, dest_dir=dest_dir),
    ]
    chosen_groups = set(lock.default_groups) if groups is None else groups
    for pkg in sorted(lock.packages, key=lambda p: p.name):
        # A requirements file has no extras or groups: put the chosen ones into the marker.
        marker = resolve_selection(pkg.marker, extras, chosen_groups)
        if marker is False:
            continue
        hashes = sorted({f.sha256 for f in pkg.files})
        parts = [f"{pkg.name}=={pkg.version}"]
        if isinstance(marker, str):
            parts[0] += f" ; {marker}"
        parts += [f"    --hash=sha256:{h}" for h in hashes]
        lines.append(" \\\n".join(parts))
    return "\n".join(lines) + "\n"


def source_options(
    lock: Lock, *, lock_dir: Path | None = None, dest_dir: Path | None = None
) -> list[str]:
    """pip options for the sources the locked packages come from, in the lock's order:
    ``--index-url`` (then ``--extra-index-url``) for indexes, ``--no-index`` when there is
    none (pip would otherwise look on the public index), ``--find-links`` for folders."""
    used = {p.tool.source for p in lock.packages}
    sources = [s for s in lock.tool.sources if s.name in used]
    urls = [s.url for s in sources if s.url]
    options = [f"--index-url {shlex.quote(urls[0])}"] if urls else ["--no-index"]
    options += [f"--extra-index-url {shlex.quote(url)}" for url in urls[1:]]
    for source in sources:
        if source.path is None:
            continue
        folder = Path(source.path)
        if lock_dir is not None:
            folder = lock_dir / folder
            if dest_dir is not None:
                folder = Path(os.path.relpath(folder, dest_dir))
        options.append(f"--find-links {shlex.quote(folder.as_posix())}")
    return options


def export_pylock(lock: Lock) -> str:
    """The same PEP 751 lock without lockkeys' tables."""
    header = HEADER.splitlines()[0].replace("lockkeys lock", "lockkeys export --format pylock")
    return dumps_pylock(lock.to_pylock(with_tool=False), header + "\n")


@dataclass(frozen=True)
class Why:
    """Why a package is in the lock: who requires it, where it comes from and who signs it."""

    package: LockedPackage
    chains: list[list[str]]
    signers: list[tuple[str | None, str]] = field(default_factory=list)
    source_location: str | None = None
    direct_requirements: list[str] = field(default_factory=list)
    forks: list[tuple[str, str | None]] = field(default_factory=list)
    """A universal lock's other entries for the same name: (version, marker) each."""

    def lines(self) -> list[str]:
        """The explanation as report lines (``lockkeys why``)."""
        pkg = self.package
        tool = pkg.tool
        out = [f"{pkg.name} {pkg.version}" + (f" ; {pkg.marker}" if self.forks else "")]
        for version, marker in self.forks:
            out.append(
                f"  also locked: {pkg.name} {version}"
                + (f" ; {marker}" if marker else "")
                + " (where its marker holds; source, policy and signers are the same)"
            )
        if self.direct_requirements:
            out.append("  requested directly: " + ", ".join(self.direct_requirements))
        for chain in self.chains:
            if len(chain) > 1:
                out.append("  required by: " + " -> ".join(chain))
        out.append(
            f"  source: {tool.source}"
            + (f" ({self.source_location})" if self.source_location else "")
            + " (fetched only from this source)"
        )
        if tool.verify in ("signatures", "hashes+signatures"):
            out.append(f"  verify: {tool.verify}, {tool.threshold} of {len(tool.signers)} signers:")
            for name, fpr in self.signers:
                out.append(f"    {name or '(unnamed)'} {fpr}")
        else:
            out.append(f"  verify: {tool.verify}")
        if pkg.attestation_identities:
            out.append(
                "  publisher identities (verified at lock time): "
                + "; ".join(_identity_label(i) for i in pkg.attestation_identities)
            )
        if tool.substitutes:
            askers = (["the requirements"] if self.direct_requirements else []) + list(
                tool.substitute_requested_by
            )
            asked = ", ".join(askers) or "the requirements"
            out.append(
                f"  substitute: {pkg.version} replaces {tool.substitutes} (asked for by {asked})"
                + (
                    "; applied as an OVERRIDE: it lies outside what a dependent asks"
                    if tool.override
                    else ""
                )
            )
        if tool.reason:
            out.append(f"  reason: {tool.reason}")
        return out

    def to_json(self) -> dict[str, object]:
        """The explanation as a JSON object."""
        tool = self.package.tool
        return {
            "name": self.package.name,
            "version": self.package.version,
            "requested-directly": self.direct_requirements,
            "required-by-chains": self.chains,
            "source": tool.source,
            "source-location": self.source_location,
            "verify": tool.verify,
            "threshold": tool.threshold,
            "signers": [{"name": n, "fingerprint": f} for n, f in self.signers],
            "substitutes": tool.substitutes,
            "substitute-requested-by": list(tool.substitute_requested_by),
            "override": tool.override,
            "reason": tool.reason,
            "marker": self.package.marker,
            "forks": [{"version": v, "marker": m} for v, m in self.forks],
        } | (
            {"attestation-identities": [dict(i) for i in self.package.attestation_identities]}
            if self.package.attestation_identities
            else {}
        )


def _identity_label(identity: Mapping[str, str]) -> str:
    """``GitHub woodruffw/abi3info release.yml``: kind, then the publisher's other keys."""
    rest = [identity[k] for k in ("repository", "workflow") if k in identity]
    rest += [
        f"{k}={v}"
        for k, v in sorted(identity.items())
        if k not in {"kind", "repository", "workflow"}
    ]
    return " ".join([identity.get("kind", "?"), *rest])


def why(lock: Lock, name: str) -> Why:
    """Explain why the package called ``name`` is in the lock (a UsageError if it is not)."""
    wanted = canonicalize_name(name)
    pkg = lock.package(wanted)
    if pkg is None:
        raise UsageError(
            f"{name!r} is not in the lock",
            expected="one of: " + ", ".join(p.name for p in lock.packages),
        )
    parents = {
        p.name: [canonicalize_name(v) if v != ROOT else ROOT for v in p.tool.required_by]
        for p in lock.packages
    }
    chains: list[list[str]] = []

    def walk(current: str, path: list[str]) -> None:
        if len(chains) >= 10:
            return
        ups = parents.get(current, [])
        if not ups or ROOT in ups:
            chains.append(list(reversed(path)))
        for up in ups:
            if up != ROOT and up not in path:
                walk(up, [*path, up])

    walk(pkg.name, [pkg.name])
    direct = []
    from packaging.requirements import InvalidRequirement, Requirement

    for line in lock.tool.requirements:
        try:
            if canonicalize_name(Requirement(line).name) == pkg.name:
                direct.append(line)
        except InvalidRequirement:
            continue
    source = next((s for s in lock.tool.sources if s.name == pkg.tool.source), None)
    location = None
    if source is not None:
        location = f"index {source.url}" if source.url else f"folder {source.path}"
    signers = [(lock.signer_name(f), f) for f in pkg.tool.signers]
    forks = [(p.version, p.marker) for p in lock.entries(pkg.name) if p is not pkg]
    return Why(pkg, sorted(chains), signers, location, direct, forks)
