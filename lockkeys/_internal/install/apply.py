"""Carry out an install's plan on the target environment in one transaction (all or nothing),
and what `verify --installed` reports for each step of the plan."""

from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

from lockkeys._internal.install.applicable import for_target
from lockkeys._internal.install.environment import TargetEnvironment, probe
from lockkeys._internal.install.installed import differences, recorded_files, wheel_layout
from lockkeys._internal.install.installer import (
    Artifact,
    install_artifacts,
    owned_paths,
    remove_dist,
    staying,
)
from lockkeys._internal.install.plan import Action, Step, replaced
from lockkeys._internal.install.report import Finding, Report
from lockkeys._internal.install.strays import clear
from lockkeys._internal.install.transaction import Transaction
from lockkeys.errors import VerificationError

log = logging.getLogger("lockkeys.install")


def _at_risk(artifacts: list[Artifact], env: TargetEnvironment) -> list[Path]:
    """Paths the new wheels will write (an installer may write into an existing one)."""
    paths: list[Path] = []
    for artifact in artifacts:
        if not artifact.is_wheel:
            continue
        try:
            layout = wheel_layout(artifact.path)
        except (ValueError, OSError, zipfile.BadZipFile):
            continue  # the installer refuses it; every file is in the backup anyway
        for entry in layout.entries:
            base = env.paths.get(entry.scheme)
            if base:
                paths.append(Path(os.path.normpath(Path(base) / entry.path)))
        root = env.paths.get("purelib", "")
        for extra in ("INSTALLER", "REQUESTED", "RECORD", "direct_url.json"):
            paths.append(Path(root) / layout.dist_info / extra)
        scripts = env.paths.get("scripts")
        if scripts:
            paths.extend(Path(scripts) / name for name in layout.scripts)
    return paths


def apply_plan(
    steps: tuple[Step, ...],
    report: Report,
    env: TargetEnvironment,
    installer: str,
    workdir: Path,
) -> None:
    """Carry out the plan inside one transaction: all of it, or nothing."""
    by_name = for_target(report.packages)
    to_install = [s for s in steps if s.installs]
    artifacts = [
        Artifact(s.name, s.version or "", by_name[s.name].local_path, by_name[s.name].sha256)  # type: ignore[arg-type]
        for s in to_install
    ]
    old = replaced(steps, env)
    removals = [
        d for d in old if any(s.name == d.name and s.action is Action.REMOVE for s in steps)
    ]
    superseded = [d for d in old if d not in removals]
    # Files of distributions that stay, less what the plan itself clears away (an unowned file
    # inside a staying dist-info, unproven byte-code): those must not be put back.
    keep = owned_paths(staying(env, old), env) - _cleared(steps)
    transaction = Transaction(env)
    transaction.begin(
        _at_risk(artifacts, env), removed=[p for d in old for p in recorded_files(d, env)]
    )
    try:
        clear_files(steps, env)
        for dist in removals:
            remove_dist(dist, env, keep)
        install_artifacts(installer, env, artifacts, workdir, replace=superseded, keep=keep)
        for path in transaction.put_back_missing(keep):
            log.info("lockkeys: put back %s: a distribution that stays lists it", path)
        after = probe(env.python)
        broken: list[str] = []
        for artifact in artifacts:
            if artifact.is_wheel:
                broken += [
                    f"{artifact.name}: {d}" for d in differences(wheel_layout(artifact.path), after)
                ]
        if broken:
            raise VerificationError(
                "after installing, the environment does not hold the verified files",
                package=", ".join(sorted({b.split(":", 1)[0] for b in broken})),
                details=broken[:15],
                fix="another process may be changing this environment (for a launcher: the "
                "installer writes one lockkeys does not know; use --installer builtin); nothing "
                "was changed",
            )
    except BaseException as exc:
        problems = transaction.rollback()
        note = (
            "the environment was restored to its state before this run"
            if not problems
            else "the environment could NOT be fully restored: " + "; ".join(problems[:10])
        )
        if isinstance(exc, VerificationError):
            attempted = "; ".join(f"{s.action} {s.describe()}" for s in steps if s.changes)
            exc.details += [f"attempted: {attempted}", note]
        else:
            log.error("lockkeys: %s", note)
        raise
    transaction.commit()


def _cleared(steps: Sequence[Step]) -> frozenset[str]:
    """Real paths of the files the plan's file steps move aside or delete."""
    return frozenset(
        os.path.join(os.path.realpath(os.path.dirname(s.source)), os.path.basename(s.source))
        for s in steps
        if s.action in (Action.QUARANTINE, Action.DROP_PYC) and s.source
    )


def clear_files(steps: Sequence[Step], env: TargetEnvironment) -> None:
    """The plan's file steps: unowned files moved aside, unproven byte-code deleted."""
    moves = [
        (s.source, Path(s.target))
        for s in steps
        if s.action is Action.QUARANTINE and s.source and s.target
    ]
    drops = [s.source for s in steps if s.action is Action.DROP_PYC and s.source]
    if moves or drops:
        clear(moves, drops, env)


def findings(step: Step) -> list[Finding]:
    """What `verify --installed` reports for one step of sync's plan."""
    if step.action is Action.INSTALL:
        return [Finding("missing", step.name, f"{step.version} is not installed")]
    if step.action in (Action.UPGRADE, Action.DOWNGRADE):
        detail = f"{step.installed} is installed, the lock says {step.version}"
        return [Finding("other-version", step.name, detail)]
    if step.action is Action.REMOVE:
        return [Finding("extra", step.name, f"{step.installed} is installed, not in the lock")]
    if step.action is Action.QUARANTINE:
        return [Finding("unowned", "", "no distribution owns it", file=step.path)]
    if step.action is Action.DROP_PYC:
        return [Finding("bytecode", step.name, step.reason, file=step.path)]
    if step.action is Action.REINSTALL:
        found = []
        for problem in step.problems:  # none: built from source, nothing to compare against
            path, _, what = problem.rpartition(": ")
            found.append(Finding("file", step.name, what, file=path or None))
        return found
    return []
