"""`lockkeys verify`, `lockkeys download`, `lockkeys install`: the deploy gate."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lockkeys.cli.state import STATE, err, note, out
from lockkeys.errors import LockkeysError, VerificationError, escape
from lockkeys.lockfile.locate import find_lockfile

if TYPE_CHECKING:
    from lockkeys.install.report import Report

# The installer, the lock model and rich's progress are imported by the commands that use
# them, so `lockkeys verify-signature` and `lockkeys --version` start fast.

_STYLE = {
    "verified-by-hash": "green",
    "verified-by-signatures": "green",
    "verified-by-hash-and-signatures": "green",
    "allowed-unverified": "yellow",
    "refused": "red",
    "not-for-this-environment": "dim",
}


def _count(path: Path) -> int:
    from lockkeys.lockfile.io import read_lock

    return len(read_lock(path).packages)


def lock_path() -> Path:
    if STATE.lock is not None:
        return STATE.lock
    return find_lockfile(STATE.config)


@contextmanager
def progress_bar(total: int, enabled: bool) -> Iterator[Callable[[str, str], None]]:
    if not enabled or not err.is_terminal:
        yield lambda _pkg, _stage: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("verifying", total=total)

        def update(package: str, stage: str) -> None:
            if stage == "done":
                bar.advance(task)
            elif stage == "install":
                bar.update(task, description="installing")
            else:
                bar.update(task, description=f"{stage} {package}")

        yield update


def render(report: Report, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.to_json(), indent=2, sort_keys=True))
    elif not STATE.quiet:
        from rich.markup import escape as markup_escape
        from rich.table import Table

        table = Table(title=None, show_header=True, header_style="bold", box=None)
        for column in ("package", "version", "policy", "status", "detail"):
            table.add_column(column, overflow="fold")
        for pkg in report.packages:
            table.add_row(
                markup_escape(escape(pkg.name)),
                markup_escape(escape(pkg.version)),
                pkg.policy,
                f"[{_STYLE[str(pkg.status)]}]{pkg.status}[/]",
                markup_escape(escape(pkg.summary())),
            )
        out.print(table)
    for line in report.notes:
        err.print(f"lockkeys: {escape(line)}", markup=False)
    for pkg in report.unverified:
        err.print(
            f"lockkeys: warning: {pkg.name} {pkg.version} was accepted UNVERIFIED "
            "(policy 'none' in the lock)",
            markup=False,
        )
    skipped = [p for p in report.packages if str(p.status) == "not-for-this-environment"]
    if skipped and not as_json:
        named = ", ".join(f"{p.name} ({p.details[0]})" if p.details else p.name for p in skipped)
        note(f"lockkeys: skipped {len(skipped)} package(s) not needed on this target: {named}")


TimeoutOption = Annotated[
    float,
    typer.Option("--timeout", help="Seconds to wait for each network read (default 30)."),
]


@contextmanager
def json_errors(as_json: bool) -> Iterator[None]:
    """With --json, a run that stops early still prints one JSON document on stdout."""
    try:
        yield
    except LockkeysError as exc:
        if as_json:
            print(json.dumps({"ok": False, "error": exc.to_json(), "packages": []}, indent=2))
        raise


def fail_if_refused(report: Report, as_json: bool) -> None:
    if report.ok:
        return
    for pkg in report.refused:
        lines = [f"lockkeys: {pkg.name} {pkg.version}: refused: {pkg.reason}"]
        lines += [f"  {escape(d)}" for d in pkg.details]
        if pkg.fix:
            lines.append(f"  fix: {pkg.fix}")
        err.print("\n".join(lines), markup=False)
    if not as_json:
        err.print(
            f"lockkeys: {len(report.refused)} of {len(report.packages)} package(s) refused"
            + ("; nothing was installed" if report.installer is None else ""),
            markup=False,
        )
    raise typer.Exit(VerificationError.exit_code)


WheelhouseOption = Annotated[
    Path | None, typer.Option("--wheelhouse", help="Read files from this folder; no network.")
]
PythonOption = Annotated[
    str | None, typer.Option("--python", help="Target interpreter (default: this one).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON report on stdout.")]
ExtraOption = Annotated[
    list[str] | None,
    typer.Option("--extra", help="Also the packages this extra of the application needs."),
]
GroupOption = Annotated[
    list[str] | None,
    typer.Option("--group", help="Also this dependency group (default: the lock's defaults)."),
]
LockSignerOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--lock-signer",
        help="Refuse a lock not signed by this certificate (repeat for m signers; "
        "env LOCKKEYS_LOCK_SIGNERS).",
    ),
]
LockThresholdOption = Annotated[
    int | None,
    typer.Option(
        "--lock-threshold",
        help="How many lock signers must have signed the lock (env LOCKKEYS_LOCK_THRESHOLD).",
    ),
]


def warn_expiring(path: Path) -> None:
    """Warn (stderr) about pinned certificates that expire soon; never refuses by itself."""
    from lockkeys.lockfile.io import read_lock
    from lockkeys.lockfile.signers import lock_keyring
    from lockkeys.trust.expiry import expiry_warnings, warning_days

    lock = read_lock(path)
    if not lock.tool.signers:
        return
    for line in expiry_warnings(lock_keyring(lock, str(path)), warning_days()):
        err.print(f"lockkeys: warning: {line}", markup=False)


def check_lock_signature(path: Path, signers: list[Path] | None, threshold: int | None) -> None:
    """Before anything is read from the lock: its own signatures, when lock signers are set."""
    from lockkeys.trust.locksig import lock_signature_policy, require_signed_lock

    policy = lock_signature_policy(signers or (), threshold)
    if policy is None:
        return
    result = require_signed_lock(path, policy)
    if not STATE.quiet:
        err.print(f"lockkeys: lock signed: {result.summary()}", markup=False)


def _run(
    as_json: bool,
    action: Callable[..., Report],
    *args: object,
    lock_signers: list[Path] | None = None,
    lock_threshold: int | None = None,
    **kwargs: object,
) -> Report:
    """Run one pipeline action on the lock with progress, render it, exit 1 on a refusal."""
    with json_errors(as_json):
        path = lock_path()
        check_lock_signature(path, lock_signers, lock_threshold)
        warn_expiring(path)
        with progress_bar(_count(path), not as_json and not STATE.quiet) as progress:
            report = action(path, *args, progress=progress, **kwargs)
    render(report, as_json)
    fail_if_refused(report, as_json)
    return report


def verify(
    wheelhouse: WheelhouseOption = None,
    python: PythonOption = None,
    as_json: JsonOption = False,
    timeout: TimeoutOption = 30.0,
    lock_signer: LockSignerOption = None,
    lock_threshold: LockThresholdOption = None,
    extra: ExtraOption = None,
    group: GroupOption = None,
) -> None:
    """Fetch (or read from DIR) and verify every locked package; install nothing."""
    from lockkeys.install import pipeline

    _run(
        as_json,
        pipeline.verify,
        wheelhouse=wheelhouse,
        python=python,
        timeout=timeout,
        lock_signers=lock_signer,
        lock_threshold=lock_threshold,
        extras=extra or (),
        groups=group,
    )


def download(
    dest: Annotated[Path, typer.Option("--dest", help="Folder to keep the verified files in.")],
    python: PythonOption = None,
    as_json: JsonOption = False,
    timeout: TimeoutOption = 30.0,
    lock_signer: LockSignerOption = None,
    lock_threshold: LockThresholdOption = None,
    extra: ExtraOption = None,
    group: GroupOption = None,
) -> None:
    """Fetch and verify every file this environment needs; keep only verified files."""
    from lockkeys.install import pipeline

    _run(
        as_json,
        pipeline.download,
        dest,
        python=python,
        timeout=timeout,
        lock_signers=lock_signer,
        lock_threshold=lock_threshold,
        extras=extra or (),
        groups=group,
    )


def install(
    python: PythonOption = None,
    installer: Annotated[str, typer.Option("--installer", help="pip (default) or uv.")] = "pip",
    wheelhouse: WheelhouseOption = None,
    as_json: JsonOption = False,
    timeout: TimeoutOption = 30.0,
    lock_signer: LockSignerOption = None,
    lock_threshold: LockThresholdOption = None,
    extra: ExtraOption = None,
    group: GroupOption = None,
) -> None:
    """Verify everything, then install exactly the locked set into the target environment."""
    from lockkeys.install import pipeline

    report = _run(
        as_json,
        pipeline.install,
        python=python,
        installer=installer,
        wheelhouse=wheelhouse,
        timeout=timeout,
        lock_signers=lock_signer,
        lock_threshold=lock_threshold,
        extras=extra or (),
        groups=group,
    )
    if not as_json and not STATE.quiet:
        installed = sum(1 for p in report.packages if p.local_path is not None)
        err.print(
            f"lockkeys: installed {installed} verified package(s) into {report.python} "
            f"with {report.installer}",
            markup=False,
        )
