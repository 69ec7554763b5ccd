"""Verify one local artifact against its lock entry, as the package's policy says.

  hashes              every hash recorded for the file matches
  signatures          at least `threshold` distinct pinned signers signed these bytes
  hashes+signatures   both
  none                accepted unverified (a warning on every run)

Then, whatever the policy, a wheel's METADATA must name the locked project and version, and
its dependencies for this environment must all be locked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from datetime import datetime
from pathlib import Path

from lockkeys._internal.install.environment import TargetEnvironment
from lockkeys._internal.install.metadata import check_metadata
from lockkeys._internal.install.report import PackageReport, Status
from lockkeys._internal.lockmodel.lock import LockedFile, LockedPackage
from lockkeys._internal.sources.sigfiles import Gathered, unreachable_error
from lockkeys._internal.trust.certs import Keyring
from lockkeys._internal.trust.signatures import DetachedSignature
from lockkeys._internal.trust.threshold import ThresholdResult, evaluate_threshold
from lockkeys._internal.wheelrecord import check_wheel_record
from lockkeys.errors import VerificationError

CHUNK = 1024 * 1024


def file_hashes(path: Path, algorithms: Collection[str] = ("sha256",)) -> dict[str, str]:
    """Hash a file once, streaming, for every algorithm asked."""
    hashers = {name: hashlib.new(name) for name in {"sha256", *algorithms}}
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            for h in hashers.values():
                h.update(chunk)
    return {name: h.hexdigest() for name, h in hashers.items()}


def refused(
    package: LockedPackage,
    file: LockedFile | None,
    reason: str,
    *,
    details: Sequence[str] = (),
    fix: str | None = None,
    sha256: str | None = None,
) -> PackageReport:
    """The report of a package refused for ``reason`` (with what was expected and found)."""
    return PackageReport(
        name=package.name,
        version=package.version,
        policy=package.tool.verify,
        status=Status.REFUSED,
        file=file.filename if file else None,
        sha256=sha256,
        source=package.tool.source,
        threshold=package.tool.threshold,
        reason=reason,
        details=tuple(details),
        fix=fix,
    )


def _hash_refusal(
    package: LockedPackage, file: LockedFile, digests: dict[str, str]
) -> PackageReport | None:
    """The refusal when a hash the lock records for the file differs, else None."""
    for algo, expected in sorted(file.hashes.items()):
        if digests[algo] != expected:
            return refused(
                package,
                file,
                f"{algo} of {file.filename} does not match the lock",
                details=(f"expected {algo}:{expected}", f"found    {algo}:{digests[algo]}"),
                fix="the file was altered or replaced; if the new bytes are expected, "
                f"re-lock with `lockkeys lock --upgrade-package {package.name}`",
                sha256=digests["sha256"],
            )
    return None


def _signatures_met(
    package: LockedPackage,
    file: LockedFile,
    local: Path,
    signatures: Sequence[DetachedSignature],
    keyring: Keyring,
    *,
    notes: Sequence[str],
    unreachable: Sequence[tuple[str, str]],
    now: datetime | None,
    sha256: str,
) -> ThresholdResult | PackageReport:
    """The threshold met, or the refusal; raises SourceError when unmet with a source down."""
    threshold = package.tool.threshold or 1
    result = evaluate_threshold(local, signatures, keyring, threshold, now=now)
    if not result.met and unreachable:
        raise unreachable_error(
            Gathered(unreachable=list(unreachable)), package.name, file.filename
        )
    if not result.met:
        return refused(
            package,
            file,
            f"signature threshold not met for {file.filename}: {result.summary()}",
            details=tuple(notes) + tuple(result.explain()),
            fix="publish the missing signatures as FILE.asc beside the file, in a "
            "signature store, or have the missing signers run `lockkeys sign FILE --key "
            "SECRET`",
            sha256=sha256,
        )
    return result


def _metadata_refusal(
    package: LockedPackage,
    file: LockedFile,
    local: Path,
    env: TargetEnvironment,
    locked_names: Collection[str],
    sha256: str,
) -> PackageReport | None:
    """The refusal when the file's own metadata (wheels: METADATA and RECORD; sdists the lock
    allows: PKG-INFO) disagrees with the lock, else None."""
    try:
        check_metadata(
            local,
            name=package.name,
            version=package.version,
            locked=locked_names,
            env=env,
        )
        if local.name.endswith(".whl"):
            check_wheel_record(local, package=package.name)  # threat-model row 22
    except VerificationError as exc:
        details = [d for d in (exc.expected, exc.found) if d]
        return refused(
            package,
            file,
            exc.message,
            details=[f"expected {details[0]}", f"found    {details[1]}"]
            if len(details) == 2
            else details,
            fix=exc.fix,
            sha256=sha256,
        )
    return None


def _status(wants_hash: bool, wants_sigs: bool) -> Status:
    if wants_hash and wants_sigs:
        return Status.VERIFIED_BOTH
    if wants_sigs:
        return Status.VERIFIED_SIGNATURES
    if wants_hash:
        return Status.VERIFIED_HASH
    return Status.UNVERIFIED


def verify_artifact(
    package: LockedPackage,
    file: LockedFile,
    local: Path,
    signatures: Sequence[DetachedSignature],
    keyring: Keyring,
    env: TargetEnvironment,
    locked_names: Collection[str],
    *,
    notes: Sequence[str] = (),
    unreachable: Sequence[tuple[str, str]] = (),
    now: datetime | None = None,
) -> PackageReport:
    """Verify ``local`` as the package's policy says; a refusal is a report, not an error.

    A signature threshold not met while some signature source could not be read
    (``unreachable``: 5xx, connection errors) raises :class:`SourceError` (exit 3) naming the
    URL: a source problem, not a refusal. Met without it, the run goes on.
    """
    policy = package.tool.verify
    digests = file_hashes(local, file.hashes.keys())
    sha256 = digests["sha256"]
    wants_hash = policy in ("hashes", "hashes+signatures")
    wants_sigs = policy in ("signatures", "hashes+signatures")
    if wants_hash and (refusal := _hash_refusal(package, file, digests)) is not None:
        return refusal
    threshold_result = None
    if wants_sigs:
        met = _signatures_met(
            package,
            file,
            local,
            signatures,
            keyring,
            notes=notes,
            unreachable=unreachable,
            now=now,
            sha256=sha256,
        )
        if isinstance(met, PackageReport):
            return met
        threshold_result = met
    refusal = _metadata_refusal(package, file, local, env, locked_names, sha256)
    if refusal is not None:
        return refusal
    return PackageReport(
        name=package.name,
        version=package.version,
        policy=policy,
        status=_status(wants_hash, wants_sigs),
        file=file.filename,
        sha256=sha256,
        source=package.tool.source,
        threshold=package.tool.threshold,
        signers=threshold_result.counted if threshold_result else (),
        local_path=local,
        threshold_result=threshold_result,
    )
