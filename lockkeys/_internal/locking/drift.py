"""`lock --check`: is the lock exactly what `lockkeys lock` would write now?

The inputs digest only says the requirements and configuration text are what they were when
the lock was made. A lock edited by hand afterwards keeps its digest, so the check also runs
`lockkeys lock` as a dry run for the lock (its pins kept, its certificates merged; the
resolution is reused from the cache when the same request was resolved against the same
index pages) and compares the lock file with what that run would write (issue 12, item 1;
threat-model row 20; issue 19, rule 2):

1. what trust depends on (:func:`trust_view`), named in the words of the configuration: each
   package's `verify`, signer fingerprints, `threshold`, `source`, `allow-sdist`, the
   embedded certificates, the sources (names, URLs, folders, mirrors), the signature stores,
   and the files each source serves (names, sizes and hashes);
2. then every leaf of the lock file, standard or lockkeys', known to lockkeys or not
   (:func:`lock_drift`): a package deleted or added, a marker, an index, a file URL, the
   recorded requirements, the revocations, the environments, a key added by hand are all
   drift; a field lockkeys does not write is drift too (fail closed).

The only leaves not compared are the hashes and sizes of a `signatures`-only package's files
(their names are): a signed rebuild installs without re-locking (the contract), and the
installer checks such a file's signatures, not those hashes. Every difference is listed with
the lock's value and the expected one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from lockkeys._internal.lockmodel.lock import Lock, LockedPackage
from lockkeys._internal.lockmodel.walk import (
    MISSING,
    Difference,
    document,
    entry_key,
    package_differences,
    show,
)

__all__ = ["lock_drift", "trust_view"]


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
                out.append(f"{where}: in the lock, but `lockkeys lock` does not write it")
            elif key not in locked:
                out.append(f"{where}: missing from the lock; `lockkeys lock` writes it")
            else:
                out += _differences(where, locked[key], expected[key])
        return out
    if locked != expected:
        if path.endswith(".files") and isinstance(locked, list) and isinstance(expected, list):
            return _file_differences(path, locked, expected)
        if path.endswith(".certificate"):
            return [f"{path}: the embedded certificate differs from the configured one"]
        return [f"{path}: the lock says {_show(locked)}, expected {_show(expected)}"]
    return []


def _file_differences(path: str, locked: list[Any], expected: list[Any]) -> list[str]:
    """Say per file what the sources serve now against what the lock records: a changed
    file is the source's news (or a hand edit), and the fix is a re-lock of that package."""
    name = path.removesuffix(".files").rsplit(".", 1)[-1].split("==", 1)[0]
    package = path
    fix = f"if that is expected, re-lock it: `lockkeys lock --upgrade-package {name}`"

    def facts(entry: Any) -> tuple[str, str]:
        if isinstance(entry, tuple):  # (file name, size, ((algorithm, digest), ...))
            filename, size, hashes = entry
            return filename, f"size {size}, " + ", ".join(f"{a} {d[:16]}..." for a, d in hashes)
        return str(entry), ""

    now = dict(facts(e) for e in expected)
    before = dict(facts(e) for e in locked)
    out = []
    for filename in sorted(set(now) | set(before)):
        if filename not in now:
            out.append(f"{package}: {filename}: in the lock, but the sources no longer serve it")
        elif filename not in before:
            out.append(f"{package}: {filename}: the sources now serve it too; it is not locked")
        elif now[filename] != before[filename]:
            out.append(
                f"{package}: {filename}: the source now serves other bytes ({now[filename]}) "
                f"than the lock records ({before[filename]}): a source changed since the lock "
                f"was made, or the lock was edited; {fix}"
            )
    return out


def lock_drift(
    locked: Mapping[str, Any],
    lock: Lock,
    expected: Lock,
    policies: Mapping[str, str],
) -> list[str]:
    """Every difference between the lock file (``locked``: its document; ``lock``: as read)
    and the lock `lockkeys lock` would write (``expected``), one line each: first what trust
    depends on (files compared as ``policies``, name -> configured verify, says); when that
    agrees, every other leaf. None is left out but the hashes and sizes of a
    `signatures`-only package's files (see the module docstring)."""
    trust = _differences("", trust_view(lock, policies), trust_view(expected, policies))
    if trust:
        return trust
    wanted = document(expected)
    rebuilt = {
        f"[{entry_key(p.name, p.version, p.marker)}]"
        for p in expected.packages
        if policies.get(p.name, p.tool.verify) == "signatures"
    }
    return [
        _line(d) for d in package_differences(locked, wanted) if not _signed_rebuild(d, rebuilt)
    ]


def _signed_rebuild(d: Difference, rebuilt: set[str]) -> bool:
    path = d.path
    if len(path) < 4 or path[0] != "packages" or path[1] not in rebuilt:
        return False
    in_file = path[2] == "sdist" or (path[2] == "wheels" and path[3].startswith("["))
    return in_file and (path[-1] == "size" or "hashes" in path[3:])


def _line(d: Difference) -> str:
    where = d.where()
    if d.old is MISSING:
        return f"{where}: missing from the lock; `lockkeys lock` writes {show(d.new)}"
    if d.new is MISSING:
        return f"{where}: in the lock ({show(d.old)}), but `lockkeys lock` does not write it"
    if where.endswith(".certificate"):
        return f"{where}: the embedded certificate differs from what `lockkeys lock` embeds"
    return f"{where}: the lock says {show(d.old)}, `lockkeys lock` writes {show(d.new)}"
