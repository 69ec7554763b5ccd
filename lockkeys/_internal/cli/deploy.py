"""`lockkeys verify`, `download`, `install`, `sync` and `verify --installed`: the deploy gate."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lockkeys._internal.cli.state import STATE, err, note, out
from lockkeys._internal.lockmodel.locate import find_lockfile
from lockkeys.errors import LockkeysError, VerificationError, escape

if TYPE_CHECKING:
    from lockkeys._internal.install.report import Report
    from lockkeys._internal.locktrust.locksignature import DeployLock

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


def lock_path() -> Path:
    if STATE.lock is not None:
        return STATE.lock
    return find_lockfile(STATE.config)


def project_dir() -> Path:
    """Where the configuration is (for `.venv` beside it): --config, else a lockkeys.toml or
    pyproject.toml in the current folder, else the lock's folder."""
    if STATE.config is not None:
        return STATE.config.resolve().parent
    cwd = Path.cwd()
    if (cwd / "lockkeys.toml").is_file() or (cwd / "pyproject.toml").is_file():
        return cwd
    return lock_path().resolve().parent


def target_python(python: str | None, *, required: bool) -> str | None:
    from lockkeys._internal.install.target import choose_python

    return choose_python(python, project_dir=project_dir(), required=required)


def _log_lines(package: str, stage: str) -> None:
    """Progress for logs (stderr is not a terminal): one line per package as it finishes."""
    if stage == "done":
        err.print(f"lockkeys: {escape(package)}", markup=False)
    elif stage == "install":
        err.print("lockkeys: installing", markup=False)


@contextmanager
def progress_bar(total: int, enabled: bool) -> Iterator[Callable[[str, str], None]]:
    if not enabled:
        yield lambda _pkg, _stage: None
        return
    if not err.is_terminal:
        yield _log_lines
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


def _plain_table(headers: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    """Aligned columns that never wrap, for logs and files (stdout is not a terminal)."""
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [headers, *rows]
    ]
    return "\n".join(lines)


def render_table(report: Report) -> None:
    headers = ("package", "version", "policy", "status", "detail")
    rows = [
        (escape(p.name), escape(p.version), p.policy, str(p.status), escape(p.summary()))
        for p in report.packages
    ]
    if not out.is_terminal:
        if rows:
            print(_plain_table(headers, rows))
        return
    from rich.markup import escape as markup_escape
    from rich.table import Table

    table = Table(title=None, show_header=True, header_style="bold", box=None)
    for column in headers:
        table.add_column(column, no_wrap=column != "detail", overflow="fold")
    for row, pkg in zip(rows, report.packages, strict=True):
        table.add_row(
            *(markup_escape(cell) for cell in row[:3]),
            f"[{_STYLE[str(pkg.status)]}]{pkg.status}[/]",
            markup_escape(row[4]),
        )
    out.print(table)


def _no_op(report: Report) -> bool:
    """An install or sync whose every package verified and whose plan changes nothing."""
    return (
        report.ok
        and bool(report.plan)
        and not report.audited
        and not any(s.changes for s in report.plan)
    )


def render_plan(report: Report, *, steps: bool = True) -> None:
    """The plan's counts, then (``steps``) one line per step."""
    if not report.plan:
        return
    counts: dict[str, int] = {}
    for step in report.plan:
        counts[str(step.action)] = counts.get(str(step.action), 0) + 1
    summary = ", ".join(f"{n} {a}" for a, n in sorted(counts.items()))
    title = "plan (dry run, nothing was changed)" if report.dry_run else "plan"
    if not steps:
        verified = sum(1 for p in report.packages if p.local_path is not None)
        print(f"{title}: {summary}; all {verified} locked package(s) verified; nothing to change")
        return
    lines = [f"{title}: {summary}"]
    lines += [f"  {s.action!s:<9}  {escape(s.describe())}" for s in report.plan]
    print("\n".join(lines))


def render_findings(report: Report) -> None:
    for finding in report.findings:
        print(f"drift: {escape(finding.line())}")
    if report.audited and not report.findings:
        locked = sum(1 for p in report.packages if p.local_path is not None)
        print(f"ok: {escape(report.python)} holds exactly the lock ({locked} packages)")


def render(report: Report, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.to_json(), indent=2, sort_keys=True))
    elif _no_op(report) and STATE.verbose == 0:
        # Nothing to change: one line, not a row per package twice (-v shows them).
        render_plan(report, steps=False)
    else:
        if not report.audited or not report.ok:
            render_table(report)
        render_plan(report)
        render_findings(report)
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


MAX_TIMEOUT = 24 * 3600.0


def _timeout_in_range(value: float) -> float:
    """A finite, positive number of seconds: nan/inf would switch every deadline off."""
    if not math.isfinite(value) or not 0 < value <= MAX_TIMEOUT:
        raise typer.BadParameter(
            f"{value} is not a number of seconds in (0, {MAX_TIMEOUT:.0f}]; "
            "nan, inf, zero and negative values are refused"
        )
    return value


def _folder_or_absent(value: Path | None) -> Path | None:
    if value is not None and value.exists() and not value.is_dir():
        raise typer.BadParameter(f"{value} exists and is not a folder")
    return value


def _existing_folder(value: Path | None) -> Path | None:
    if value is not None and not value.is_dir():
        raise typer.BadParameter(f"{value} is not a folder")
    return value


TimeoutOption = Annotated[
    float,
    typer.Option(
        "--timeout",
        metavar="SECONDS",
        help="Seconds to wait for each network read (default 30).",
        callback=_timeout_in_range,
    ),
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
    Path | None,
    typer.Option(
        "--wheelhouse",
        metavar="DIR",
        help="Read files from this folder; no network.",
        callback=_existing_folder,
    ),
]
PythonOption = Annotated[
    str | None,
    typer.Option(
        "--python",
        metavar="PATH",
        help="Target interpreter (default: the active virtual environment, else .venv beside "
        "the configuration).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON report on stdout.")]
ExtraOption = Annotated[
    list[str] | None,
    typer.Option(
        "--extra", metavar="NAME", help="Also the packages this extra of the application needs."
    ),
]
GroupOption = Annotated[
    list[str] | None,
    typer.Option(
        "--group", metavar="NAME", help="Also this dependency group (default: the lock's defaults)."
    ),
]
InstallerOption = Annotated[
    str,
    typer.Option(
        "--installer",
        metavar="NAME",
        help="builtin (default: in process), pip or uv; all hash-checked.",
    ),
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Verify and print the plan; change nothing.")
]
CacheDirOption = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir",
        metavar="DIR",
        help="Verified-file cache (default: LOCKKEYS_CACHE_DIR, else ~/.cache/lockkeys).",
    ),
]
NoCacheOption = Annotated[
    bool, typer.Option("--no-cache", help="Neither read nor fill the verified-file cache.")
]


LockSignerOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--lock-signer",
        metavar="CERT",
        help="Refuse a lock not signed by this certificate (repeat for m signers; "
        "env LOCKKEYS_LOCK_SIGNERS).",
    ),
]
LockThresholdOption = Annotated[
    int | None,
    typer.Option(
        "--lock-threshold",
        metavar="N",
        help="How many lock signers must have signed the lock (env LOCKKEYS_LOCK_THRESHOLD).",
    ),
]


def warn_expiring(opened: DeployLock) -> None:
    """Warn (stderr) about pinned certificates that expire soon; never refuses by itself."""
    from lockkeys._internal.locktrust.keyring import lock_keyring
    from lockkeys._internal.trust.expiry import expiry_warnings, warning_days

    if not opened.lock.tool.signers:
        return
    for line in expiry_warnings(lock_keyring(opened.lock, str(opened.path)), warning_days()):
        err.print(f"lockkeys: warning: {line}", markup=False)


def open_deploy_lock(path: Path, signers: list[Path] | None, threshold: int | None) -> DeployLock:
    """The lock, read once by the library, which checks its own signatures first when lock
    signers are set (options, else the environment); the run uses exactly those bytes."""
    from lockkeys._internal.locktrust.locksignature import lock_signature_policy, open_lock

    opened = open_lock(path, lock_signature_policy(signers or (), threshold))
    if opened.signature is not None and not STATE.quiet:
        err.print(f"lockkeys: lock signed: {opened.signature.summary()}", markup=False)
    return opened


def _cache(cache_dir: Path | None, no_cache: bool) -> Path | bool | None:
    if no_cache:
        return None
    return cache_dir if cache_dir is not None else True


@dataclass(frozen=True)
class DeployOptions:
    """The options every deploy command takes, passed on to the pipeline as they are."""

    python: str | None
    as_json: bool
    timeout: float
    cache_dir: Path | None
    no_cache: bool
    lock_signer: list[Path] | None
    lock_threshold: int | None
    extra: list[str] | None
    group: list[str] | None


def _run(
    options: DeployOptions,
    action: Callable[..., Report],
    *args: object,
    python_required: bool,
    **kwargs: object,
) -> Report:
    """Run one pipeline action on the lock with progress, render it, exit 1 on a refusal."""
    with json_errors(options.as_json):
        target = target_python(options.python, required=python_required)
        opened = open_deploy_lock(lock_path(), options.lock_signer, options.lock_threshold)
        warn_expiring(opened)
        try:
            with progress_bar(len(opened.lock.packages), not STATE.quiet) as progress:
                report = action(
                    opened,
                    *args,
                    progress=progress,
                    python=target,
                    timeout=options.timeout,
                    cache_dir=_cache(options.cache_dir, options.no_cache),
                    extras=options.extra or (),
                    groups=options.group,
                    **kwargs,
                )
        except KeyboardInterrupt as exc:
            code = getattr(exc, "exit_code", None)  # SIGTERM (143) or SIGINT (130)
            if not isinstance(code, int):
                raise
            err.print(f"lockkeys: interrupted ({exc})", markup=False)
            raise typer.Exit(code) from None
    render(report, options.as_json)
    fail_if_refused(report, options.as_json)
    return report


def verify(
    wheelhouse: WheelhouseOption = None,
    python: PythonOption = None,
    as_json: JsonOption = False,
    timeout: TimeoutOption = 30.0,
    installed: Annotated[
        bool,
        typer.Option(
            "--installed",
            help="Audit the target environment against the lock: missing, extra and "
            "other-version distributions, files that differ from the locked wheel's RECORD.",
        ),
    ] = False,
    cache_dir: CacheDirOption = None,
    no_cache: NoCacheOption = False,
    lock_signer: LockSignerOption = None,
    lock_threshold: LockThresholdOption = None,
    extra: ExtraOption = None,
    group: GroupOption = None,
) -> None:
    """Fetch (or read from DIR) and verify every locked package; install nothing."""
    from lockkeys._internal.install import pipeline

    options = DeployOptions(
        python, as_json, timeout, cache_dir, no_cache, lock_signer, lock_threshold, extra, group
    )
    action = pipeline.audit if installed else pipeline.verify
    report = _run(options, action, python_required=installed, wheelhouse=wheelhouse)
    if report.findings:
        if not as_json:
            err.print(
                f"lockkeys: {len(report.findings)} difference(s) between {report.python} and "
                "the lock; `lockkeys sync` makes the environment exactly the lock",
                markup=False,
            )
        raise typer.Exit(1)


def download(
    dest: Annotated[
        Path,
        typer.Option(
            "--dest",
            metavar="DIR",
            help="Folder to keep the verified files in.",
            callback=_folder_or_absent,
        ),
    ],
    python: PythonOption = None,
    as_json: JsonOption = False,
    timeout: TimeoutOption = 30.0,
    cache_dir: CacheDirOption = None,
    no_cache: NoCacheOption = False,
    lock_signer: LockSignerOption = None,
    lock_threshold: LockThresholdOption = None,
    extra: ExtraOption = None,
    group: GroupOption = None,
) -> None:
    """Fetch and verify every file this environment needs; keep only verified files."""
    from lockkeys._internal.install import pipeline

    options = DeployOptions(
        python, as_json, timeout, cache_dir, no_cache, lock_signer, lock_threshold, extra, group
    )
    _run(options, pipeline.download, dest, python_required=False)


def _deploy(
    options: DeployOptions, *, sync: bool, installer: str, wheelhouse: Path | None, dry_run: bool
) -> None:
    from lockkeys._internal.install import pipeline

    report = _run(
        options,
        pipeline.install,
        python_required=True,
        installer=installer,
        wheelhouse=wheelhouse,
        sync=sync,
        dry_run=dry_run,
    )
    if options.as_json or STATE.quiet or dry_run:
        return
    counts: dict[str, int] = {}
    for step in report.plan:
        counts[str(step.action)] = counts.get(str(step.action), 0) + 1
    changed = sum(1 for s in report.plan if s.changes)
    done = ", ".join(f"{n} {a}" for a, n in sorted(counts.items())) or "nothing to do"
    verb = "synced" if sync else "installed"
    err.print(
        f"lockkeys: {verb} {report.python} with {report.installer}: {done}"
        + ("" if changed else " (nothing changed)"),
        markup=False,
    )


def _deploy_command(name: str, *, sync: bool, doc: str) -> Callable[..., None]:
    """`install` and `sync`: the same options; sync also removes what the lock does not hold."""

    def command(
        python: PythonOption = None,
        installer: InstallerOption = "builtin",
        wheelhouse: WheelhouseOption = None,
        as_json: JsonOption = False,
        timeout: TimeoutOption = 30.0,
        dry_run: DryRunOption = False,
        cache_dir: CacheDirOption = None,
        no_cache: NoCacheOption = False,
        lock_signer: LockSignerOption = None,
        lock_threshold: LockThresholdOption = None,
        extra: ExtraOption = None,
        group: GroupOption = None,
    ) -> None:
        options = DeployOptions(
            python, as_json, timeout, cache_dir, no_cache, lock_signer, lock_threshold, extra, group
        )
        _deploy(options, sync=sync, installer=installer, wheelhouse=wheelhouse, dry_run=dry_run)

    command.__name__ = command.__qualname__ = name
    command.__doc__ = doc
    return command


install = _deploy_command(
    "install",
    sync=False,
    doc="Verify everything, then install or upgrade what is missing, other or altered.",
)
sync = _deploy_command(
    "sync",
    sync=True,
    doc="Make the target environment exactly the lock: like install, and remove the rest.",
)
