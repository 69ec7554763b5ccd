"""verify, download and install: the deploy gate, as a library.

The lock is read once: when lock signers are required (a ``lock_signature`` policy, else
``LOCKKEYS_LOCK_SIGNERS`` / ``LOCKKEYS_LOCK_THRESHOLD`` in the environment), its signatures
are checked over those bytes, and only those bytes are parsed and used
(:func:`lockkeys._internal.locktrust.locksignature.open_lock`); a refused lock raises
VerificationError before anything is fetched (threat-model row 20).

Every package is verified into a private temporary folder before anything is installed; if
any package is refused nothing reaches the target environment (all or nothing, threat-model
row 19). Then the installer runs on exactly those files with the hashes computed here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from lockkeys._internal.fsutil import atomic_write, hold_folder_lock
from lockkeys._internal.install.acquire import (
    DEFAULT_TIMEOUT,
    candidates,
    choose_file,
    fetch_file,
    gather_signatures,
    size_cap,
)
from lockkeys._internal.install.applicable import (
    check_target,
    check_unambiguous,
    for_target,
    package_applies,
    skip_reason,
)
from lockkeys._internal.install.cache import FileCache, default_cache_dir
from lockkeys._internal.install.environment import TargetEnvironment, probe
from lockkeys._internal.install.installed import differences, recorded_files, wheel_layout
from lockkeys._internal.install.installer import (
    DEFAULT_INSTALLER,
    Artifact,
    check_installer,
    install_artifacts,
    owned_paths,
    remove_dist,
    staying,
)
from lockkeys._internal.install.plan import Action, Step, make_plan, replaced
from lockkeys._internal.install.report import Finding, PackageReport, Report, Status
from lockkeys._internal.install.strays import clear
from lockkeys._internal.install.transaction import Transaction, abandoned, recover, signals_raise
from lockkeys._internal.install.verify import refused, verify_artifact
from lockkeys._internal.lockmodel.lock import Lock
from lockkeys._internal.lockmodel.selection import chosen
from lockkeys._internal.locktrust.keyring import lock_keyring, package_keyring
from lockkeys._internal.locktrust.locksignature import DeployLock, LockSignaturePolicy, open_lock
from lockkeys._internal.locktrust.revocations import deploy_revocations
from lockkeys._internal.sources.fetch import TooLargeError
from lockkeys._internal.sources.session import sources_session
from lockkeys._internal.trust.certs import Keyring
from lockkeys._internal.trust.signatures import DetachedSignature, armor_signatures
from lockkeys.errors import InputError, SourceError, UsageError, VerificationError

log = logging.getLogger("lockkeys.install")

Progress = Callable[[str, str], None]  # (package, stage)

WORKDIR_PREFIX = "lockkeys-verified-"


@dataclass(frozen=True)
class Verified:
    report: Report
    workdir: Path
    signatures: dict[str, list[bytes]]  # file name -> signature packets gathered


def _noop(_package: str, _stage: str) -> None:
    return None


def _verify_into(
    lock: Lock,
    lock_path: Path,
    env: TargetEnvironment,
    workdir: Path,
    *,
    wheelhouse: Path | None,
    progress: Progress,
    now: datetime | None,
    timeout: float = DEFAULT_TIMEOUT,
    extras: frozenset[str] = frozenset(),
    groups: frozenset[str] = frozenset(),
    cache: FileCache | None = None,
) -> Verified:
    cache = cache or FileCache(None)
    keyring = lock_keyring(lock, str(lock_path)) if lock.tool.signers else Keyring([])
    revoked = deploy_revocations(lock, lock_path, keyring, wheelhouse is not None, timeout)
    keyring = revoked.keyring
    sources = {s.name: s for s in lock.tool.sources}
    locked = {p.name for p in lock.packages}
    lock_dir = lock_path.resolve().parent
    reports: list[PackageReport] = []
    gathered: dict[str, list[bytes]] = {}
    for package in lock.packages:
        try:
            applies = package_applies(package.marker, env, extras, groups)
        except ValueError as exc:
            raise InputError(
                f"the lock's marker for {package.name} cannot be evaluated: {exc}",
                package=package.name,
                file=str(lock_path),
            ) from None
        if not applies:
            reports.append(
                PackageReport(
                    name=package.name,
                    version=package.version,
                    policy=package.tool.verify,
                    status=Status.SKIPPED,
                    source=package.tool.source,
                    reason=skip_reason(package.marker),
                    details=(package.marker,) if package.marker else (),
                )
            )
            continue
        try:
            file = choose_file(package, env)
        except VerificationError as exc:
            reports.append(
                refused(
                    package, None, exc.message, details=[d for d in (exc.found,) if d], fix=exc.fix
                )
            )
            continue
        progress(package.name, "fetch")
        cap = size_cap(package, file)
        pkg_keyring = package_keyring(keyring, package)
        attempts: list[str] = []
        report: PackageReport | None = None
        places = list(
            candidates(
                package,
                file,
                sources=sources,
                lock_dir=lock_dir,
                wheelhouse=wheelhouse,
                stores=lock.tool.signature_stores,
            )
        )
        # Only the locked bytes can pass a hashes policy, so the cache (keyed by sha256) is
        # used for those; a signatures-only package is read from its source every time,
        # which may publish a signed rebuild.
        cached_sha = (
            file.hashes.get("sha256")
            if package.tool.verify
            in (
                "hashes",
                "hashes+signatures",
            )
            else None
        )
        for index, place in enumerate(places):
            local = workdir / file.filename
            with contextlib.suppress(FileNotFoundError):
                local.unlink()
            hit = (
                index == 0
                and cached_sha is not None
                and cache.fetch(cached_sha, local, max_size=cap)
            )
            try:
                if not hit:
                    fetch_file(place, local, cap, package.name, timeout)
            except TooLargeError as exc:
                # Bytes that differ from the lock, in size here: a refusal, not an outage.
                report = refused(
                    package,
                    file,
                    f"{file.filename} is larger than the lock allows ({exc.message})",
                    details=[f"expected {exc.expected}", f"found    {exc.found}"],
                    fix="the source serves something else than the locked file; if the new "
                    "bytes are expected, re-lock with `lockkeys lock --upgrade-package "
                    f"{package.name}`",
                )
                attempts.append(f"{place.label}: {exc.message}")
                continue
            except SourceError as exc:
                if index + 1 < len(places):
                    attempts.append(f"{place.label}: {exc.message}")
                    log.info(
                        "%s: %s failed (%s), trying the next mirror",
                        package.name,
                        place.label,
                        exc.message,
                    )
                    continue
                if report is not None:
                    # An earlier mirror served bytes that failed verification: that is the
                    # outcome (a refusal), not this mirror being unreachable.
                    attempts.append(f"{place.label}: {exc.message}")
                    break
                if attempts:
                    exc.details = [*attempts, *exc.details]
                raise
            sigs: list[DetachedSignature] = []
            notes: list[str] = []
            raw: list[bytes] = []
            unreachable: list[tuple[str, str]] = []
            if package.tool.verify in ("signatures", "hashes+signatures"):
                sigs, notes, raw, unreachable = gather_signatures(place, timeout)
            progress(package.name, "verify")
            report = verify_artifact(
                package,
                file,
                local,
                sigs,
                pkg_keyring,
                env,
                locked,
                notes=notes,
                unreachable=unreachable,
                now=now,
            )
            if report.ok:
                gathered[file.filename] = raw
                if cached_sha is not None and not hit and report.sha256 == cached_sha:
                    cache.store(cached_sha, local, origin=place.label)
                if hit and cached_sha is not None:
                    # Say so: a tampered source is not read while the cache holds the bytes.
                    report = replace(report, from_cache=True, cache_origin=cache.origin(cached_sha))
                break
            attempts.append(f"{place.label}: {report.reason}")
            with contextlib.suppress(FileNotFoundError):
                local.unlink()
        assert report is not None
        if not report.ok and len(attempts) > 1:
            report = replace(report, details=(*attempts, *report.details))
        reports.append(report)
        # A refusal's reason is in the results and in the error that follows: not a third time.
        done = report.summary() if report.ok else f"{report.status} (the reason follows)"
        progress(f"{package.name} {package.version}: {done}", "done")
    return Verified(
        report=Report(
            lock=str(lock_path),
            python=env.python,
            packages=tuple(reports),
            offline=wheelhouse is not None,
            notes=tuple(revoked.notes),
        ),
        workdir=workdir,
        signatures=gathered,
    )


def _sweep_stale_workdirs(root: Path) -> None:
    """Remove private folders that a killed lockkeys left.

    A folder is abandoned when nobody holds the ``flock`` its run took on it for its whole
    lifetime: correct across pid namespaces (containers sharing ``/tmp``), where a pid says
    nothing. The pid in the name is only information. A folder without a lock file (an older
    lockkeys made it) is removed only when it is over a day old."""
    with contextlib.suppress(OSError):
        for old in root.glob(f"{WORKDIR_PREFIX}*"):
            with contextlib.suppress(OSError):
                if not old.is_dir() or old.is_symlink() or old.lstat().st_uid != os.getuid():
                    continue
                with abandoned(old, legacy=_older_than_a_day) as gone:
                    if gone:
                        shutil.rmtree(old, ignore_errors=True)


def _older_than_a_day(folder: Path) -> bool:
    return time.time() - folder.lstat().st_mtime > 24 * 3600


LockInput = Path | DeployLock


def _open(lock: LockInput, policy: LockSignaturePolicy | None) -> DeployLock:
    """The lock for this run: read once and its signatures required (``policy``, else the
    environment's), or a lock :func:`open_lock` already opened that way."""
    if isinstance(lock, DeployLock):
        if policy is not None:
            raise UsageError(
                "a lock-signature policy was given with a lock that open_lock() already opened",
                file=str(lock.path),
                fix="pass the policy to open_lock(), or pass the lock's path",
            )
        return lock
    return open_lock(Path(lock), policy)


@contextlib.contextmanager
def _private_workdir(root: Path) -> Iterator[Path]:
    """A private folder (mode 0700) in ``root``, locked for as long as the block runs."""
    workdir = Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-", dir=root))
    lock_fd: int | None = None
    try:
        workdir.chmod(0o700)
        lock_fd = hold_folder_lock(workdir)
        yield workdir
    finally:
        shutil.rmtree(workdir, ignore_errors=True)  # while still locked: no sweeper races us
        if lock_fd is not None:
            os.close(lock_fd)


@contextlib.contextmanager
def _verified(
    opened: DeployLock,
    *,
    python: str | None,
    wheelhouse: Path | None,
    progress: Progress | None,
    now: datetime | None,
    timeout: float,
    extras: Sequence[str] = (),
    groups: Sequence[str] | None = None,
    cache_dir: Path | bool | None = True,
) -> Iterator[tuple[Verified, TargetEnvironment]]:
    """Verify every package into a private folder (mode 0700) that lives as long as the block.

    ``cache_dir``: True for the default cache folder, a path, or None/False for no cache.
    """
    lock, lock_path = opened.lock, opened.path
    env = probe(python)
    check_target(lock, env, Path(lock_path))  # before anything is fetched
    chosen_extras, chosen_groups = chosen(lock, extras, groups, str(lock_path))
    check_unambiguous(lock, env, chosen_extras, chosen_groups, Path(lock_path))
    root = Path(tempfile.gettempdir())
    _sweep_stale_workdirs(root)
    cache = FileCache(default_cache_dir()) if cache_dir is True else FileCache(cache_dir or None)
    with _private_workdir(root) as workdir:
        # The lock's sources give their servers' credentials (netrc, the environment
        # variables the lock names, keyring) and trust to every fetch of this run.
        with sources_session(lock.tool.sources):
            verified = _verify_into(
                lock,
                Path(lock_path),
                env,
                workdir,
                wheelhouse=wheelhouse,
                progress=progress or _noop,
                now=now,
                timeout=timeout,
                extras=chosen_extras,
                groups=chosen_groups,
                cache=cache,
            )
        yield verified, env


def verify(
    lock_path: LockInput,
    *,
    wheelhouse: Path | None = None,
    python: str | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    extras: Sequence[str] = (),
    groups: Sequence[str] | None = None,
    cache_dir: Path | bool | None = True,
    lock_signature: LockSignaturePolicy | None = None,
) -> Report:
    """Fetch (or read from a wheelhouse) and verify every package; install nothing.

    For every entry point alike: ``lock_path`` is the lock's path, or a lock
    :func:`~lockkeys._internal.locktrust.locksignature.open_lock` opened; ``lock_signature``
    requires the lock to be signed n of m (None: as ``LOCKKEYS_LOCK_SIGNERS`` /
    ``LOCKKEYS_LOCK_THRESHOLD`` say, which may be no requirement); ``extras`` and ``groups`` choose
    the application's extras and dependency groups (None: the lock's default groups)."""
    with _verified(
        _open(lock_path, lock_signature),
        python=python,
        wheelhouse=wheelhouse,
        progress=progress,
        now=now,
        timeout=timeout,
        extras=extras,
        groups=groups,
        cache_dir=cache_dir,
    ) as (verified, _env):
        return verified.report


def download(
    lock_path: LockInput,
    dest: Path,
    *,
    python: str | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    extras: Sequence[str] = (),
    groups: Sequence[str] | None = None,
    cache_dir: Path | bool | None = True,
    lock_signature: LockSignaturePolicy | None = None,
) -> Report:
    """Verify, then keep only verified files (and their signatures) in ``dest``."""
    opened = _open(lock_path, lock_signature)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with _verified(
        opened,
        python=python,
        wheelhouse=None,
        progress=progress,
        now=now,
        timeout=timeout,
        extras=extras,
        groups=groups,
        cache_dir=cache_dir,
    ) as (verified, _env):
        for pkg in verified.report.packages:
            if pkg.file is None:
                continue
            target = dest / pkg.file
            if pkg.ok and pkg.local_path is not None:
                atomic_write(target, pkg.local_path.read_bytes())
                packets = verified.signatures.get(pkg.file)
                if packets:
                    atomic_write(Path(f"{target}.asc"), armor_signatures(packets).encode())
            else:
                # Never leave an unverified copy behind under a verified name.
                with contextlib.suppress(FileNotFoundError):
                    target.unlink()
        return verified.report


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


def _apply(
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


def _findings(step: Step) -> list[Finding]:
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


def install(
    lock_path: LockInput,
    *,
    python: str | None = None,
    installer: str = DEFAULT_INSTALLER,
    wheelhouse: Path | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    extras: Sequence[str] = (),
    groups: Sequence[str] | None = None,
    sync: bool = False,
    dry_run: bool = False,
    cache_dir: Path | bool | None = True,
    lock_signature: LockSignaturePolicy | None = None,
) -> Report:
    """Verify everything, then make the target hold exactly the verified files.

    Packages already installed at the locked version and intact are kept; the rest are
    installed in one transaction (all or nothing). ``sync`` also removes distributions that
    are not in the lock; ``dry_run`` only reports the plan. Nothing is installed unless every
    package passed verification.
    """
    check_installer(installer)
    opened = _open(lock_path, lock_signature)
    with (
        signals_raise(),
        _verified(
            opened,
            python=python,
            wheelhouse=wheelhouse,
            progress=progress,
            now=now,
            timeout=timeout,
            extras=extras,
            groups=groups,
            cache_dir=cache_dir,
        ) as (verified, env),
    ):
        report = verified.report
        if not report.ok:
            return report
        if not dry_run and recover(Path(env.prefix)):
            env = probe(python)  # an interrupted earlier run was undone: look again
        steps = make_plan(report.packages, env, remove_extras=sync)
        report = replace(report, plan=steps, dry_run=dry_run, installer=installer)
        if dry_run or not any(s.changes for s in steps):
            return replace(report, installed=not dry_run)
        if progress:
            progress("*", "install")
        _apply(steps, report, env, installer, verified.workdir)
        return replace(report, installed=True)


def audit(
    lock_path: LockInput,
    *,
    python: str | None = None,
    wheelhouse: Path | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    extras: Sequence[str] = (),
    groups: Sequence[str] | None = None,
    cache_dir: Path | bool | None = True,
    lock_signature: LockSignaturePolicy | None = None,
) -> Report:
    """`verify --installed`: the target against the lock. Missing, extra and other-version
    distributions, and every installed file whose hash differs from the locked, verified
    wheel's own RECORD. The locked files are verified first (from the cache or the source)."""
    with _verified(
        _open(lock_path, lock_signature),
        python=python,
        wheelhouse=wheelhouse,
        progress=progress,
        now=now,
        timeout=timeout,
        extras=extras,
        groups=groups,
        cache_dir=cache_dir,
    ) as (verified, env):
        report = verified.report
        if not report.ok:
            return report
        steps = make_plan(report.packages, env, remove_extras=True)
        findings = [f for step in steps for f in _findings(step)]
        return replace(report, plan=steps, findings=tuple(findings), audited=True)
