"""The trust layer: certificates, signatures, hashes and n-of-m policy."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from lockkeys._internal.trust.certs import Keyring, load_certificate
from lockkeys._internal.trust.signatures import DetachedSignature, load_signatures
from lockkeys._internal.trust.signing import signature_path
from lockkeys._internal.trust.threshold import ThresholdResult, evaluate_threshold


def verify_files(
    files: Sequence[Path],
    signers: Sequence[Path],
    *,
    signatures: Sequence[Path] = (),
    threshold: int = 1,
    now: datetime | None = None,
) -> list[ThresholdResult]:
    """Verify several files against one set of signers, loading the certificates once.

    Each file's signatures come from ``FILE.asc`` unless ``signatures`` are given, which is
    only allowed for a single file.
    """
    from lockkeys.errors import UsageError

    if signatures and len(files) != 1:
        raise UsageError(
            "--signature can only be given with a single FILE",
            fix="drop --signature to read FILE.asc beside each file",
        )
    keyring = _keyring(signers)
    results = []
    for file in files:
        file = Path(file)
        sigs = _signatures(list(signatures) or [signature_path(file, None)])
        if not file.is_file():
            raise UsageError("no such file to verify", file=str(file))
        results.append(evaluate_threshold(file, sigs, keyring, threshold, now=now))
    return results


def _keyring(signers: Sequence[Path]) -> Keyring:
    return Keyring(load_certificate(path, name=Path(path).name) for path in signers)


def _signatures(files: Sequence[Path]) -> list[DetachedSignature]:
    sigs: list[DetachedSignature] = []
    for sig_file in files:
        sigs.extend(load_signatures(Path(sig_file)))
    return sigs


def verify_bytes(
    data: bytes,
    name: str,
    signers: Sequence[Path],
    *,
    signatures: Sequence[Path],
    threshold: int = 1,
    now: datetime | None = None,
) -> ThresholdResult:
    """Like :func:`verify_file`, over bytes the caller has already read (``name`` says where
    from). For a small file that must be used as exactly the bytes that were verified, such
    as the lock: reading the file again after the check would trust whatever is there then.
    """
    keyring = _keyring(signers)
    sigs = _signatures(signatures)
    return evaluate_threshold(Path(name), sigs, keyring, threshold, now=now, data=data)


def verify_file(
    file: Path,
    signers: Sequence[Path],
    *,
    signatures: Sequence[Path] = (),
    threshold: int = 1,
    now: datetime | None = None,
) -> ThresholdResult:
    """Load certificates and signature files, then evaluate the threshold over ``file``.

    With no ``signatures``, ``FILE.asc`` beside the file is read. The same signature file
    named twice is read twice; its signatures count once (duplicates are reported).
    """
    return verify_files([file], signers, signatures=signatures, threshold=threshold, now=now)[0]


__all__ = [
    "Keyring",
    "ThresholdResult",
    "evaluate_threshold",
    "load_certificate",
    "verify_bytes",
    "verify_file",
    "verify_files",
]
