"""What a threshold evaluation found: who counted, and why every other signature did not.

:class:`ThresholdResult` is built by :func:`lockkeys._internal.trust.threshold.evaluate_threshold`
and explains itself; reports, error messages and JSON output are all made from it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from lockkeys.errors import VerificationError, escape


class Reason(enum.StrEnum):
    """Why a signature did not count, as a stable token for reports and JSON."""

    UNKNOWN_SIGNER = "unknown-signer"
    BAD_SIGNATURE = "bad-signature"
    REVOKED = "revoked"
    EXPIRED_AT_SIGNING = "expired-at-signing"
    WEAK_DIGEST = "weak-digest"
    WEAK_KEY = "weak-key"
    NOT_BINARY = "not-binary-document"
    NOT_VALID_AT_SIGNING = "not-valid-at-signing-time"
    NOT_SIGNING_CAPABLE = "not-signing-capable"
    FUTURE = "created-in-future"
    SIGNATURE_EXPIRED = "signature-expired"
    CRITICAL_UNKNOWN = "unknown-critical-subpacket"
    DUPLICATE_SIGNER = "duplicate-signer"
    DUPLICATE_SIGNATURE = "duplicate-signature"
    UNSUPPORTED = "unsupported"
    HOSTILE_FILE = "hostile-signature-file"
    NOT_NEEDED = "not-needed"


@dataclass(frozen=True)
class CountedSigner:
    """A trusted signer that counted towards the threshold, and the signature that did it."""

    fingerprint: str  # primary certificate
    signing_key: str  # the (sub)key that made the signature
    name: str | None
    signature: str  # file#n
    created: datetime | None

    def to_json(self) -> dict[str, object]:
        """The signer as a JSON object."""
        return {
            "fingerprint": self.fingerprint,
            "signing_key": self.signing_key,
            "name": self.name,
            "signature": self.signature,
            "created": self.created.isoformat() if self.created else None,
        }


@dataclass(frozen=True)
class Uncounted:
    """A signature that did not count, with the reason and a human-readable detail."""

    signature: str  # file#n
    issuer: str | None
    reason: Reason
    detail: str

    def to_json(self) -> dict[str, object]:
        """The refusal as a JSON object."""
        return {
            "signature": self.signature,
            "issuer": self.issuer,
            "reason": str(self.reason),
            "detail": self.detail,
        }


@dataclass(frozen=True)
class ThresholdResult:
    """The outcome of counting signers over one file: enough to report, explain or refuse."""

    file: str
    threshold: int
    trusted: tuple[str, ...]  # fingerprints of the m listed signers
    counted: tuple[CountedSigner, ...]
    uncounted: tuple[Uncounted, ...] = field(default_factory=tuple)
    names: dict[str, str] = field(default_factory=dict)

    @property
    def met(self) -> bool:
        """Whether at least ``threshold`` distinct trusted signers counted."""
        return len(self.counted) >= self.threshold

    @property
    def missing(self) -> tuple[str, ...]:
        """The trusted signers (fingerprints) that did not count, in keyring order."""
        have = {c.fingerprint for c in self.counted}
        return tuple(f for f in self.trusted if f not in have)

    def label(self, fingerprint: str) -> str:
        """A signer as shown to people: its escaped name and fingerprint when it has a name."""
        name = self.names.get(fingerprint)
        return f"{escape(name)} ({fingerprint})" if name else fingerprint

    def summary(self) -> str:
        """One line saying how many signers counted out of how many were needed."""
        have, need = len(self.counted), self.threshold
        return f"{have} of {need} required signers (of {len(self.trusted)} trusted)"

    def explain(self) -> list[str]:
        """Report lines: who signed, each signature not counted and why, and who is missing."""
        lines = [
            f"signed by: {self.label(c.fingerprint)} with key {c.signing_key}" for c in self.counted
        ]
        lines += [
            f"not counted: {u.signature}"
            + (f" by {u.issuer}" if u.issuer else "")
            + f": {u.reason}: {u.detail}"
            for u in self.uncounted
        ]
        if not self.met:
            lines.append("missing (any of): " + ", ".join(self.label(f) for f in self.missing))
        return lines

    def require(self, package: str | None = None) -> ThresholdResult:
        """Return the result when the threshold is met, else raise a VerificationError."""
        if self.met:
            return self
        found = (
            ", ".join(self.label(c.fingerprint) for c in self.counted)
            or "no valid trusted signature"
        )
        raise VerificationError(
            f"signature threshold not met: {self.summary()}",
            package=package,
            file=self.file,
            expected=f"valid signatures by at least {self.threshold} of: "
            + ", ".join(self.label(f) for f in self.trusted),
            found=found,
            details=[line for line in self.explain() if not line.startswith("signed by")],
            fix="have the missing signers sign the file (`lockkeys sign FILE --key SECRET` adds "
            "to FILE.asc), or fetch their signatures into a signature store",
        )

    def to_json(self) -> dict[str, object]:
        """The whole result as a JSON object (the shape `--json` output uses)."""
        return {
            "file": self.file,
            "threshold": self.threshold,
            "met": self.met,
            "trusted": list(self.trusted),
            "counted": [c.to_json() for c in self.counted],
            "uncounted": [u.to_json() for u in self.uncounted],
            "missing": list(self.missing),
        }
