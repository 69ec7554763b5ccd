"""What `install` and `sync` will do to the target: install, upgrade, reinstall, keep, remove.

A locked package is kept when the target already has it at the locked version and intact:
every file the locked, verified wheel's RECORD lists is present with that hash (threat-model
row 14). `sync` also removes distributions of the environment that are not in the lock, except
the installer tools (pip, setuptools, wheel) and, when the target is lockkeys' own
environment, lockkeys and what it needs to run.
"""

from __future__ import annotations

import enum
import importlib.metadata
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from lockkeys.install.environment import InstalledDist, TargetEnvironment
from lockkeys.install.installed import differences, wheel_layout
from lockkeys.install.report import PackageReport

ALWAYS_KEPT = {
    "pip": "the installer itself",
    "setuptools": "an installer tool",
    "wheel": "an installer tool",
}


class Action(enum.StrEnum):
    INSTALL = "install"
    UPGRADE = "upgrade"
    DOWNGRADE = "downgrade"
    REINSTALL = "reinstall"
    KEEP = "keep"
    REMOVE = "remove"
    KEPT = "kept"  # not in the lock, and never removed


@dataclass(frozen=True)
class Step:
    name: str
    action: Action
    version: str | None  # the locked version (None for distributions not in the lock)
    installed: str | None = None  # the version installed before
    reason: str = ""

    @property
    def changes(self) -> bool:
        return self.action not in (Action.KEEP, Action.KEPT)

    def describe(self) -> str:
        if self.action in (Action.UPGRADE, Action.DOWNGRADE):
            text = f"{self.name} {self.installed} -> {self.version}"
        elif self.action in (Action.REMOVE, Action.KEPT):
            text = f"{self.name} {self.installed}"
        else:
            text = f"{self.name} {self.version}"
        return f"{text} ({self.reason})" if self.reason else text

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "action": str(self.action),
            "version": self.version,
            "installed": self.installed,
            "reason": self.reason or None,
        }


def _own_requirements() -> dict[str, str]:
    """lockkeys and everything it needs to run, by normalized name."""
    keep: dict[str, str] = {}
    todo = ["lockkeys"]
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        keep[name] = "lockkeys itself" if name == "lockkeys" else "needed by lockkeys"
        for line in dist.requires or []:
            try:
                req = Requirement(line)
            except InvalidRequirement:
                continue
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            todo.append(str(canonicalize_name(req.name)))
    return keep


def is_own_environment(env: TargetEnvironment) -> bool:
    try:
        return Path(env.prefix).resolve() == Path(sys.prefix).resolve()
    except OSError:
        return False


def protected(env: TargetEnvironment) -> dict[str, str]:
    """Distributions sync never removes, with the reason it says."""
    keep = dict(ALWAYS_KEPT)
    if is_own_environment(env):
        for name, why in _own_requirements().items():
            keep.setdefault(name, f"{why}; the target is lockkeys' own environment")
    return keep


def _compare(installed: str, locked: str) -> int:
    try:
        a, b = Version(installed), Version(locked)
    except InvalidVersion:
        return 0 if installed == locked else -1
    return (a > b) - (a < b)


def plan_package(report: PackageReport, env: TargetEnvironment) -> Step:
    dist = env.dist(report.name)
    if dist is None:
        return Step(report.name, Action.INSTALL, report.version)
    order = _compare(dist.version, report.version)
    if order < 0:
        return Step(report.name, Action.UPGRADE, report.version, dist.version)
    if order > 0:
        return Step(report.name, Action.DOWNGRADE, report.version, dist.version)
    if report.local_path is None or not report.local_path.name.endswith(".whl"):
        return Step(
            report.name,
            Action.REINSTALL,
            report.version,
            dist.version,
            "built from source: no wheel RECORD to check it against",
        )
    try:
        problems = differences(wheel_layout(report.local_path), env)
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        problems = [f"cannot be checked: {exc}"]
    if problems:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        return Step(
            report.name,
            Action.REINSTALL,
            report.version,
            dist.version,
            f"installed copy differs from the locked wheel: {problems[0]}{more}",
        )
    return Step(report.name, Action.KEEP, report.version, dist.version, "installed and intact")


def make_plan(
    reports: Sequence[PackageReport], env: TargetEnvironment, *, remove_extras: bool
) -> tuple[Step, ...]:
    steps = [plan_package(r, env) for r in reports if r.ok and r.local_path is not None]
    if remove_extras:
        locked = {r.name for r in reports if r.local_path is not None}
        keep = protected(env)
        for dist in env.dists:
            if dist.name in locked:
                continue
            if not env.owns(dist):
                continue  # a base or system site-packages: not this environment's to change
            if dist.name in keep:
                steps.append(Step(dist.name, Action.KEPT, None, dist.version, f"{keep[dist.name]}"))
            else:
                steps.append(Step(dist.name, Action.REMOVE, None, dist.version, "not in the lock"))
    return tuple(sorted(steps, key=lambda s: (s.name, str(s.action))))


def replaced(steps: Sequence[Step], env: TargetEnvironment) -> list[InstalledDist]:
    """The installed copies that the plan's installs supersede or removes."""
    out: list[InstalledDist] = []
    for step in steps:
        if step.action in (Action.UPGRADE, Action.DOWNGRADE, Action.REINSTALL, Action.REMOVE):
            dist = env.dist(step.name)
            if dist is not None and env.owns(dist):
                out.append(dist)
    return out
