"""Expiry warnings: a pinned certificate that expires soon stops new signatures from counting.

`verify`, `install` and `lock --check` warn when a certificate pinned in the lock (or, for
`lock --check`, configured) expires within 30 days, or the number of days in
``LOCKKEYS_EXPIRY_WARNING_DAYS`` (or `expiry-warning-days` in the configuration). Signatures
made before the expiry keep counting; the fix is `gpg --quick-set-expire` and a re-lock, which
merges the extended certificate into the lock.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from lockkeys._internal.trust.certs import Certificate
from lockkeys.errors import UsageError

DEFAULT_DAYS = 30
DAYS_ENV = "LOCKKEYS_EXPIRY_WARNING_DAYS"


def warning_days(configured: int | None = None, environ: Mapping[str, str] | None = None) -> int:
    """The environment wins over the configuration; 30 when neither says."""
    env = os.environ if environ is None else environ
    text = env.get(DAYS_ENV, "").strip()
    if text:
        try:
            value = int(text)
        except ValueError:
            raise UsageError(f"{DAYS_ENV}={text!r} is not a number of days") from None
        if value < 0:
            raise UsageError(f"{DAYS_ENV}={text!r} must be 0 or more (0: no warnings)")
        return value
    return DEFAULT_DAYS if configured is None else configured


def expiry_warnings(
    certificates: Iterable[Certificate], days: int, now: datetime | None = None
) -> list[str]:
    """One line per certificate (or signing subkey) that expired or expires within ``days``."""
    if days <= 0:
        return []
    now = now or datetime.now(UTC)
    horizon = now + timedelta(days=days)
    lines: list[str] = []
    for cert in certificates:
        if cert.facts.revoked:
            continue
        expires = cert.facts.expires
        if expires is not None and expires <= horizon:
            lines.append(_line(cert.label, "certificate", expires, now))
            continue
        signing = [k for k in cert.facts.subkeys if "sign" in k.capabilities and not k.revoked]
        live = [k for k in signing if k.expires is None or k.expires > horizon]
        if signing and not live:
            soonest = max(k.expires for k in signing if k.expires is not None)
            lines.append(_line(cert.label, "every signing subkey of", soonest, now))
    return lines


def _line(label: str, what: str, expires: datetime, now: datetime) -> str:
    if expires <= now:
        when = f"expired {expires:%Y-%m-%d}: only signatures made before then count"
    else:
        left = (expires - now).days
        when = f"expires {expires:%Y-%m-%d} (in {left} day{'s' if left != 1 else ''})"
    return (
        f"{what} {label} {when}; extend it (`gpg --quick-set-expire FPR 2y`), update the "
        "certificate file and re-lock"
    )


__all__ = ["DAYS_ENV", "DEFAULT_DAYS", "expiry_warnings", "warning_days"]
