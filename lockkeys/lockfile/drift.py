"""`lock --check`: does the lock's trust content still match the configuration and the sources?

The inputs digest only says the requirements and configuration text are what they were when
the lock was made. A lock edited by hand afterwards (a 2-of-2 package turned into 1-of-1, a
`hashes` package into `none`, a signer or certificate swapped, a source moved, a hash replaced)
keeps its digest, so the check also rebuilds, for the lock's own pins (nothing is re-resolved),
what `lockkeys lock` would write for them, and compares the two on everything trust depends
on (issue 12, item 1; threat-model row 20):

- each package's policy: `verify`, signer fingerprints, `threshold`, `source`,
  `allow-sdist`, and its version where the configuration pins a substitute;
- the embedded certificates (names, fingerprints and the certificates themselves);
- the sources (names, URLs, folders, mirrors) and the signature stores;
- the files each source serves for the pinned version: names, sizes and hashes (names only
  for a `signatures`-only package, whose signed rebuilds install without re-locking).

Every difference is listed with the lock's value and the expected one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lockkeys.config import LockkeysConfig, PackagePolicy
from lockkeys.errors import ResolutionError
from lockkeys.lockfile.assemble import assemble_lock, locked_package
from lockkeys.lockfile.collect import collect_files
from lockkeys.lockfile.model import Lock, LockedPackage
from lockkeys.resolve.base import Pin
from lockkeys.sources.model import Source
from lockkeys.trust.certs import Certificate

__all__ = ["trust_drift", "trust_view"]


def _package_view(pkg: LockedPackage, policy: str) -> dict[str, Any]:
    files = [*pkg.wheels, *((pkg.sdist,) if pkg.sdist else ())]
    if policy == "signatures":
        # Signed rebuilds install without re-locking (the contract), so for a signatures-only
        # package the files' bytes are not the lock's trust content: their names are.
        listed: list[Any] = sorted(f.filename for f in files)
    else:
        listed = sorted((f.filename, f.size, tuple(sorted(f.hashes.items()))) for f in files)
    return {
        "verify": pkg.tool.verify,
        "signers": sorted(pkg.tool.signers),
        "threshold": pkg.tool.threshold,
        "source": pkg.tool.source,
        "allow-sdist": pkg.tool.allow_sdist,
        "files": listed,
    }


def trust_view(lock: Lock, policies: Mapping[str, str] | None = None) -> dict[str, Any]:
    """What trust depends on in ``lock``, in a form two locks can be compared in; files are
    compared as the configured policy (``policies``: name -> verify) says."""
    wanted = policies or {}
    names = Counter(p.name for p in lock.packages)

    def key(p: LockedPackage) -> str:  # a universal lock may hold several versions of one
        return p.name if names[p.name] == 1 else f"{p.name}=={p.version}"

    return {
        "sources": [
            {"name": s.name, "url": s.url, "path": s.path, "mirrors": list(s.mirrors)}
            for s in lock.tool.sources
        ],
        "signature-stores": list(lock.tool.signature_stores),
        "signers": {
            name: {"fingerprint": s.fingerprint, "certificate": s.certificate.strip()}
            for name, s in sorted(lock.tool.signers.items())
        },
        "packages": {
            key(p): _package_view(p, wanted.get(p.name, p.tool.verify)) for p in lock.packages
        },
    }


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _differences(path: str, locked: Any, expected: Any) -> list[str]:
    if isinstance(locked, dict) and isinstance(expected, dict):
        out: list[str] = []
        for key in sorted(set(locked) | set(expected), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in expected:
                out.append(f"{where}: in the lock, not in the configuration")
            elif key not in locked:
                out.append(f"{where}: in the configuration, not in the lock")
            else:
                out += _differences(where, locked[key], expected[key])
        return out
    if locked != expected:
        if path.endswith(".certificate"):
            return [f"{path}: the embedded certificate differs from the configured one"]
        return [f"{path}: the lock says {_show(locked)}, expected {_show(expected)}"]
    return []


def trust_drift(
    lock: Lock,
    config: LockkeysConfig,
    certs: Mapping[str, Certificate],
    *,
    sources: Sequence[Source],
    mirrors: Mapping[str, Sequence[str]],
    lock_dir: Path,
    scratch: Path,
    candidates: Callable[[Pin], Sequence[Source]],
) -> list[str]:
    """Every difference between the lock's trust content and what the configuration and the
    sources give for the lock's own pins (see the module docstring)."""
    problems: list[str] = []
    expected_packages: list[LockedPackage] = []
    for pkg in lock.packages:
        policy: PackagePolicy = config.policy(pkg.name)
        if policy.substitute and pkg.version != policy.substitute:
            problems.append(
                f"packages.{pkg.name}.version: the lock says {pkg.version!r}, the configured "
                f"substitute is {policy.substitute!r}"
            )
        pin = Pin(
            name=pkg.name,
            version=pkg.version,
            via=tuple(pkg.tool.required_by),
            marker=pkg.marker,
        )
        try:
            collected = collect_files(pin, policy, candidates(pin), scratch)
        except ResolutionError as exc:
            problems.append(f"packages.{pkg.name}: {exc.message}")
            expected_packages.append(pkg)
            continue
        expected_packages.append(locked_package(collected, policy, certs, lock_dir))
    expected = assemble_lock(
        expected_packages,
        digest=lock.tool.inputs_digest,
        requirements=lock.tool.requirements,
        sources=sources,
        mirrors=mirrors,
        signature_stores=config.signature_stores,
        certs=certs,
        lock_dir=lock_dir,
    )
    policies = {p.name: config.policy(p.name).verify for p in lock.packages}
    return problems + _differences("", trust_view(lock, policies), trust_view(expected, policies))
