"""Is the target inside what the lock covers? Checked before anything is fetched.

A lock records the environments it was made for (PEP 751 ``environments`` and
``requires-python``). A target outside them would get a partial or wrong set of packages
(a dependency that only its platform or Python needs was never resolved), so it is refused
with what the target is and what the lock covers, instead of failing later on a dependency
that looks extraneous.

Not :meth:`packaging.pylock.Pylock.select`: it stops at the first problem with its own
message, where a deploy reports every package (skipped with its marker, or refused) and
names what the target is and what the lock covers; what it would replace here is one
``Marker.evaluate`` per package.
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from pathlib import Path

from packaging.markers import Marker

from lockkeys._internal.install.environment import TargetEnvironment
from lockkeys._internal.install.report import PackageReport, Status
from lockkeys._internal.lockmodel.lock import Lock
from lockkeys._internal.markers import covers, describe
from lockkeys.errors import InputError, UsageError


def check_target(lock: Lock, env: TargetEnvironment, lock_path: Path) -> None:
    """Raise UsageError (exit 2) when ``env`` lies outside ``lock``'s environments."""
    problems = covers(
        env.markers, environments=lock.environments, requires_python=lock.requires_python
    )
    if not problems:
        return
    covered = []
    if lock.environments is not None:
        covered.append("environments: " + " | ".join(lock.environments))
    if lock.requires_python:
        covered.append(f"requires-python: {lock.requires_python}")
    raise UsageError(
        f"the target ({describe(env.markers)}, {env.python}) is outside what the lock "
        f"covers: {'; '.join(problems)}",
        file=str(lock_path),
        expected="; ".join(covered),
        found=describe(env.markers),
        fix='re-lock for this target: with resolver = "uv", add its environment to '
        "`environments` (or widen `requires-python`); with pip-tools, lock on the target's "
        "platform and Python",
    )


def skip_reason(marker: str | None) -> str:
    """Why a package is not installed on this target (its report's reason)."""
    return f"marker {marker} is false for this target"


def package_applies(
    marker: str | None, env: TargetEnvironment, extras: Set[str], groups: Set[str]
) -> bool:
    """A PEP 751 package marker, for the target, with the chosen extras and groups. A marker
    that cannot be evaluated raises ValueError for the caller to report."""
    if not marker:
        return True
    environment: dict[str, str | frozenset[str]] = dict(env.markers)
    environment["extras"] = frozenset(extras)
    environment["dependency_groups"] = frozenset(groups)
    try:
        return Marker(marker).evaluate(environment, context="lock_file")
    except Exception as exc:  # packaging raises several types for unusable markers
        raise ValueError(f"cannot evaluate marker {marker!r}: {exc}") from None


def check_unambiguous(
    lock: Lock, env: TargetEnvironment, extras: Set[str], groups: Set[str], lock_path: Path
) -> None:
    """Where a universal lock holds several versions of one name, at most one may apply to
    the target (PEP 751: an ambiguous lock is an error)."""
    names = [p.name for p in lock.packages]
    for name in sorted({n for n in names if names.count(n) > 1}):
        applying = []
        for entry in lock.entries(name):
            try:
                if package_applies(entry.marker, env, extras, groups):
                    applying.append(entry)
            except ValueError:
                continue  # reported with the package itself
        if len(applying) > 1:
            raise InputError(
                f"{name}: {len(applying)} versions in the lock apply to this target "
                f"({', '.join(p.version for p in applying)}); the lock is ambiguous",
                package=name,
                file=str(lock_path),
                found="; ".join(f"{p.version}: {p.marker}" for p in applying),
                fix="re-lock: each version of a package needs a marker no other one shares",
            )


def for_target(reports: Iterable[PackageReport]) -> dict[str, PackageReport]:
    """Each locked name's report for the entry that applies to the target.

    A forked lock holds several entries of one name; all but the target's are reported as
    skipped, in any order (uv sorts them by version). Install, sync and the audit read the
    target's entry from here, never the first or last entry of a name."""
    chosen: dict[str, PackageReport] = {}
    for report in reports:
        if report.status is not Status.SKIPPED:
            chosen[report.name] = report  # check_unambiguous: at most one per name applies
    return chosen


__all__ = ["check_target", "check_unambiguous", "for_target", "package_applies", "skip_reason"]
