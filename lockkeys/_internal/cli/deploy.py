"""`lockkeys verify`, `download`, `install`, `sync` and `verify --installed`: the deploy gate."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lockkeys import api
from lockkeys._internal.cli.deployreport import fail_if_refused, json_errors, progress_bar, render
from lockkeys._internal.cli.state import STATE, err

if TYPE_CHECKING:
    from lockkeys.api import DeployLock, Report

# Only lockkeys.api is called here; it imports the installer and the lock model inside its
# functions, and rich's progress is imported when a bar is shown, so `lockkeys
# verify-signature` and `lockkeys --version` start fast.


def lock_path() -> Path:
    """The lock of this run: --lock, else the configuration's (or the current folder's)."""
    if STATE.lock is not None:
        return STATE.lock
    return api.find_lockfile(STATE.config)


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
    """The interpreter to deploy into (see :func:`lockkeys.api.choose_python`)."""
    return api.choose_python(python, project_dir=project_dir(), required=required)


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
    for line in api.expiry_warnings(opened):
        err.print(f"lockkeys: warning: {line}", markup=False)


def _say_signed(opened: DeployLock) -> None:
    if opened.signature is not None and not STATE.quiet:
        err.print(f"lockkeys: lock signed: {opened.signature.summary()}", markup=False)


def open_deploy_lock(path: Path, signers: list[Path] | None, threshold: int | None) -> DeployLock:
    """The lock, read once by the library, which checks its own signatures first when lock
    signers are set (options, else the environment); the run uses exactly those bytes."""
    opened = api.open_lock(path, lock_signers=signers or (), lock_threshold=threshold)
    _say_signed(opened)
    return opened


def _cache(cache_dir: Path | None, no_cache: bool) -> Path | bool | None:
    if no_cache:
        return None
    return cache_dir if cache_dir is not None else True


@dataclass(frozen=True)
class DeployOptions:
    """The options every deploy command takes (:data:`_SHARED`), collected in one object."""

    python: str | None
    as_json: bool
    timeout: float
    cache_dir: Path | None
    no_cache: bool
    lock_signer: list[Path] | None
    lock_threshold: int | None
    extra: list[str] | None
    group: list[str] | None


# The options of DeployOptions, declared once: (annotation, default) by parameter name.
_SHARED: dict[str, tuple[object, object]] = {
    "python": (PythonOption, None),
    "as_json": (JsonOption, False),
    "timeout": (TimeoutOption, 30.0),
    "cache_dir": (CacheDirOption, None),
    "no_cache": (NoCacheOption, False),
    "lock_signer": (LockSignerOption, None),
    "lock_threshold": (LockThresholdOption, None),
    "extra": (ExtraOption, None),
    "group": (GroupOption, None),
}


def _with_deploy_options(
    *order: str,
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Make ``func(options, **own)`` a command taking the shared options and its own, with
    the options listed (in --help) in ``order``; the shared ones arrive as one DeployOptions."""

    def wrap(func: Callable[..., None]) -> Callable[..., None]:
        own = inspect.signature(func, eval_str=True).parameters
        params = []
        for name in order:
            annotation, default = (
                _SHARED[name]
                if name in _SHARED
                else (
                    own[name].annotation,
                    own[name].default,
                )
            )
            params.append(
                inspect.Parameter(
                    name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
                )
            )

        def command(**kwargs: object) -> None:
            options = DeployOptions(**{name: kwargs.pop(name) for name in _SHARED})  # type: ignore[arg-type]
            func(options, **kwargs)

        command.__name__ = command.__qualname__ = func.__name__
        command.__doc__ = func.__doc__
        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command

    return wrap


def _run(
    options: DeployOptions,
    action: Callable[..., Report],
    *args: object,
    python_required: bool,
    wheelhouse: Path | None = None,
    installer: str | None = None,
    **kwargs: object,
) -> Report:
    """Open the lock once into a request, run one library action on it with progress, render
    the report, exit 1 on a refusal."""
    with json_errors(options.as_json):
        target = target_python(options.python, required=python_required)
        request = api.open_request(
            lock_path(),
            lock_signers=options.lock_signer or (),
            lock_threshold=options.lock_threshold,
            python=target,
            wheelhouse=wheelhouse,
            extras=options.extra or (),
            groups=options.group,
            cache_dir=_cache(options.cache_dir, options.no_cache),
            timeout=options.timeout,
            installer=installer,
        )
        _say_signed(request.lock)
        warn_expiring(request.lock)
        try:
            with progress_bar(len(request.lock.lock.packages), not STATE.quiet) as progress:
                report = action(replace(request, progress=progress), *args, **kwargs)
        except KeyboardInterrupt as exc:
            code = getattr(exc, "exit_code", None)  # SIGTERM (143) or SIGINT (130)
            if not isinstance(code, int):
                raise
            err.print(f"lockkeys: interrupted ({exc})", markup=False)
            raise typer.Exit(code) from None
    render(report, options.as_json)
    fail_if_refused(report, options.as_json)
    return report


InstalledOption = Annotated[
    bool,
    typer.Option(
        "--installed",
        help="Audit the target environment against the lock: missing, extra and "
        "other-version distributions, files that differ from the locked wheel's RECORD.",
    ),
]
DestOption = Annotated[
    Path,
    typer.Option(
        "--dest",
        metavar="DIR",
        help="Folder to keep the verified files in.",
        callback=_folder_or_absent,
    ),
]
_TAIL = ("cache_dir", "no_cache", "lock_signer", "lock_threshold", "extra", "group")


@_with_deploy_options("wheelhouse", "python", "as_json", "timeout", "installed", *_TAIL)
def verify(
    options: DeployOptions, wheelhouse: WheelhouseOption = None, installed: InstalledOption = False
) -> None:
    """Fetch (or read from DIR) and verify every locked package; install nothing."""
    action = api.audit if installed else api.verify
    report = _run(options, action, python_required=installed, wheelhouse=wheelhouse)
    if report.findings:
        if not options.as_json:
            err.print(
                f"lockkeys: {len(report.findings)} difference(s) between {report.python} and "
                "the lock; `lockkeys sync` makes the environment exactly the lock",
                markup=False,
            )
        raise typer.Exit(1)


@_with_deploy_options("dest", "python", "as_json", "timeout", *_TAIL)
def download(options: DeployOptions, dest: DestOption) -> None:
    """Fetch and verify every file this environment needs; keep only verified files."""
    _run(options, api.download, dest, python_required=False)


def _deploy(
    options: DeployOptions, *, sync: bool, installer: str, wheelhouse: Path | None, dry_run: bool
) -> None:
    report = _run(
        options,
        api.sync if sync else api.install,
        python_required=True,
        installer=installer,
        wheelhouse=wheelhouse,
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
        options: DeployOptions,
        installer: InstallerOption = "builtin",
        wheelhouse: WheelhouseOption = None,
        dry_run: DryRunOption = False,
    ) -> None:
        _deploy(options, sync=sync, installer=installer, wheelhouse=wheelhouse, dry_run=dry_run)

    command.__name__ = command.__qualname__ = name
    command.__doc__ = doc
    order = ("python", "installer", "wheelhouse", "as_json", "timeout", "dry_run", *_TAIL)
    return _with_deploy_options(*order)(command)


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
