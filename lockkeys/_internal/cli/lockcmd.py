"""`lockkeys lock`, `lockkeys export`, `lockkeys why`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lockkeys._internal.cli.deploy import LockSignerOption, LockThresholdOption, open_deploy_lock
from lockkeys._internal.cli.state import STATE, err, note, out
from lockkeys._internal.fsutil import atomic_write
from lockkeys._internal.lockmodel.locate import find_lockfile
from lockkeys.errors import UsageError, escape

if TYPE_CHECKING:
    from lockkeys._internal.locking.locker import LockOutcome

EXIT_STALE = 1


def lock(
    resolver: Annotated[
        str | None,
        typer.Option("--resolver", metavar="NAME", help="pip-tools (default from config) or uv."),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 if the lock is missing or stale.")
    ] = False,
    upgrade_package: Annotated[
        list[str] | None,
        typer.Option(
            "--upgrade-package",
            "-P",
            metavar="NAME",
            help="Let this package move to a newer version.",
        ),
    ] = None,
    upgrade: Annotated[
        bool,
        typer.Option("--upgrade", "-U", help="Move every package to its newest allowed version."),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Resolve and print what would change; write nothing.")
    ] = False,
    no_cache: Annotated[
        bool,
        typer.Option("--no-cache", help="Give the resolver a fresh, empty cache for this run."),
    ] = False,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir",
            metavar="DIR",
            help="Keep resolver caches here (default: LOCKKEYS_CACHE_DIR, else ~/.cache/lockkeys).",
        ),
    ] = None,
    re_resolve: Annotated[
        bool,
        typer.Option(
            "--re-resolve",
            help="Run the resolver even when the same request was resolved before against "
            "the same index pages (by default that resolution is reused); the new answer is "
            "kept.",
        ),
    ] = False,
) -> None:
    """Resolve the requirements and write the lock with hashes and signer pins."""
    from lockkeys._internal.locking.locker import lock as do_lock

    outcome = do_lock(
        STATE.config,
        resolver=resolver,
        lock_path=STATE.lock,
        upgrade=upgrade_package or (),
        check=check,
        upgrade_all=upgrade,
        dry_run=dry_run,
        cache_dir=cache_dir,
        no_cache=no_cache,
        progress=note,
        reuse=not re_resolve,
    )
    if check:
        out.print(f"{outcome.path}: {outcome.message}", markup=False)
        warn_expiring_signers()
        if outcome.stale:
            note("run `lockkeys lock` to update it")
            raise typer.Exit(EXIT_STALE)
        return
    out.print(outcome.message, markup=False)
    print_changes(outcome)


def print_changes(outcome: LockOutcome) -> None:
    """What a re-lock changed (or, with --dry-run, would change), one line per package;
    then every trust change, classified as `lockkeys diff` does."""
    from lockkeys._internal.locktrust.relock import trust_summary

    if outcome.previous is None:
        return
    for change in outcome.changes:
        out.print(f"  {escape(change.line())}", markup=False)
    if not outcome.changes:
        out.print("  no package changes", markup=False)
    if outcome.lock is not None:
        for line in trust_summary(outcome.previous, outcome.lock, str(outcome.path)):
            out.print(f"  {line}", markup=False)


def warn_expiring_signers() -> None:
    """`lock --check`: warn about configured certificates that expire soon."""
    from lockkeys._internal.config import load_config
    from lockkeys._internal.locking.locker import load_signers
    from lockkeys._internal.trust.expiry import expiry_warnings, warning_days

    config = load_config(STATE.config)
    days = warning_days(config.expiry_warning_days)
    for line in expiry_warnings(load_signers(config).values(), days):
        err.print(f"lockkeys: warning: {line}", markup=False)


def export(
    format: Annotated[
        str, typer.Option("--format", metavar="FORMAT", help="requirements or pylock.")
    ] = "requirements",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", metavar="FILE", help="Write here, not stdout.")
    ] = None,
    extra: Annotated[
        list[str] | None,
        typer.Option("--extra", metavar="NAME", help="requirements: also what this extra needs."),
    ] = None,
    group: Annotated[
        list[str] | None,
        typer.Option(
            "--group",
            metavar="NAME",
            help="requirements: also this group (default: lock's defaults).",
        ),
    ] = None,
    lock_signer: LockSignerOption = None,
    lock_threshold: LockThresholdOption = None,
) -> None:
    """Export the lock as a --require-hashes requirements file or a plain PEP 751 lock.

    The lock-signature rule of the deploy commands applies first (--lock-signer, else
    LOCKKEYS_LOCK_SIGNERS): a lock they would refuse is not exported (exit 1)."""
    from lockkeys._internal.lockmodel.views import export_pylock, export_requirements

    lock_file = STATE.lock or find_lockfile(STATE.config)
    if output is not None and not output.parent.is_dir():
        raise UsageError(
            f"cannot write {output}: the folder {output.parent} does not exist",
            file=str(output),
            fix="create the folder first, or pass another -o path",
        )
    if output is not None and output.is_dir():
        raise UsageError(f"cannot write {output}: it is a folder", file=str(output))
    if format not in ("requirements", "pylock"):
        raise UsageError(f"unknown export format {format!r}", expected="requirements or pylock")
    # What is exported is what a deploy would accept: the same bytes, the same signature rule.
    current = open_deploy_lock(lock_file, lock_signer, lock_threshold).lock
    if format == "requirements":
        from lockkeys._internal.lockmodel.selection import chosen

        extras, groups = chosen(current, extra or (), group, str(lock_file))
        text = export_requirements(
            current,
            extras=extras,
            groups=groups,
            lock_dir=lock_file.resolve().parent,
            dest_dir=(output.resolve().parent if output is not None else Path.cwd()),
        )
    else:
        text = export_pylock(current)
    if output is None:
        print(text, end="")
    else:
        atomic_write(output, text.encode("utf-8"))
        note(f"wrote {output}")


def why(
    name: Annotated[str, typer.Argument(metavar="NAME", help="A locked package.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
) -> None:
    """Why a package is in the lock: who needs it, its source, signers, threshold, reason."""
    from lockkeys._internal.lockmodel.io import read_lock
    from lockkeys._internal.lockmodel.views import why as why_view

    lock_file = STATE.lock or find_lockfile(STATE.config)
    answer = why_view(read_lock(lock_file), name)
    if as_json:
        print(json.dumps(answer.to_json(), indent=2, sort_keys=True))
        return
    for line in answer.lines():
        out.print(escape(line), markup=False)
