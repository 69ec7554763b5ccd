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

import hashlib
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lockkeys._internal.openpgp.engine import OpenPGPEngine, Verified
from lockkeys._internal.openpgp.framing import split_packets
from lockkeys._internal.openpgp.sequoia import default_engine
from lockkeys._internal.openpgp.sigpacket import WEAK_HASHES, digest_prefix, hashed_trailer
from lockkeys._internal.trust.certs import Certificate, Keyring
from lockkeys._internal.trust.signatures import DetachedSignature
from lockkeys._internal.trust.threshold_result import (
    CountedSigner,
    Reason,
    ThresholdResult,
    Uncounted,
)
from lockkeys.errors import UsageError

__all__ = [  # the result types live in threshold_result; callers may import them from here
    "FUTURE_TOLERANCE",
    "MAX_PACKETS_PER_FILE",
    "MAX_PACKETS_PER_SIGNER",
    "MIN_RSA_BITS",
    "CountedSigner",
    "Reason",
    "ThresholdResult",
    "Uncounted",
    "check_threshold_range",
    "evaluate_threshold",
    "require_threshold",
]

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


def check_threshold_range(threshold: int, signers: int, where: str = "threshold") -> None:
    """Refuse a policy with no signers, or a threshold outside ``1..signers``."""
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


class _Tally:
    """The running count of one evaluation: who counted, and each refusal at its position."""

    def __init__(self) -> None:
        self.counted: list[CountedSigner] = []
        self.uncounted: list[tuple[int, Uncounted]] = []
        self.material: dict[str, str] = {}  # key material -> primary fingerprint it counted for

    def refuse(self, position: int, sig: DetachedSignature, reason: Reason, detail: str) -> None:
        self.uncounted.append((position, Uncounted(sig.where, sig.facts.issuer, reason, detail)))

    def refusals(self) -> tuple[Uncounted, ...]:
        return tuple(u for _, u in sorted(self.uncounted, key=lambda item: item[0]))


_Pending = tuple[int, DetachedSignature, list[Certificate]]


def _hostile_note(source: str, packets: int, naming: int, keyring: Keyring) -> Uncounted:
    """The one refusal a hostile signature file gets, in place of its signatures."""
    return Uncounted(
        source,
        None,
        Reason.HOSTILE_FILE,
        f"{packets} signature packets ({naming} naming a trusted signer) "
        f"for {len(keyring)} trusted signer(s): more than "
        f"{MAX_PACKETS_PER_SIGNER} per trusted signer or "
        f"{MAX_PACKETS_PER_FILE} in all; the whole file is refused as "
        "hostile and nothing in it was verified",
    )


def _packet_refusal(sig: DetachedSignature) -> tuple[Reason, str] | None:
    """Rules 8, 10 and 11, from the signature packet alone (before any certificate)."""
    facts = sig.facts
    if facts.type_id != 0x00:
        return (
            Reason.NOT_BINARY,
            f"a {facts.signature_type} signature, not a binary-document signature",
        )
    if facts.hash_algorithm in WEAK_HASHES:
        return Reason.WEAK_DIGEST, f"{facts.hash_algorithm} digest is not accepted"
    if facts.critical_unknown:
        return (
            Reason.CRITICAL_UNKNOWN,
            "critical subpacket(s) lockkeys does not understand: "
            + ", ".join(str(k) for k in facts.critical_unknown),
        )
    return None


def _signer_refusal(
    sig: DetachedSignature, candidates: list[Certificate], now: datetime
) -> tuple[Reason, str] | None:
    """Rules 9 and 6, once the signature names trusted candidates: key strength and time."""
    facts = sig.facts
    if not candidates:
        return (
            Reason.UNKNOWN_SIGNER,
            f"issuer {facts.issuer or 'unknown'} is not among the trusted signers",
        )
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
        return (
            Reason.WEAK_KEY,
            f"RSA-{key.bits} key {key.fingerprint} of {cert.label} is under {MIN_RSA_BITS} bits",
        )
    if facts.created is not None and facts.created > now + FUTURE_TOLERANCE:
        return Reason.FUTURE, f"created {facts.created.isoformat()}, in the future"
    if facts.expires is not None and facts.expires <= now:
        return Reason.SIGNATURE_EXPIRED, f"the signature expired {facts.expires.isoformat()}"
    return None


def _screen(
    signatures: Sequence[DetachedSignature], keyring: Keyring, now: datetime, tally: _Tally
) -> list[_Pending]:
    """Refuse what the rules decide without the engine; the rest wait to be verified."""
    hostile = _hostile_files(signatures, keyring)
    reported: set[str] = set()
    seen_packets: set[bytes] = set()
    pending: list[_Pending] = []
    for position, sig in enumerate(signatures):
        if sig.source in hostile:
            if sig.source not in reported:
                reported.add(sig.source)
                note = _hostile_note(sig.source, *hostile[sig.source], keyring)
                tally.uncounted.append((position, note))
            continue
        if sig.unsupported is not None:
            tally.refuse(position, sig, Reason.UNSUPPORTED, sig.unsupported)
            continue
        if sig.packet in seen_packets:
            detail = "the same signature was given more than once"
            tally.refuse(position, sig, Reason.DUPLICATE_SIGNATURE, detail)
            continue
        seen_packets.add(sig.packet)
        candidates: list[Certificate] = []
        refusal = _packet_refusal(sig)
        if refusal is None:
            candidates = keyring.candidates(sig.facts.issuer_fingerprint, sig.facts.issuer_key_id)
            refusal = _signer_refusal(sig, candidates, now)
        if refusal is not None:
            tally.refuse(position, sig, *refusal)
            continue
        pending.append((position, sig, candidates))
    return pending


def _quick_digests(pending: list[_Pending], signed: Path | bytes) -> dict[str, Any]:
    """The file's digests for the 16-bit quick check, when the check can save engine work."""
    # The quick check pays off only when some certificate is named by more than one pending
    # signature (the engine hashes the file again for each one it verifies); with one
    # signature per signer (the honest case) the engine's own pass is the only one.
    named = Counter(c.fingerprint for _, _, candidates in pending for c in candidates)
    quick_check = any(count > 1 for count in named.values())
    return _file_digests(
        signed,
        {
            sig.facts.hash_algorithm
            for _, sig, _ in pending
            if quick_check and sig.facts.version == 4 and sig.facts.hash_algorithm in _HASHLIB_NAMES
        },
    )


def _skip_refusal(
    sig: DetachedSignature,
    candidates: list[Certificate],
    tally: _Tally,
    threshold: int,
    digests: dict[str, Any],
) -> tuple[Reason, str] | None:
    """Why a pending signature need not (or cannot) reach the engine, if it need not."""
    if len(tally.counted) >= threshold:
        return Reason.NOT_NEEDED, "not checked: the threshold was already met"
    done = {c.fingerprint for c in tally.counted}
    if all(c.fingerprint in done for c in candidates):
        return (
            Reason.DUPLICATE_SIGNER,
            f"{candidates[0].label} already counted once (not checked again)",
        )
    if _prefix_matches(sig, digests) is False:
        return (
            Reason.BAD_SIGNATURE,
            "the file differs from what was signed (the signature's 16-bit digest "
            "quick check fails)",
        )
    return None


def _count_verified(
    position: int, sig: DetachedSignature, outcome: Verified, keyring: Keyring, tally: _Tally
) -> None:
    """Count the signer of a verified signature once per certificate and per key material."""
    signer = keyring.get(outcome.certificate)
    if signer is None:  # the engine may only return certificates we gave it
        detail = f"verified by {outcome.certificate}, which is not trusted"
        tally.refuse(position, sig, Reason.UNKNOWN_SIGNER, detail)
        return
    signing_key = signer.facts.key(outcome.signing_key)
    material = signing_key.material if signing_key is not None else outcome.signing_key
    if any(c.fingerprint == signer.fingerprint for c in tally.counted):
        tally.refuse(position, sig, Reason.DUPLICATE_SIGNER, f"{signer.label} already counted once")
        return
    if material in tally.material:
        detail = (
            f"key material of {outcome.signing_key} already counted for {tally.material[material]}"
        )
        tally.refuse(position, sig, Reason.DUPLICATE_SIGNER, detail)
        return
    tally.material[material] = signer.fingerprint
    tally.counted.append(
        CountedSigner(
            fingerprint=signer.fingerprint,
            signing_key=outcome.signing_key,
            name=signer.name,
            signature=sig.where,
            created=sig.facts.created,
        )
    )


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
    tally = _Tally()
    pending = _screen(signatures, keyring, now, tally)
    signed: Path | bytes = path if data is None else data
    digests = _quick_digests(pending, signed)
    for position, sig, candidates in pending:
        skip = _skip_refusal(sig, candidates, tally, threshold, digests)
        if skip is not None:
            tally.refuse(position, sig, *skip)
            continue
        outcome = engine.verify_detached(signed, sig.packet, [c.handle for c in candidates])
        if not isinstance(outcome, Verified):
            tally.refuse(position, sig, *_classify_failure(sig, candidates, outcome))
            continue
        _count_verified(position, sig, outcome, keyring, tally)
    names = {c.fingerprint: c.name for c in keyring.certificates() if c.name}
    return ThresholdResult(
        file=str(path),
        threshold=threshold,
        trusted=tuple(keyring.fingerprints()),
        counted=tuple(tally.counted),
        uncounted=tally.refusals(),
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
    """Evaluate the threshold over the file at ``path`` and raise when it is not met."""
    result = evaluate_threshold(path, signatures, keyring, threshold, now=now, engine=engine)
    return result.require(package)
