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
from lockkeys._internal.trust.threshold import evaluate_threshold
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
    if wants_hash:
        for algo, expected in sorted(file.hashes.items()):
            if digests[algo] != expected:
                return refused(
                    package,
                    file,
                    f"{algo} of {file.filename} does not match the lock",
                    details=(f"expected {algo}:{expected}", f"found    {algo}:{digests[algo]}"),
                    fix="the file was altered or replaced; if the new bytes are expected, "
                    f"re-lock with `lockkeys lock --upgrade-package {package.name}`",
                    sha256=sha256,
                )
    threshold_result = None
    if wants_sigs:
        threshold = package.tool.threshold or 1
        threshold_result = evaluate_threshold(local, signatures, keyring, threshold, now=now)
        if not threshold_result.met and unreachable:
            raise unreachable_error(
                Gathered(unreachable=list(unreachable)), package.name, file.filename
            )
        if not threshold_result.met:
            return refused(
                package,
                file,
                f"signature threshold not met for {file.filename}: {threshold_result.summary()}",
                details=tuple(notes) + tuple(threshold_result.explain()),
                fix="publish the missing signatures as FILE.asc beside the file, in a "
                "signature store, or have the missing signers run `lockkeys sign FILE --key "
                "SECRET`",
                sha256=sha256,
            )
    # The file's own metadata (wheels: METADATA; sdists the lock allows: PKG-INFO).
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
    if wants_hash and wants_sigs:
        status = Status.VERIFIED_BOTH
    elif wants_sigs:
        status = Status.VERIFIED_SIGNATURES
    elif wants_hash:
        status = Status.VERIFIED_HASH
    else:
        status = Status.UNVERIFIED
    return PackageReport(
        name=package.name,
        version=package.version,
        policy=policy,
        status=status,
        file=file.filename,
        sha256=sha256,
        source=package.tool.source,
        threshold=package.tool.threshold,
        signers=threshold_result.counted if threshold_result else (),
        local_path=local,
        threshold_result=threshold_result,
    )
