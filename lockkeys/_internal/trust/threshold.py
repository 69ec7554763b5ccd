"""n-of-m threshold evaluation over detached signatures.

``evaluate_threshold`` returns a :class:`ThresholdResult` that explains itself: who counted
(primary fingerprint and signing subkey) and, for every signature that did not count, why.
``require_threshold`` raises :class:`VerificationError` on a shortfall. Reports and JSON output
are built from the same result.

The engine (Sequoia) decides whether a signature is cryptographically valid under its
standard policy. lockkeys owns, on top (threat-model verifier rules):
  2  distinct primary certificates and distinct key material, once each;
  6  a tolerance for clock skew, and signature expiration, judged at ``now``;
  8  MD5/SHA-1/RIPEMD-160 refused before the engine sees them;
  9  RSA keys under 2048 bits refused;
  10 critical notations/unknown critical subpackets refused;
  11 only binary-document signatures (type 0x00) count;
  13 strings from keys and signatures are escaped and never decide anything.
"""

from __future__ import annotations

import enum
import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lockkeys._internal.openpgp.engine import OpenPGPEngine, Verified
from lockkeys._internal.openpgp.framing import split_packets
from lockkeys._internal.openpgp.sequoia import default_engine
from lockkeys._internal.openpgp.sigpacket import WEAK_HASHES, digest_prefix, hashed_trailer
from lockkeys._internal.trust.certs import Certificate, Keyring
from lockkeys._internal.trust.signatures import DetachedSignature
from lockkeys.errors import UsageError, VerificationError, escape

FUTURE_TOLERANCE = timedelta(minutes=5)
MIN_RSA_BITS = 2048
# Bounded work per signature file (threat-model row 21): a file with more packets naming a
# trusted signer than this many per trusted signer, or more packets at all than
# MAX_PACKETS_PER_FILE, is refused as hostile before anything is verified.
MAX_PACKETS_PER_SIGNER = 8
MAX_PACKETS_PER_FILE = 1024
_HASHLIB_NAMES = {
    "SHA224": "sha224",
    "SHA256": "sha256",
    "SHA384": "sha384",
    "SHA512": "sha512",
    "SHA3-256": "sha3_256",
    "SHA3-512": "sha3_512",
}


class Reason(enum.StrEnum):
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
    fingerprint: str  # primary certificate
    signing_key: str  # the (sub)key that made the signature
    name: str | None
    signature: str  # file#n
    created: datetime | None

    def to_json(self) -> dict[str, object]:
        return {
            "fingerprint": self.fingerprint,
            "signing_key": self.signing_key,
            "name": self.name,
            "signature": self.signature,
            "created": self.created.isoformat() if self.created else None,
        }


@dataclass(frozen=True)
class Uncounted:
    signature: str  # file#n
    issuer: str | None
    reason: Reason
    detail: str

    def to_json(self) -> dict[str, object]:
        return {
            "signature": self.signature,
            "issuer": self.issuer,
            "reason": str(self.reason),
            "detail": self.detail,
        }


@dataclass(frozen=True)
class ThresholdResult:
    file: str
    threshold: int
    trusted: tuple[str, ...]  # fingerprints of the m listed signers
    counted: tuple[CountedSigner, ...]
    uncounted: tuple[Uncounted, ...] = field(default_factory=tuple)
    names: dict[str, str] = field(default_factory=dict)

    @property
    def met(self) -> bool:
        return len(self.counted) >= self.threshold

    @property
    def missing(self) -> tuple[str, ...]:
        have = {c.fingerprint for c in self.counted}
        return tuple(f for f in self.trusted if f not in have)

    def label(self, fingerprint: str) -> str:
        name = self.names.get(fingerprint)
        return f"{escape(name)} ({fingerprint})" if name else fingerprint

    def summary(self) -> str:
        have, need = len(self.counted), self.threshold
        return f"{have} of {need} required signers (of {len(self.trusted)} trusted)"

    def explain(self) -> list[str]:
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
        return {
            "file": self.file,
            "threshold": self.threshold,
            "met": self.met,
            "trusted": list(self.trusted),
            "counted": [c.to_json() for c in self.counted],
            "uncounted": [u.to_json() for u in self.uncounted],
            "missing": list(self.missing),
        }


def check_threshold_range(threshold: int, signers: int, where: str = "threshold") -> None:
    if signers < 1:
        raise UsageError(
            "no trusted signers given: a signature policy with no signers would accept nothing",
            fix="name at least one signer certificate",
        )
    if not 1 <= threshold <= signers:
        raise UsageError(
            f"{where}: {threshold} is out of range for {signers} signer(s)",
            expected=f"1 <= threshold <= {signers}",
            found=str(threshold),
        )


def _classify_failure(
    sig: DetachedSignature, candidates: list[Certificate], engine_reason: str
) -> tuple[Reason, str]:
    """Explain an engine refusal from the facts of the certificate and the signature."""
    facts = sig.facts
    created = facts.created
    for cert in candidates:
        key = cert.facts.key(facts.issuer_fingerprint or facts.issuer_key_id or "")
        if cert.facts.revoked:
            reason = cert.facts.primary.revocation_reason or "revoked"
            return Reason.REVOKED, f"certificate {cert.label} is revoked ({reason})"
        if key is not None and key.revoked:
            reason = key.revocation_reason or "revoked"
            return (
                Reason.REVOKED,
                f"signing key {key.fingerprint} of {cert.label} is revoked ({reason})",
            )
        expiry = cert.facts.expires
        if created is not None and expiry is not None and created >= expiry:
            return Reason.EXPIRED_AT_SIGNING, (
                f"made {created:%Y-%m-%d} after certificate {cert.label} expired {expiry:%Y-%m-%d}"
            )
        if (
            key is not None
            and created is not None
            and key.expires is not None
            and created >= key.expires
        ):
            return Reason.EXPIRED_AT_SIGNING, (
                f"made {created:%Y-%m-%d} after signing key {key.fingerprint} "
                f"expired {key.expires:%Y-%m-%d}"
            )
        oldest = max(
            (k.valid_from for k in (cert.facts.primary, key) if k is not None and k.valid_from),
            default=None,
        )
        if created is not None and oldest is not None and created < oldest:
            return Reason.NOT_VALID_AT_SIGNING, (
                f"made {created:%Y-%m-%d}, but the oldest self-signature of {cert.label} is "
                f"dated {oldest:%Y-%m-%d}, so the key cannot be shown valid when it signed "
                "(`gpg --quick-set-expire` replaces older self-signatures); use a certificate "
                "export that keeps them, or have the file signed again"
            )
        if key is None:
            return Reason.BAD_SIGNATURE, (
                f"issuer key is not a validly bound key of {cert.label}: {engine_reason}"
            )
        if key.capabilities and "sign" not in key.capabilities:
            return Reason.NOT_SIGNING_CAPABLE, (
                f"key {key.fingerprint} of {cert.label} may not sign data "
                f"(capabilities: {', '.join(sorted(key.capabilities))})"
            )
    del engine_reason  # pysequoia gives the same text for every failure
    return Reason.BAD_SIGNATURE, (
        "did not verify: the file differs from what was signed, or the signing key is not "
        "validly bound to a trusted certificate"
    )


def _hostile_files(
    signatures: Sequence[DetachedSignature], keyring: Keyring
) -> dict[str, tuple[int, int]]:
    """Signature files with implausibly many packets: source -> (packets, naming trusted)."""
    total: dict[str, int] = {}
    naming: dict[str, int] = {}
    for sig in signatures:
        total[sig.source] = total.get(sig.source, 0) + 1
        facts = sig.facts
        if sig.unsupported is None and keyring.candidates(
            facts.issuer_fingerprint, facts.issuer_key_id
        ):
            naming[sig.source] = naming.get(sig.source, 0) + 1
    limit = MAX_PACKETS_PER_SIGNER * len(keyring)
    return {
        source: (count, naming.get(source, 0))
        for source, count in total.items()
        if count > MAX_PACKETS_PER_FILE or naming.get(source, 0) > limit
    }


def _file_digests(signed: Path | bytes, algorithms: set[str]) -> dict[str, Any]:
    """One streamed pass over the file (or the bytes), one hash state per digest algorithm."""
    states = {name: hashlib.new(_HASHLIB_NAMES[name]) for name in algorithms}
    if not states:
        return states
    if isinstance(signed, bytes):
        for state in states.values():
            state.update(signed)
        return states
    with open(signed, "rb") as handle:
        while chunk := handle.read(1 << 20):
            for state in states.values():
                state.update(chunk)
    return states


def _prefix_matches(sig: DetachedSignature, digests: dict[str, Any]) -> bool | None:
    """The signature's 16-bit digest quick check against the file (v4 only), or None when
    it cannot be made. A mismatch means the file is not what was signed, as GnuPG says."""
    state = digests.get(sig.facts.hash_algorithm)
    (packet,) = split_packets(sig.packet, sig.source)  # the one reader: header off
    trailer = hashed_trailer(packet.body)
    prefix = digest_prefix(packet.body)
    if state is None or trailer is None or prefix is None:
        return None
    check = state.copy()
    check.update(trailer)
    return bool(check.digest()[:2] == prefix)


def evaluate_threshold(
    path: Path,
    signatures: Sequence[DetachedSignature],
    keyring: Keyring,
    threshold: int,
    *,
    now: datetime | None = None,
    engine: OpenPGPEngine | None = None,
    data: bytes | None = None,
) -> ThresholdResult:
    """Count distinct trusted signers over the file at ``path`` (read from disk, streamed), or
    over ``data`` when given: the file's bytes read once by the caller, which then uses exactly
    the bytes that were verified (``path`` only names them in the result).

    Work is bounded (threat-model row 21): a signature file with implausibly many packets is
    refused as hostile; the file is hashed once per digest algorithm for the 16-bit quick
    check, and only signatures that pass it reach the engine; counting stops once the
    threshold is met, and a signature naming only already-counted signers is decided without
    verifying it.
    """
    engine = engine or default_engine()
    now = now or datetime.now(UTC)
    check_threshold_range(threshold, len(keyring))
    counted: list[CountedSigner] = []
    uncounted: list[tuple[int, Uncounted]] = []
    seen_packets: set[bytes] = set()
    counted_material: dict[str, str] = {}

    def refuse(position: int, sig: DetachedSignature, reason: Reason, detail: str) -> None:
        uncounted.append((position, Uncounted(sig.where, sig.facts.issuer, reason, detail)))

    hostile = _hostile_files(signatures, keyring)
    reported: set[str] = set()
    pending: list[tuple[int, DetachedSignature, list[Certificate]]] = []
    for position, sig in enumerate(signatures):
        facts = sig.facts
        if sig.source in hostile:
            if sig.source not in reported:
                reported.add(sig.source)
                packets, naming = hostile[sig.source]
                uncounted.append(
                    (
                        position,
                        Uncounted(
                            sig.source,
                            None,
                            Reason.HOSTILE_FILE,
                            f"{packets} signature packets ({naming} naming a trusted signer) "
                            f"for {len(keyring)} trusted signer(s): more than "
                            f"{MAX_PACKETS_PER_SIGNER} per trusted signer or "
                            f"{MAX_PACKETS_PER_FILE} in all; the whole file is refused as "
                            "hostile and nothing in it was verified",
                        ),
                    )
                )
            continue
        if sig.unsupported is not None:
            refuse(position, sig, Reason.UNSUPPORTED, sig.unsupported)
            continue
        if sig.packet in seen_packets:
            refuse(
                position,
                sig,
                Reason.DUPLICATE_SIGNATURE,
                "the same signature was given more than once",
            )
            continue
        seen_packets.add(sig.packet)
        if facts.type_id != 0x00:
            refuse(
                position,
                sig,
                Reason.NOT_BINARY,
                f"a {facts.signature_type} signature, not a binary-document signature",
            )
            continue
        if facts.hash_algorithm in WEAK_HASHES:
            refuse(
                position, sig, Reason.WEAK_DIGEST, f"{facts.hash_algorithm} digest is not accepted"
            )
            continue
        if facts.critical_unknown:
            refuse(
                position,
                sig,
                Reason.CRITICAL_UNKNOWN,
                "critical subpacket(s) lockkeys does not understand: "
                + ", ".join(str(k) for k in facts.critical_unknown),
            )
            continue
        candidates = keyring.candidates(facts.issuer_fingerprint, facts.issuer_key_id)
        if not candidates:
            refuse(
                position,
                sig,
                Reason.UNKNOWN_SIGNER,
                f"issuer {facts.issuer or 'unknown'} is not among the trusted signers",
            )
            continue
        # Key strength of the keys that matter: each candidate's primary and the key the
        # signature names as its issuer (not unrelated components the certificate carries).
        weak = [
            (c, k)
            for c in candidates
            for k in (c.facts.primary, c.facts.key(facts.issuer or ""))
            if k is not None and k.is_rsa and k.bits is not None and k.bits < MIN_RSA_BITS
        ]
        if weak:
            cert, key = weak[0]
            refuse(
                position,
                sig,
                Reason.WEAK_KEY,
                f"RSA-{key.bits} key {key.fingerprint} of {cert.label} "
                f"is under {MIN_RSA_BITS} bits",
            )
            continue
        if facts.created is not None and facts.created > now + FUTURE_TOLERANCE:
            refuse(
                position, sig, Reason.FUTURE, f"created {facts.created.isoformat()}, in the future"
            )
            continue
        if facts.expires is not None and facts.expires <= now:
            refuse(
                position,
                sig,
                Reason.SIGNATURE_EXPIRED,
                f"the signature expired {facts.expires.isoformat()}",
            )
            continue
        pending.append((position, sig, candidates))

    # The quick check pays off only when some certificate is named by more than one pending
    # signature (the engine hashes the file again for each one it verifies); with one
    # signature per signer (the honest case) the engine's own pass is the only one.
    named = Counter(c.fingerprint for _, _, candidates in pending for c in candidates)
    quick_check = any(count > 1 for count in named.values())
    signed: Path | bytes = path if data is None else data
    digests = _file_digests(
        signed,
        {
            sig.facts.hash_algorithm
            for _, sig, _ in pending
            if quick_check and sig.facts.version == 4 and sig.facts.hash_algorithm in _HASHLIB_NAMES
        },
    )
    for position, sig, candidates in pending:
        if len(counted) >= threshold:
            refuse(position, sig, Reason.NOT_NEEDED, "not checked: the threshold was already met")
            continue
        done = {c.fingerprint for c in counted}
        if all(c.fingerprint in done for c in candidates):
            refuse(
                position,
                sig,
                Reason.DUPLICATE_SIGNER,
                f"{candidates[0].label} already counted once (not checked again)",
            )
            continue
        if _prefix_matches(sig, digests) is False:
            refuse(
                position,
                sig,
                Reason.BAD_SIGNATURE,
                "the file differs from what was signed (the signature's 16-bit digest "
                "quick check fails)",
            )
            continue
        outcome = engine.verify_detached(signed, sig.packet, [c.handle for c in candidates])
        if not isinstance(outcome, Verified):
            reason, detail = _classify_failure(sig, candidates, outcome)
            refuse(position, sig, reason, detail)
            continue
        signer = keyring.get(outcome.certificate)
        if signer is None:  # the engine may only return certificates we gave it
            refuse(
                position,
                sig,
                Reason.UNKNOWN_SIGNER,
                f"verified by {outcome.certificate}, which is not trusted",
            )
            continue
        signing_key = signer.facts.key(outcome.signing_key)
        material = signing_key.material if signing_key is not None else outcome.signing_key
        if any(c.fingerprint == signer.fingerprint for c in counted):
            refuse(position, sig, Reason.DUPLICATE_SIGNER, f"{signer.label} already counted once")
            continue
        if material in counted_material:
            refuse(
                position,
                sig,
                Reason.DUPLICATE_SIGNER,
                f"key material of {outcome.signing_key} already counted "
                f"for {counted_material[material]}",
            )
            continue
        counted_material[material] = signer.fingerprint
        counted.append(
            CountedSigner(
                fingerprint=signer.fingerprint,
                signing_key=outcome.signing_key,
                name=signer.name,
                signature=sig.where,
                created=sig.facts.created,
            )
        )
    names = {c.fingerprint: c.name for c in keyring.certificates() if c.name}
    return ThresholdResult(
        file=str(path),
        threshold=threshold,
        trusted=tuple(keyring.fingerprints()),
        counted=tuple(counted),
        uncounted=tuple(u for _, u in sorted(uncounted, key=lambda item: item[0])),
        names=names,
    )


def require_threshold(
    path: Path,
    signatures: Sequence[DetachedSignature],
    keyring: Keyring,
    threshold: int,
    *,
    package: str | None = None,
    now: datetime | None = None,
    engine: OpenPGPEngine | None = None,
) -> ThresholdResult:
    result = evaluate_threshold(path, signatures, keyring, threshold, now=now, engine=engine)
    return result.require(package)
