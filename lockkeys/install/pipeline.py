"""verify, download and install: the deploy gate, as a library.

Every package is verified into a private temporary folder before anything is installed; if
any package is refused nothing reaches the target environment (all or nothing, threat-model
row 19). Then the installer runs on exactly those files with the hashes computed here.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from lockkeys.errors import InputError, SourceError, UsageError, VerificationError
from lockkeys.fsutil import atomic_write
from lockkeys.install.acquire import (
    DEFAULT_TIMEOUT,
    candidates,
    choose_file,
    fetch_file,
    gather_signatures,
    size_cap,
)
from lockkeys.install.environment import TargetEnvironment, probe
from lockkeys.install.installer import INSTALLERS, run_installer
from lockkeys.install.markers import check_target, package_applies, skip_reason
from lockkeys.install.report import PackageReport, Report, Status
from lockkeys.install.verify import refused, verify_artifact
from lockkeys.lockfile.io import read_lock
from lockkeys.lockfile.model import Lock
from lockkeys.lockfile.selections import chosen
from lockkeys.lockfile.signers import lock_keyring, package_keyring
from lockkeys.trust.certs import Keyring
from lockkeys.trust.revocations import deploy_revocations
from lockkeys.trust.signatures import DetachedSignature, armor_signatures

log = logging.getLogger("lockkeys.install")

Progress = Callable[[str, str], None]  # (package, stage)


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
) -> Verified:
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
        for index, place in enumerate(places):
            local = workdir / file.filename
            with contextlib.suppress(FileNotFoundError):
                local.unlink()
            try:
                fetch_file(place, local, cap, package.name, timeout)
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
            if package.tool.verify in ("signatures", "hashes+signatures"):
                sigs, notes, raw = gather_signatures(place, timeout)
            progress(package.name, "verify")
            report = verify_artifact(
                package, file, local, sigs, pkg_keyring, env, locked, notes=notes, now=now
            )
            if report.ok:
                gathered[file.filename] = raw
                break
            attempts.append(f"{place.label}: {report.reason}")
            with contextlib.suppress(FileNotFoundError):
                local.unlink()
        assert report is not None
        if not report.ok and len(attempts) > 1:
            report = replace(report, details=(*attempts, *report.details))
        reports.append(report)
        progress(package.name, "done")
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


@contextlib.contextmanager
def _verified(
    lock_path: Path,
    *,
    python: str | None,
    wheelhouse: Path | None,
    progress: Progress | None,
    now: datetime | None,
    timeout: float,
    extras: Sequence[str] = (),
    groups: Sequence[str] | None = None,
) -> Iterator[tuple[Verified, TargetEnvironment]]:
    """Verify every package into a private folder (mode 0700) that lives as long as the block."""
    lock = read_lock(lock_path)
    env = probe(python)
    check_target(lock, env, Path(lock_path))  # before anything is fetched
    chosen_extras, chosen_groups = chosen(lock, extras, groups, str(lock_path))
    workdir = Path(tempfile.mkdtemp(prefix="lockkeys-verified-"))
    try:
        workdir.chmod(0o700)
        yield (
            _verify_into(
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
            ),
            env,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def verify(
    lock_path: Path,
    *,
    wheelhouse: Path | None = None,
    python: str | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    extras: Sequence[str] = (),
    groups: Sequence[str] | None = None,
) -> Report:
    """Fetch (or read from a wheelhouse) and verify every package; install nothing.

    ``extras`` and ``groups`` choose the application's extras and dependency groups (None:
    the lock's default groups), for every entry point alike."""
    with _verified(
        lock_path,
        python=python,
        wheelhouse=wheelhouse,
        progress=progress,
        now=now,
        timeout=timeout,
        extras=extras,
        groups=groups,
    ) as (verified, _env):
        return verified.report


def download(
    lock_path: Path,
    dest: Path,
    *,
    python: str | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    extras: Sequence[str] = (),
    groups: Sequence[str] | None = None,
) -> Report:
    """Verify, then keep only verified files (and their signatures) in ``dest``."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with _verified(
        lock_path,
        python=python,
        wheelhouse=None,
        progress=progress,
        now=now,
        timeout=timeout,
        extras=extras,
        groups=groups,
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


def install(
    lock_path: Path,
    *,
    python: str | None = None,
    installer: str = "pip",
    wheelhouse: Path | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    extras: Sequence[str] = (),
    groups: Sequence[str] | None = None,
) -> Report:
    """Verify everything, then install exactly the verified files; refuse all on any failure."""
    if installer not in INSTALLERS:
        raise UsageError(f"unknown installer {installer!r}", expected=" or ".join(INSTALLERS))
    with _verified(
        lock_path,
        python=python,
        wheelhouse=wheelhouse,
        progress=progress,
        now=now,
        timeout=timeout,
        extras=extras,
        groups=groups,
    ) as (verified, env):
        report = verified.report
        if not report.ok:
            return report
        files = [
            (p.local_path, p.sha256)
            for p in report.packages
            if p.local_path is not None and p.sha256 is not None
        ]
        allow_build = any(
            p.file is not None and not p.file.endswith(".whl") for p in report.packages
        )
        if progress:
            progress("*", "install")
        if files:
            run_installer(
                installer,
                python,
                files,
                verified.workdir,
                allow_build=allow_build,
                before=env.installed,
            )
        return replace(report, installed=True, installer=installer)
