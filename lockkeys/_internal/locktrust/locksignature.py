"""A signed lock: the lock is the root of trust at deploy time, so it can be signed n of m.

`lockkeys sign pylock.toml --key K` writes `pylock.toml.asc` like for any other file (several
signers add to it). A deploy (:func:`lockkeys._internal.install.request.open_request`, which
every entry point of :mod:`lockkeys._internal.install.pipeline` starts from) given a
:class:`LockSignaturePolicy`, or the environment variables below on a deploy host, refuses a
lock that is not signed by N of those certificates before using anything from it; the CLI
passes `--lock-signer CERT` (repeatable) and `--lock-threshold N`.

:func:`open_lock` reads the lock once, checks the signatures over those bytes and parses the
same bytes: a lock swapped on disk after the check is never read (time of check, time of use).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from lockkeys._internal.lockmodel.io import parse_lock_bytes, read_lock_bytes
from lockkeys._internal.lockmodel.lock import Lock
from lockkeys._internal.trust.threshold import ThresholdResult
from lockkeys._internal.trust.verify import verify_bytes
from lockkeys.errors import UsageError, VerificationError

SIGNERS_ENV = "LOCKKEYS_LOCK_SIGNERS"  # certificate paths, separated by os.pathsep (":")
THRESHOLD_ENV = "LOCKKEYS_LOCK_THRESHOLD"


@dataclass(frozen=True)
class LockSignaturePolicy:
    """Which certificates may sign the lock, and how many of them must have."""

    signers: tuple[Path, ...]
    threshold: int


def lock_signature_policy(
    signers: Sequence[Path] = (),
    threshold: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> LockSignaturePolicy | None:
    """Options first, else the environment; None when no lock signer is configured."""
    env = os.environ if environ is None else environ
    paths = tuple(Path(p) for p in signers)
    if not paths:
        paths = tuple(Path(p) for p in env.get(SIGNERS_ENV, "").split(os.pathsep) if p.strip())
    if threshold is None and env.get(THRESHOLD_ENV, "").strip():
        text = env[THRESHOLD_ENV].strip()
        try:
            threshold = int(text)
        except ValueError:
            raise UsageError(
                f"{THRESHOLD_ENV}={text!r} is not a number", expected="an integer >= 1"
            ) from None
    if not paths:
        if threshold is not None:
            raise UsageError(
                "a lock threshold without lock signers",
                fix=f"pass --lock-signer CERT (repeatable) or set {SIGNERS_ENV}",
            )
        return None
    return LockSignaturePolicy(signers=paths, threshold=1 if threshold is None else threshold)


def require_signed_lock(
    lock_path: Path, policy: LockSignaturePolicy, data: bytes
) -> ThresholdResult:
    """Refuse (exit 1) unless ``policy.threshold`` of the lock signers signed ``data``, the
    lock's bytes as read from ``lock_path`` (once: the caller uses exactly these bytes)."""
    signature = Path(f"{lock_path}.asc")
    if not signature.exists():
        raise VerificationError(
            "the lock is not signed, and lock signers are required",
            file=str(lock_path),
            expected=f"{signature} with signatures by {policy.threshold} of "
            + ", ".join(str(p) for p in policy.signers),
            found="no signature file",
            fix=f"have the lock signers run `lockkeys sign {lock_path.name} --key SECRET`",
        )
    result = verify_bytes(
        data,
        str(lock_path),
        policy.signers,
        signatures=[signature],
        threshold=policy.threshold,
    )
    if not result.met:
        raise VerificationError(
            f"the lock's signatures do not meet the lock threshold: {result.summary()}; "
            "nothing was read from it",
            file=str(lock_path),
            expected=f"valid signatures by {policy.threshold} of the lock signers",
            found=", ".join(c.name or c.fingerprint for c in result.counted) or "none valid",
            details=result.explain(),
            fix="if the lock changed on purpose, have the lock signers sign it again "
            f"(`lockkeys sign {lock_path.name} --key SECRET`); otherwise do not deploy it",
        )
    return result


@dataclass(frozen=True)
class DeployLock:
    """The lock as a deploy uses it: read once, its signatures checked over those bytes (when
    lock signers are required) and parsed from the same bytes."""

    path: Path
    lock: Lock
    signature: ThresholdResult | None  # None: no lock signers were required


def open_lock(path: Path, policy: LockSignaturePolicy | None = None) -> DeployLock:
    """Read the lock at ``path`` once, require its signatures, parse those very bytes.

    ``policy`` None: what the environment says (:func:`lock_signature_policy`), which may be
    no lock signers at all. A refused lock raises :class:`VerificationError` before anything
    in it was parsed.
    """
    path = Path(path)
    if policy is None:
        policy = lock_signature_policy()
    data = read_lock_bytes(path)
    result = require_signed_lock(path, policy, data) if policy is not None else None
    return DeployLock(path=path, lock=parse_lock_bytes(data, str(path)), signature=result)


__all__ = [
    "SIGNERS_ENV",
    "THRESHOLD_ENV",
    "DeployLock",
    "LockSignaturePolicy",
    "lock_signature_policy",
    "open_lock",
    "require_signed_lock",
]
