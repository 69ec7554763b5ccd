"""Install-time checks of a file's own metadata (read by :mod:`lockkeys._internal.wheelmeta`).

A verified wheel must say what the lock says: its METADATA Name and Version equal the lock
entry (threat-model rows 5 and 6, also under a signatures-only policy), and every
Requires-Dist that applies to the target names a locked package (row 4)."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name, canonicalize_version
from packaging.version import InvalidVersion, Version

from lockkeys._internal.install.environment import TargetEnvironment
from lockkeys._internal.wheelmeta import WheelMetadata, read_sdist_metadata, read_wheel_metadata
from lockkeys.errors import VerificationError

__all__ = ["WheelMetadata", "check_metadata", "read_sdist_metadata", "read_wheel_metadata"]


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return canonicalize_version(a) == canonicalize_version(b)


def check_metadata(
    path: Path,
    *,
    name: str,
    version: str,
    locked: Collection[str],
    env: TargetEnvironment,
) -> WheelMetadata:
    """Raise VerificationError when the file's own metadata disagrees with the lock.

    Wheels: METADATA. Sdists: PKG-INFO; their dependencies are checked where PKG-INFO says
    they are static (Metadata-Version 2.2+, Requires-Dist not dynamic).
    """
    if path.name.endswith(".whl"):
        meta = read_wheel_metadata(path, package=name)  # also checks every member path
        check_dependencies = True
    else:
        meta, check_dependencies = read_sdist_metadata(path, package=name)
    if canonicalize_name(meta.name) != canonicalize_name(name):
        raise VerificationError(
            "the file's own metadata names another project (wrong software)",
            package=name,
            file=path.name,
            expected=f"Name: {name}",
            found=f"Name: {meta.name}",
            fix="the source served a different project under this file name; do not install it",
        )
    if not _same_version(meta.version, version):
        raise VerificationError(
            "the file's own metadata has another version (version swap or rollback)",
            package=name,
            file=path.name,
            expected=f"Version: {version}",
            found=f"Version: {meta.version}",
            fix="the source served another release under this file name; do not install it",
        )
    locked_names = {canonicalize_name(n) for n in locked}
    for line in meta.requires_dist if check_dependencies else ():
        try:
            req = Requirement(line)
        except InvalidRequirement:
            raise VerificationError(
                "unparseable Requires-Dist in METADATA",
                package=name,
                file=path.name,
                found=line,
            ) from None
        try:
            applies = req.marker is None or env.marker_applies(str(req.marker))
        except ValueError as exc:
            raise VerificationError(
                "a Requires-Dist marker in METADATA cannot be evaluated",
                package=name,
                file=path.name,
                found=f"Requires-Dist: {line} ({exc})",
            ) from None
        if not applies:
            continue
        if canonicalize_name(req.name) not in locked_names:
            raise VerificationError(
                f"the wheel requires {req.name!r}, which is not in the lock (extraneous "
                "dependency)",
                package=name,
                file=path.name,
                expected="every dependency of a locked package is locked too",
                found=f"Requires-Dist: {line}",
                fix="re-lock if this dependency is expected; otherwise the file was altered",
            )
    return meta
