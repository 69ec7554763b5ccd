"""Step 4 of locking: annotate substitutes. For a package pinned with ``substitute``, read
what its dependents' wheels ask for (``Requires-Dist``) and, when the application asks for it
directly, what its own requirement lines say; record that, who asked, and whether the pinned
build lies outside it (then it was applied as an override)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from lockkeys._internal.config.policy import PackagePolicy
from lockkeys._internal.lockmodel.lock import LockedPackage
from lockkeys._internal.resolve.base import ROOT, Pin
from lockkeys._internal.wheelmeta import read_wheel_metadata
from lockkeys.errors import VerificationError


def dependents(pin: Pin) -> set[str]:
    """The packages that require ``pin`` (their wheels are read for what they asked)."""
    return {v for v in pin.via if v != ROOT and not v.startswith("<")}


def annotate_substitute(
    package: LockedPackage,
    policy: PackagePolicy,
    pin: Pin,
    wheels: Mapping[str, Path],
    direct: Sequence[str] = (),
) -> LockedPackage:
    """``package`` with its substitution facts; ``wheels`` maps a normalized project name to
    a downloaded wheel of it (dependents without one are not read); ``direct`` holds the
    application's own requirement lines (read when the pin was asked for directly)."""
    if not policy.substitute:
        return package
    substitutes, requested_by, override = _substitution(pin, wheels, direct)
    tool = package.tool.model_copy(
        update={
            "substitutes": substitutes or f"{pin.name}=={policy.substitute}",
            "substitute_requested_by": requested_by,
            "override": override,
        }
    )
    return replace(package, tool=tool)


def _asked_directly(pin: Pin, direct: Sequence[str]) -> list[tuple[SpecifierSet, str]]:
    """The application's own requirement lines for ``pin`` (when it asked for it directly):
    each line's specifier, parsed and as written."""
    if not any(v == ROOT or v.startswith("<") for v in pin.via):
        return []
    asked: list[tuple[SpecifierSet, str]] = []
    for line in direct:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if canonicalize_name(req.name) == pin.name:
            asked.append((req.specifier, _specifier_as_written(line)))
    return asked


def _substitution(
    pin: Pin, wheels: Mapping[str, Path], direct: Sequence[str]
) -> tuple[str | None, tuple[str, ...], bool]:
    """What the application and the dependents asked for, which dependents asked, and whether
    the pin lies outside any of it."""
    own = _asked_directly(pin, direct)
    asked: list[tuple[str, SpecifierSet, str]] = [("", spec, text) for spec, text in own]
    for dependent in sorted(dependents(pin)):
        wheel = wheels.get(canonicalize_name(dependent))
        if wheel is None:
            continue
        try:
            meta = read_wheel_metadata(wheel, package=dependent)
        except VerificationError:
            continue
        for line in meta.requires_dist:
            try:
                req = Requirement(line)
            except InvalidRequirement:
                continue
            if canonicalize_name(req.name) == pin.name:
                asked.append((dependent, req.specifier, _specifier_as_written(line)))
    if not asked:
        return None, (), False
    version = Version(pin.version)
    override = any(not spec.contains(version, prereleases=True) for _, spec, _ in asked)
    written: list[str] = []
    for _, _, text in asked:
        if text and text not in written:
            written.append(text)
    return f"{pin.name}{','.join(written)}", tuple(d for d, _, _ in asked if d), override


def _specifier_as_written(line: str) -> str:
    """`bar (>=1.0, <2) ; marker` -> `>=1.0,<2`, keeping the dependent's own order."""
    text = line.split(";", 1)[0]
    text = re.sub(r"^\s*[A-Za-z0-9._-]+\s*(\[[^\]]*\])?", "", text).strip()
    return text.strip("()").replace(" ", "")


__all__ = ["annotate_substitute", "dependents"]
