"""Signing key generation: NAME.asc, NAME.secret.asc (0600), NAME.revocation.asc."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from lockkeys._internal.fsutil import atomic_write, read_regular_file
from lockkeys._internal.limits import MAX_PASSPHRASE_FILE
from lockkeys._internal.openpgp.armor import armor
from lockkeys._internal.openpgp.engine import OpenPGPEngine
from lockkeys._internal.openpgp.sequoia import default_engine
from lockkeys.errors import InputError, UsageError

_DURATION = re.compile(r"^(\d+)\s*([dwmy])$")
_UNITS = {"d": 1, "w": 7, "m": 30, "y": 365}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class GeneratedFiles:
    """What key generation wrote: the certificate, secret key and revocation files."""

    fingerprint: str
    certificate: Path
    secret: Path
    revocation: Path
    expires: datetime | None
    protected: bool
    replaces: str | None = None  # fingerprint of the key whose transition statement is in it


def parse_expiry(text: str | None, *, now: datetime | None = None) -> int | None:
    """`2y`, `18m`, `6w`, `30d`, an ISO date, or `never`: seconds of validity, or None."""
    if text is None or text.strip().lower() in ("", "never", "0"):
        return None
    now = now or datetime.now(UTC)
    value = text.strip().lower()
    m = _DURATION.match(value)
    if m:
        days = int(m.group(1)) * _UNITS[m.group(2)]
        if days <= 0:
            raise UsageError(f"--expires {text!r} must be in the future")
        return _in_range(text, days * 86400)
    try:
        when = date.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"--expires {text!r} is not a duration or a date",
            expected="e.g. 2y, 18m, 6w, 30d, 2028-12-31, or never",
        ) from None
    seconds = int((datetime(when.year, when.month, when.day, tzinfo=UTC) - now).total_seconds())
    if seconds <= 0:
        raise UsageError(f"--expires {text!r} is not in the future")
    return _in_range(text, seconds)


# OpenPGP stores a key's validity as a 32-bit count of seconds after its creation (about 136
# years); anything longer cannot be written.
MAX_VALIDITY_SECONDS = 0xFFFFFFFF


def _in_range(text: str, seconds: int) -> int:
    if seconds > MAX_VALIDITY_SECONDS:
        raise UsageError(
            f"--expires {text!r} is too far away: OpenPGP cannot express a validity over "
            f"{MAX_VALIDITY_SECONDS:,} seconds (about 136 years)",
            expected="e.g. 2y, 18m, 6w, 30d, 2028-12-31, or never",
        )
    return seconds


def read_passphrase(path: Path) -> str:
    """The first line of the file, without its line ending. Empty is refused."""
    raw = read_regular_file(Path(path), "passphrase file", MAX_PASSPHRASE_FILE)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("passphrase file is not UTF-8 text", file=str(path)) from None
    lines = text.splitlines()
    passphrase = lines[0] if lines else ""
    if not passphrase:
        raise InputError(
            "passphrase file is empty", file=str(path), fix="write the passphrase on its first line"
        )
    return passphrase


def generate_key(
    name: str,
    *,
    out_dir: Path = Path("keys"),
    user_id: str | None = None,
    expires: str | None = None,
    passphrase_file: Path | None = None,
    algorithm: str = "ed25519",
    engine: OpenPGPEngine | None = None,
    replaces: Path | None = None,
    replaces_passphrase_file: Path | None = None,
) -> GeneratedFiles:
    """Generate a signing key and write its three files; never overwrite an existing one.

    With ``replaces`` (the old key's secret key file), the old primary key certifies the new
    key's user ID: a transition statement in ``NAME.asc`` that GnuPG shows (`gpg --check-sigs`)
    and that `lockkeys diff` reads to call the replacement a rotation.
    """
    if not _NAME.match(name):
        raise UsageError(
            f"key name {name!r} is not a plain file name",
            expected="letters, digits, '.', '_' or '-', e.g. corp",
        )
    engine = engine or default_engine()
    out_dir = Path(out_dir)
    paths = (
        out_dir / f"{name}.asc",
        out_dir / f"{name}.secret.asc",
        out_dir / f"{name}.revocation.asc",
    )
    existing = [str(p) for p in paths if p.exists()]
    if existing:
        raise UsageError(
            "refusing to overwrite existing key files",
            file=existing[0],
            found=", ".join(existing),
            fix="choose another NAME or --out-dir, or move the old files away",
        )
    passphrase = read_passphrase(passphrase_file) if passphrase_file else None
    validity = parse_expiry(expires)
    old = None
    if replaces is not None:
        from lockkeys._internal.trust.certs import load_secret_key

        old = load_secret_key(Path(replaces), engine)
    old_passphrase = read_passphrase(replaces_passphrase_file) if replaces_passphrase_file else None
    uid = user_id or f"{name} (lockkeys signing key)"
    generated = engine.generate(uid, validity, algorithm)
    certificate = generated.certificate
    if old is not None:
        certificate = engine.certify(certificate, uid, old.handle, old_passphrase)
    secret = generated.secret
    if passphrase is not None:
        from lockkeys._internal.openpgp.protect import protect_secret_key

        secret = protect_secret_key(secret, passphrase.encode("utf-8"))
    out_dir.mkdir(parents=True, exist_ok=True)
    public_path, secret_path, revocation_path = paths
    atomic_write(
        secret_path, armor(secret, "PRIVATE KEY BLOCK").encode(), mode=0o600, overwrite=False
    )
    atomic_write(public_path, armor(certificate, "PUBLIC KEY BLOCK").encode(), overwrite=False)
    revocation_text = (
        "This is a revocation certificate for the key\n"
        f"{generated.fingerprint}\n"
        "Publishing it (importing it into a keyring, or replacing the certificate in a lock with\n"
        "the certificate merged with it) permanently revokes the key. Keep it offline.\n\n"
        + armor(generated.revocation, "SIGNATURE")
    )
    atomic_write(revocation_path, revocation_text.encode(), mode=0o600, overwrite=False)
    return GeneratedFiles(
        fingerprint=generated.fingerprint,
        certificate=public_path,
        secret=secret_path,
        revocation=revocation_path,
        expires=datetime.now(UTC) + timedelta(seconds=validity) if validity else None,
        protected=passphrase is not None,
        replaces=old.fingerprint if old is not None else None,
    )
