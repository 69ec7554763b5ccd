"""Detached signing: FILE.asc, adding to an existing signature file instead of replacing it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lockkeys._internal.fsutil import atomic_write, read_regular_file
from lockkeys._internal.openpgp.engine import OpenPGPEngine
from lockkeys._internal.openpgp.sequoia import default_engine
from lockkeys._internal.trust.certs import load_secret_key
from lockkeys._internal.trust.keygen import read_passphrase
from lockkeys._internal.trust.signatures import (
    MAX_SIGNATURE_FILE,
    armor_signatures,
    parse_signatures,
)
from lockkeys.errors import InputError, UsageError


@dataclass(frozen=True)
class SignedFile:
    """One file signed by ``lockkeys sign``: where its signature went and how many it holds."""

    file: Path
    signature_file: Path
    signer: str
    signatures_in_file: int


def signature_path(file: Path, out_dir: Path | None) -> Path:
    """Where the signature of ``file`` goes: ``FILE.asc`` beside it or in ``out_dir``."""
    return (out_dir if out_dir is not None else file.parent) / f"{file.name}.asc"


def sign_files(
    files: list[Path],
    key: Path,
    *,
    out_dir: Path | None = None,
    passphrase_file: Path | None = None,
    engine: OpenPGPEngine | None = None,
) -> list[SignedFile]:
    """Sign each file; the signature joins any already in ``FILE.asc``."""
    engine = engine or default_engine()
    secret = load_secret_key(key, engine)
    passphrase = read_passphrase(passphrase_file) if passphrase_file else None
    results = []
    for file in files:
        file = Path(file)
        if not file.is_file():
            raise UsageError("no such file to sign", file=str(file))
        target = signature_path(file, out_dir)
        existing: list[bytes] = []
        if target.exists():
            try:
                data = read_regular_file(target, "signature file", MAX_SIGNATURE_FILE)
                existing = [s.packet for s in parse_signatures(data, str(target))]
            except InputError as exc:
                raise InputError(
                    f"existing signature file is unreadable, not adding to it: {exc.message}",
                    file=str(target),
                    fix="move the damaged file away and sign again",
                ) from None
        packet = engine.sign_detached(secret.handle, file, passphrase)
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(target, armor_signatures([*existing, packet]).encode())
        results.append(
            SignedFile(
                file=file,
                signature_file=target,
                signer=secret.fingerprint,
                signatures_in_file=len(existing) + 1,
            )
        )
    return results
