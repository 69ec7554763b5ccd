"""The trust layer: certificates, signatures, hashes and n-of-m policy."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from lockkeys.trust.certs import Keyring, load_certificate
from lockkeys.trust.signatures import DetachedSignature, load_signatures
from lockkeys.trust.signing import signature_path
from lockkeys.trust.threshold import ThresholdResult, evaluate_threshold


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
    keyring = Keyring(load_certificate(path, name=Path(path).name) for path in signers)
    sig_files = list(signatures) or [signature_path(Path(file), None)]
    sigs: list[DetachedSignature] = []
    for sig_file in sig_files:
        sigs.extend(load_signatures(Path(sig_file)))
    if not Path(file).is_file():
        from lockkeys.errors import UsageError

        raise UsageError("no such file to verify", file=str(file))
    return evaluate_threshold(Path(file), sigs, keyring, threshold, now=now)


__all__ = ["Keyring", "ThresholdResult", "evaluate_threshold", "load_certificate", "verify_file"]
