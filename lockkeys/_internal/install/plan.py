"""What `install` and `sync` will do to the target: install, upgrade, reinstall, keep, remove.

A locked package is kept when the target already has it at the locked version and intact:
every file the locked, verified wheel's RECORD lists is present with that hash, and its
launchers are what an installer writes (threat-model row 14). `sync` also removes
distributions of the environment that are not in the lock, except the installer tools (pip,
setuptools, wheel) and, when the target is lockkeys' own environment, lockkeys and what it
needs to run.

Files are judged too (:mod:`lockkeys._internal.install.strays`): byte-code of a kept package that
the target interpreter cannot prove is the compiled verified source is dropped (``drop-pyc``, by
install and sync: the interpreter compiles it again), and `sync` moves files that no
distribution owns into the prefix's ``lockkeys-quarantine/<time>/`` folder (``quarantine``),
naming each one and where it went. The same plan is what `verify --installed` reports.
"""

from __future__ import annotations

import enum
import importlib.metadata
import os
import sys
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from lockkeys._internal.install.applicable import for_target
from lockkeys._internal.install.environment import InstalledDist, TargetEnvironment
from lockkeys._internal.install.installed import WheelLayout, differences, wheel_layout
from lockkeys._internal.install.report import PackageReport
from lockkeys._internal.install.strays import Stray, destination, quarantine_root, survey

ALWAYS_KEPT = {
    "pip": "the installer itself",
    "setuptools": "an installer tool",
    "wheel": "an installer tool",
}


class Action(enum.StrEnum):
    """What a plan step does to the target environment."""

    INSTALL = "install"
    UPGRADE = "upgrade"
    DOWNGRADE = "downgrade"
    REINSTALL = "reinstall"
    KEEP = "keep"
    REMOVE = "remove"
    UNTOUCHED = "untouched"  # not in the lock, and never removed (installer tools, lockkeys)
    QUARANTINE = "quarantine"  # a file no distribution owns: moved out of the environment
    DROP_PYC = "drop-pyc"  # byte-code that is not the compiled verified source: deleted


@dataclass(frozen=True)
class Step:
    """One step of an install or sync plan: a distribution (or a stray file) and what is done
    to it."""

    name: str
    action: Action
    version: str | None  # the locked version (None for distributions not in the lock)
    installed: str | None = None  # the version installed before
    reason: str = ""
    path: str | None = None  # a file step: the file, relative to the prefix
    problems: tuple[str, ...] = field(default=(), compare=False)  # every difference found
    source: str | None = field(default=None, compare=False)  # a file step: absolute path
    target: str | None = field(default=None, compare=False)  # quarantine: where it goes

    @property
    def changes(self) -> bool:
        """Whether the step changes the environment."""
        return self.action not in (Action.KEEP, Action.UNTOUCHED)

    @property
    def installs(self) -> bool:
        """Whether the step puts the locked file into the environment."""
        return self.action in (Action.INSTALL, Action.UPGRADE, Action.DOWNGRADE, Action.REINSTALL)

    def describe(self) -> str:
        """The step as one line for the plan's listing."""
        if self.path is not None:
            text = f"{self.name}: {self.path}" if self.name else self.path
        elif self.action in (Action.UPGRADE, Action.DOWNGRADE):
            text = f"{self.name} {self.installed} -> {self.version}"
        elif self.action in (Action.REMOVE, Action.UNTOUCHED):
            text = f"{self.name} {self.installed}"
        else:
            text = f"{self.name} {self.version}"
        return f"{text} ({self.reason})" if self.reason else text

    def to_json(self) -> dict[str, object]:
        """The step in the JSON report."""
        return {
            "name": self.name,
            "action": str(self.action),
            "version": self.version,
            "installed": self.installed,
            "reason": self.reason or None,
            **({"path": self.path} if self.path is not None else {}),
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
    """Whether the target is the environment lockkeys itself runs in."""
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


def _layout(report: PackageReport) -> WheelLayout | None:
    if report.local_path is None or not report.local_path.name.endswith(".whl"):
        return None
    try:
        return wheel_layout(report.local_path)
    except (ValueError, OSError, zipfile.BadZipFile):
        return None


def plan_package(
    report: PackageReport, env: TargetEnvironment, layout: WheelLayout | None = None
) -> Step:
    """The step for one verified package: install, upgrade, downgrade, reinstall or keep."""
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
        problems = differences(layout or wheel_layout(report.local_path), env)
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
            problems=tuple(problems),
        )
    return Step(report.name, Action.KEEP, report.version, dist.version, "installed and intact")


def make_plan(
    reports: Sequence[PackageReport], env: TargetEnvironment, *, remove_extras: bool
) -> tuple[Step, ...]:
    """Every step for the target's entries of the lock; ``remove_extras``: sync's plan (also
    removes extra distributions and quarantines unowned files)."""
    targets = [r for r in for_target(reports).values() if r.ok and r.local_path is not None]
    layouts = {r.name: layout for r in targets if (layout := _layout(r)) is not None}
    steps = [plan_package(r, env, layouts.get(r.name)) for r in targets]
    intact = {s.name for s in steps if s.action is Action.KEEP}
    steps += file_steps(survey(env, layouts, intact), env, quarantine=remove_extras)
    if remove_extras:
        locked = {r.name for r in reports if r.local_path is not None}
        keep = protected(env)
        for dist in env.dists:
            if dist.name in locked:
                continue
            if not env.owns(dist):
                continue  # a base or system site-packages: not this environment's to change
            if dist.name in keep:
                reason = f"not in the lock: {keep[dist.name]}"
                steps.append(Step(dist.name, Action.UNTOUCHED, None, dist.version, reason))
            else:
                steps.append(Step(dist.name, Action.REMOVE, None, dist.version, "not in the lock"))
    return tuple(sorted(steps, key=lambda s: (s.path is not None, s.name, str(s.action), s.path)))


def file_steps(strays: Sequence[Stray], env: TargetEnvironment, *, quarantine: bool) -> list[Step]:
    """Byte-code to drop, and (``quarantine``: sync) unowned files to move aside."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + f"-{os.getpid()}"
    root = quarantine_root(env, stamp)
    steps: list[Step] = []
    for stray in strays:
        label = stray.label(env)
        if stray.kind == "bytecode":
            steps.append(
                Step(
                    stray.package,
                    Action.DROP_PYC,
                    None,
                    reason=stray.detail,
                    path=label,
                    source=stray.path,
                )
            )
        elif quarantine:
            dest = destination(stray, env, root)
            shown = os.path.relpath(dest, env.prefix)
            steps.append(
                Step(
                    "",
                    Action.QUARANTINE,
                    None,
                    reason=f"{stray.detail}; moved to {shown}",
                    path=label,
                    source=stray.path,
                    target=str(dest),
                )
            )
    return steps


def replaced(steps: Sequence[Step], env: TargetEnvironment) -> list[InstalledDist]:
    """The installed copies that the plan's installs supersede or removes."""
    out: list[InstalledDist] = []
    for step in steps:
        if step.action in (Action.UPGRADE, Action.DOWNGRADE, Action.REINSTALL, Action.REMOVE):
            dist = env.dist(step.name)
            if dist is not None and env.owns(dist):
                out.append(dist)
    return out
