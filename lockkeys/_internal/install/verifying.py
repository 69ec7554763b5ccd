"""Fetch and verify every package of a deploy into a private folder: the part of a deploy run
before anything is installed.

For each package that applies to the target: choose its file, try its places in order (the
verified-file cache first, for hash-pinned bytes), verify what was fetched
(:func:`lockkeys._internal.install.verify.verify_artifact`) and keep the first file that
passes. A refusal is a report; a source that cannot be reached is an error (exit 3).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from lockkeys._internal.install.acquire import (
    Candidate,
    candidates,
    choose_file,
    fetch_file,
    gather_signatures,
    size_cap,
)
from lockkeys._internal.install.applicable import package_applies, skip_reason
from lockkeys._internal.install.cache import FileCache
from lockkeys._internal.install.environment import TargetEnvironment
from lockkeys._internal.install.report import PackageReport, Report, Status
from lockkeys._internal.install.request import DeployRequest, Progress
from lockkeys._internal.install.verify import refused, verify_artifact
from lockkeys._internal.lockmodel.lock import Lock, LockedFile, LockedPackage, LockSource
from lockkeys._internal.locktrust.keyring import lock_keyring, package_keyring
from lockkeys._internal.locktrust.revocations import deploy_revocations
from lockkeys._internal.sources.fetch import TooLargeError
from lockkeys._internal.trust.certs import Keyring
from lockkeys._internal.trust.signatures import DetachedSignature
from lockkeys.errors import InputError, SourceError, VerificationError

log = logging.getLogger("lockkeys.install")


@dataclass(frozen=True)
class Verified:
    """Every package verified (or refused) into ``workdir``, with the signatures gathered."""

    report: Report
    workdir: Path
    signatures: dict[str, list[bytes]]  # file name -> signature packets gathered


@dataclass(frozen=True)
class _Run:
    """What every package of one run is verified with."""

    lock: Lock
    lock_path: Path
    env: TargetEnvironment
    workdir: Path
    keyring: Keyring
    locked: frozenset[str]
    sources: dict[str, LockSource]
    lock_dir: Path
    cache: FileCache
    offline: bool
    timeout: float
    now: datetime | None
    progress: Progress


def _noop(_package: str, _stage: str) -> None:
    return None


def verify_into(
    request: DeployRequest,
    env: TargetEnvironment,
    workdir: Path,
    *,
    extras: frozenset[str],
    groups: frozenset[str],
    cache: FileCache,
) -> Verified:
    """Verify every package of the request's lock that applies to ``env`` into ``workdir``;
    ``extras`` and ``groups`` are the ones chosen (validated against the lock)."""
    lock, lock_path = request.lock.lock, request.lock.path
    keyring = lock_keyring(lock, str(lock_path)) if lock.tool.signers else Keyring([])
    offline = request.wheelhouse is not None
    revoked = deploy_revocations(lock, lock_path, keyring, offline, request.timeout)
    run = _Run(
        lock=lock,
        lock_path=lock_path,
        env=env,
        workdir=workdir,
        keyring=revoked.keyring,
        locked=frozenset(p.name for p in lock.packages),
        sources={s.name: s for s in lock.tool.sources},
        lock_dir=lock_path.resolve().parent,
        cache=cache,
        offline=offline,
        timeout=request.timeout,
        now=request.now,
        progress=request.progress or _noop,
    )
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
            reports.append(_skipped(package))
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
        run.progress(package.name, "fetch")
        report = _verify_package(run, package, file, request.wheelhouse, gathered)
        reports.append(report)
        # A refusal's reason is in the results and in the error that follows: not a third time.
        done = report.summary() if report.ok else f"{report.status} (the reason follows)"
        run.progress(f"{package.name} {package.version}: {done}", "done")
    return Verified(
        report=Report(
            lock=str(lock_path),
            python=env.python,
            packages=tuple(reports),
            offline=offline,
            notes=tuple(revoked.notes),
        ),
        workdir=workdir,
        signatures=gathered,
    )


def _skipped(package: LockedPackage) -> PackageReport:
    """The report of a package whose marker leaves it out of this target."""
    return PackageReport(
        name=package.name,
        version=package.version,
        policy=package.tool.verify,
        status=Status.SKIPPED,
        source=package.tool.source,
        reason=skip_reason(package.marker),
        details=(package.marker,) if package.marker else (),
    )


def _verify_package(
    run: _Run,
    package: LockedPackage,
    file: LockedFile,
    wheelhouse: Path | None,
    gathered: dict[str, list[bytes]],
) -> PackageReport:
    """Try the file's places in order until one serves bytes that verify; the report of the
    first that did, else of the last refusal (with every attempt in its details)."""
    cap = size_cap(package, file)
    places = list(
        candidates(
            package,
            file,
            sources=run.sources,
            lock_dir=run.lock_dir,
            wheelhouse=wheelhouse,
            stores=run.lock.tool.signature_stores,
        )
    )
    # Only the locked bytes can pass a hashes policy, so the cache (keyed by sha256) is used
    # for those; a signatures-only package is read from its source every time, which may
    # publish a signed rebuild.
    cached_sha = (
        file.hashes.get("sha256")
        if package.tool.verify in ("hashes", "hashes+signatures")
        else None
    )
    attempts: list[str] = []
    report: PackageReport | None = None
    for index, place in enumerate(places):
        local = run.workdir / file.filename
        with contextlib.suppress(FileNotFoundError):
            local.unlink()
        hit = (
            index == 0
            and cached_sha is not None
            and run.cache.fetch(cached_sha, local, max_size=cap)
        )
        try:
            if not hit:
                fetch_file(place, local, cap, package.name, run.timeout)
        except TooLargeError as exc:
            # Bytes that differ from the lock, in size here: a refusal, not an outage.
            report = _too_large(package, file, exc)
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
        report, raw = _check(run, package, file, place, local)
        if report.ok:
            gathered[file.filename] = raw
            return _remember(run.cache, report, cached_sha, hit, local, place)
        attempts.append(f"{place.label}: {report.reason}")
        with contextlib.suppress(FileNotFoundError):
            local.unlink()
    assert report is not None
    if not report.ok and len(attempts) > 1:
        report = replace(report, details=(*attempts, *report.details))
    return report


def _too_large(package: LockedPackage, file: LockedFile, exc: TooLargeError) -> PackageReport:
    """The refusal of a file a source serves larger than the lock allows."""
    return refused(
        package,
        file,
        f"{file.filename} is larger than the lock allows ({exc.message})",
        details=[f"expected {exc.expected}", f"found    {exc.found}"],
        fix="the source serves something else than the locked file; if the new "
        "bytes are expected, re-lock with `lockkeys lock --upgrade-package "
        f"{package.name}`",
    )


def _check(
    run: _Run, package: LockedPackage, file: LockedFile, place: Candidate, local: Path
) -> tuple[PackageReport, list[bytes]]:
    """Verify the fetched ``local`` (with the signatures published beside ``place``)."""
    sigs: list[DetachedSignature] = []
    notes: list[str] = []
    raw: list[bytes] = []
    unreachable: list[tuple[str, str]] = []
    if package.tool.verify in ("signatures", "hashes+signatures"):
        sigs, notes, raw, unreachable = gather_signatures(place, run.timeout)
    run.progress(package.name, "verify")
    report = verify_artifact(
        package,
        file,
        local,
        sigs,
        package_keyring(run.keyring, package),
        run.env,
        run.locked,
        notes=notes,
        unreachable=unreachable,
        now=run.now,
    )
    return report, raw


def _remember(
    cache: FileCache,
    report: PackageReport,
    cached_sha: str | None,
    hit: bool,
    local: Path,
    place: Candidate,
) -> PackageReport:
    """Keep verified locked bytes in the cache; say when they came from it."""
    if cached_sha is not None and not hit and report.sha256 == cached_sha:
        cache.store(cached_sha, local, origin=place.label)
    if hit and cached_sha is not None:
        # Say so: a tampered source is not read while the cache holds the bytes.
        report = replace(report, from_cache=True, cache_origin=cache.origin(cached_sha))
    return report


__all__ = ["Verified", "verify_into"]
