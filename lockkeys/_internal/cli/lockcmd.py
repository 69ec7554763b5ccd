"""`lockkeys lock`, `lockkeys export`, `lockkeys why`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lockkeys import api
from lockkeys._internal.cli.deploy import LockSignerOption, LockThresholdOption
from lockkeys._internal.cli.state import STATE, err, note, out
from lockkeys.errors import UsageError, escape

if TYPE_CHECKING:
    from lockkeys.api import LockOutcome

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
    if check:
        if dry_run or upgrade or upgrade_package:
            raise UsageError(
                "--check compares the inputs only; it cannot be combined with --upgrade, "
                "--upgrade-package or --dry-run"
            )
        _check(resolver, cache_dir, no_cache=no_cache, reuse=not re_resolve)
        return
    outcome = api.lock(
        STATE.config,
        lock_path=STATE.lock,
        resolver=resolver,
        upgrade=upgrade_package or (),
        upgrade_all=upgrade,
        dry_run=dry_run,
        cache_dir=cache_dir,
        no_cache=no_cache,
        reuse=not re_resolve,
        progress=note,
    )
    out.print(outcome.message, markup=False)
    print_changes(outcome)


def _check(resolver: str | None, cache_dir: Path | None, *, no_cache: bool, reuse: bool) -> None:
    """`lock --check`: compare the lock with a dry-run lock; exit 1 when it is stale."""
    outcome = api.check(
        STATE.config,
        lock_path=STATE.lock,
        resolver=resolver,
        cache_dir=cache_dir,
        no_cache=no_cache,
        reuse=reuse,
        progress=note,
    )
    out.print(f"{outcome.path}: {outcome.message}", markup=False)
    warn_expiring_signers()
    if outcome.stale:
        note("run `lockkeys lock` to update it")
        raise typer.Exit(EXIT_STALE)


def print_changes(outcome: LockOutcome) -> None:
    """What a re-lock changed (or, with --dry-run, would change), one line per package;
    then every trust change, classified as `lockkeys diff` does."""
    if outcome.previous is None:
        return
    for change in outcome.changes:
        out.print(f"  {escape(change.line())}", markup=False)
    if not outcome.changes:
        out.print("  no package changes", markup=False)
    for line in api.trust_summary(outcome):
        out.print(f"  {line}", markup=False)


def warn_expiring_signers() -> None:
    """`lock --check`: warn about configured certificates that expire soon."""
    for line in api.signer_expiry_warnings(STATE.config):
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
    result = api.export(
        STATE.lock or api.find_lockfile(STATE.config),
        format=format,
        extras=extra or (),
        groups=group,
        output=output,
        lock_signers=lock_signer or (),
        lock_threshold=lock_threshold,
    )
    if result.signature is not None and not STATE.quiet:
        err.print(f"lockkeys: lock signed: {result.signature.summary()}", markup=False)
    if output is None:
        print(result.text, end="")
    else:
        note(f"wrote {output}")


def why(
    name: Annotated[str, typer.Argument(metavar="NAME", help="A locked package.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
) -> None:
    """Why a package is in the lock: who needs it, its source, signers, threshold, reason."""
    answer = api.why(name, config=STATE.config, lock_path=STATE.lock)
    if as_json:
        print(json.dumps(answer.to_json(), indent=2, sort_keys=True))
        return
    for line in answer.lines():
        out.print(escape(line), markup=False)
