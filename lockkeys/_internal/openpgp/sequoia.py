"""The Sequoia adapter: the only module that calls pysequoia (a 0.x API, pinned exactly).

Sequoia's standard policy decides whether a signature is valid: subkey bindings and primary-key
back-signatures, revocations (hard ones void everything, soft ones only later signatures),
expiry judged at signing time, digest policy (MD5/SHA-1 rejected), critical subpackets.
pysequoia reports every failure as a plain RuntimeError, so lockkeys explains refusals from the
packet facts it reads itself (:mod:`lockkeys._internal.openpgp.sigpacket`), never by matching
strings.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import pysequoia

from lockkeys._internal.openpgp.armor import (
    TAG_PUBLIC_KEY,
    TAG_PUBLIC_SUBKEY,
    TAG_SECRET_KEY,
    TAG_SECRET_SUBKEY,
    TAG_SIGNATURE,
    TAG_USER_ID,
    split_packets,
)
from lockkeys._internal.openpgp.engine import (
    CertFacts,
    EngineCert,
    GeneratedKey,
    KeyFacts,
    Verified,
)
from lockkeys._internal.openpgp.keypacket import KeyPacketInfo, UnsupportedKey, parse_key_packet
from lockkeys._internal.openpgp.sigpacket import (
    SignatureFacts,
    UnsupportedSignature,
    parse_signature_packet,
)
from lockkeys.errors import InputError, UsageError

ALGORITHMS = {
    "ed25519": pysequoia.CipherSuite.Cv25519,
    "rsa3072": pysequoia.CipherSuite.RSA3k,
    "rsa4096": pysequoia.CipherSuite.RSA4k,
}

_CERT_SIG_TYPES = {0x10, 0x11, 0x12, 0x13, 0x1F}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _latest(sigs: list[SignatureFacts], types: set[int]) -> SignatureFacts | None:
    chosen = [s for s in sigs if s.type_id in types]
    if not chosen:
        return None
    return max(chosen, key=lambda s: s.created or datetime.min.replace(tzinfo=UTC))


def _own(sigs: list[SignatureFacts], primary_fpr: str) -> list[SignatureFacts]:
    """Self-signatures only: those issued by the certificate's own primary key.

    A binding issued by another key (a subkey grafted from another certificate, with that
    certificate's binding) can never validate here, so it is not part of this certificate.
    """
    own = []
    for sig in sigs:
        if sig.issuer_fingerprint is not None:
            if sig.issuer_fingerprint == primary_fpr:
                own.append(sig)
        elif sig.issuer_key_id is not None and primary_fpr.endswith(sig.issuer_key_id):
            own.append(sig)
    return own


def _key_facts(
    info: KeyPacketInfo,
    sigs: list[SignatureFacts],
    binding_types: set[int],
    revocation_type: int,
    expires: datetime | None,
    use_binding_expiry: bool,
) -> KeyFacts:
    binding = _latest(sigs, binding_types)
    if use_binding_expiry and binding is not None and binding.key_expires_after is not None:
        expires = info.created + binding.key_expires_after
    revocation = _latest(sigs, {revocation_type})
    revoked_at = _soft_revocation(sigs, revocation_type)
    dates = [s.created for s in sigs if s.type_id in binding_types and s.created is not None]
    return KeyFacts(
        fingerprint=info.fingerprint,
        algorithm=info.description,
        bits=info.bits,
        created=info.created,
        expires=expires,
        capabilities=binding.key_flags if binding is not None else frozenset(),
        revoked=revocation is not None,
        revocation_reason=revocation.revocation_reason if revocation else None,
        material=info.material,
        is_rsa=info.algorithm_id in (1, 2, 3),
        valid_from=min(dates) if dates else None,
        revoked_at=revoked_at,
    )


def _soft_revocation(sigs: list[SignatureFacts], revocation_type: int) -> datetime | None:
    """When the key's revocation took effect, if every revocation of it is soft (superseded,
    retired) and dated: the earliest. None when there is none or any one is hard."""
    revocations = [s for s in sigs if s.type_id == revocation_type]
    if not revocations or any(s.hard_revocation or s.created is None for s in revocations):
        return None
    return min(s.created for s in revocations if s.created is not None)


def cert_facts(binary: bytes, source: str, *, expires: datetime | None, revoked: bool) -> CertFacts:
    """Describe a certificate from its (engine-canonicalized) packets.

    A subkey packet lockkeys cannot read (a v5 key, an unknown algorithm) is ignored with a
    note, and the rest of the certificate is used; signatures it cannot read are skipped.
    """
    packets = split_packets(binary, source)
    primary: tuple[KeyPacketInfo, int] | None = None
    primary_sigs: list[SignatureFacts] = []
    user_ids: list[str] = []
    subkeys: list[tuple[KeyPacketInfo, list[SignatureFacts]]] = []
    notes: list[str] = []
    has_secret = False
    ignored: list[SignatureFacts] = []
    current: list[SignatureFacts] = primary_sigs
    for packet in packets:
        if packet.tag in (TAG_PUBLIC_KEY, TAG_SECRET_KEY) and primary is None:
            try:
                primary = (parse_key_packet(packet.body, packet.tag), packet.tag)
            except UnsupportedKey as exc:
                raise InputError(f"unusable primary key: {exc}", file=source) from None
            has_secret = packet.tag == TAG_SECRET_KEY
        elif packet.tag in (TAG_PUBLIC_SUBKEY, TAG_SECRET_SUBKEY):
            try:
                info = parse_key_packet(packet.body, packet.tag)
            except UnsupportedKey as exc:
                notes.append(f"ignored a subkey: {exc}")
                current = ignored
                continue
            subkeys.append((info, []))
            current = subkeys[-1][1]
        elif packet.tag == TAG_USER_ID:
            user_ids.append(packet.body.decode("utf-8", "replace"))
            current = primary_sigs
        elif packet.tag == TAG_SIGNATURE:
            with contextlib.suppress(UnsupportedSignature):
                current.append(parse_signature_packet(packet.body))
        else:
            current = ignored  # user attributes and unknown components: not read
    if primary is None:
        raise InputError("no primary key in the certificate", file=source)
    primary_info = primary[0]
    primary_fpr = primary_info.fingerprint
    primary_sigs = _own(primary_sigs, primary_fpr)
    primary_facts = _key_facts(
        primary_info, primary_sigs, _CERT_SIG_TYPES, 0x20, expires, use_binding_expiry=False
    )
    primary_facts = KeyFacts(
        **{**primary_facts.__dict__, "revoked": revoked or primary_facts.revoked}
    )
    subkey_facts = []
    for info, all_sigs in subkeys:
        sigs = _own(all_sigs, primary_fpr)
        if not any(s.type_id == 0x18 for s in sigs):
            continue  # no binding: not part of the certificate (verifier rule 12)
        subkey_facts.append(_key_facts(info, sigs, {0x18}, 0x28, None, use_binding_expiry=True))
    return CertFacts(
        fingerprint=primary_facts.fingerprint,
        user_ids=tuple(user_ids),
        primary=primary_facts,
        subkeys=tuple(subkey_facts),
        expires=expires,
        revoked=revoked,
        has_secret=has_secret,
        notes=tuple(notes),
    )


class SequoiaEngine:
    """:class:`lockkeys._internal.openpgp.engine.OpenPGPEngine` on pysequoia."""

    name = "sequoia"

    def load_certificate(self, binary: bytes, source: str) -> tuple[EngineCert, CertFacts]:
        """Parse one certificate (public only). Raises InputError naming ``source``."""
        try:
            cert = pysequoia.Cert.from_bytes(binary)
        except RuntimeError as exc:
            raise InputError(
                f"not a usable OpenPGP certificate: {_first_line(exc)}", file=source
            ) from None
        return cast(EngineCert, cert), self._facts(cert, source)

    def load_secret_key(self, binary: bytes, source: str) -> tuple[EngineCert, CertFacts]:
        """Parse one transferable secret key. Raises InputError naming ``source``."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                tsk = pysequoia.Tsk.from_bytes(binary)
        except RuntimeError as exc:
            raise InputError(
                f"not a usable OpenPGP secret key: {_first_line(exc)}", file=source
            ) from None
        cert = tsk.extract_certificate()
        facts = self._facts(cert, source)
        return cast(EngineCert, tsk), CertFacts(**{**facts.__dict__, "has_secret": True})

    def _facts(self, cert: pysequoia.Cert, source: str) -> CertFacts:
        # Sequoia's policy refuses to evaluate some certificates at all (e.g. an RSA-1024
        # primary): they still load, their facts come from the packets, and no signature by
        # them will ever verify.
        try:
            expiration = cert.expiration
        except RuntimeError:
            expiration = None
        try:
            revoked = cert.is_revoked
        except RuntimeError:
            revoked = False
        try:
            binary = bytes(cert)
        except RuntimeError as exc:  # Sequoia parsed it but cannot write it back (fuzzing)
            raise InputError(
                f"not a usable OpenPGP certificate: {_first_line(exc)}", file=source
            ) from None
        return cert_facts(
            binary,
            source,
            expires=expiration.astimezone(UTC) if expiration else None,
            revoked=revoked,
        )

    def canonical(self, handle: EngineCert, keep_certifiers: frozenset[str] = frozenset()) -> bytes:
        """The certificate as Sequoia parsed it, keeping only what binds to its primary key.

        Sequoia drops packets it cannot parse but keeps unbound components; lockkeys keeps the
        primary key and its own signatures, user IDs Sequoia finds validly bound (and not
        revoked), subkeys with a binding by the primary, and third-party certifications only
        when issued by a key in ``keep_certifiers`` (a transition statement). User attributes,
        unbound user IDs and other third-party signatures are dropped.
        """
        cert = cast(pysequoia.Cert, handle)
        try:
            valid_uids = {str(u).encode("utf-8") for u in cert.user_ids}
        except RuntimeError:  # the policy refuses the whole certificate (e.g. RSA-1024)
            valid_uids = set()
        packets = split_packets(bytes(cert), "certificate")
        primary_fpr = parse_key_packet(packets[0].body).fingerprint
        keep = {primary_fpr, *(f.upper() for f in keep_certifiers)}
        out: list[bytes] = []
        keeping = True
        third_party_ok = False
        for packet in packets:
            if packet.tag in (TAG_PUBLIC_KEY, TAG_SECRET_KEY, TAG_PUBLIC_SUBKEY, TAG_SECRET_SUBKEY):
                keeping, third_party_ok = True, False
            elif packet.tag == TAG_USER_ID:
                keeping, third_party_ok = packet.body in valid_uids, True
            elif packet.tag != TAG_SIGNATURE:
                keeping = False  # user attributes and anything else: not needed to verify
            if not keeping:
                continue
            if packet.tag == TAG_SIGNATURE:
                try:
                    facts = parse_signature_packet(packet.body)
                except ValueError:
                    continue
                issuer = (facts.issuer_fingerprint or "").upper()
                key_id = (facts.issuer_key_id or "").upper()
                own = issuer == primary_fpr or (
                    not issuer and key_id and primary_fpr.endswith(key_id)
                )
                if not own and not (
                    third_party_ok
                    and 0x10 <= facts.type_id <= 0x13
                    and (issuer in keep or any(k.endswith(key_id) for k in keep if key_id))
                ):
                    continue
            out.append(packet.raw)
        return b"".join(out)

    def certify(
        self, certificate: bytes, user_id: str, certifier: EngineCert, passphrase: str | None
    ) -> bytes:
        """Certify ``user_id`` of ``certificate`` with ``certifier``'s primary key (what
        `gpg --sign-key` makes); returns the certificate with the certification added."""
        tsk = cast(pysequoia.Tsk, certifier)
        try:
            signer = tsk.certifier(passphrase) if passphrase is not None else tsk.certifier()
        except RuntimeError as exc:
            raise UsageError(
                "cannot unlock the old secret key",
                found=_first_line(exc),
                fix="pass its passphrase with --replaces-passphrase-file FILE",
            ) from None
        cert = pysequoia.Cert.from_bytes(certificate)
        return bytes(cert.add_user_id(user_id, signer))

    def merge(self, first: EngineCert, second: EngineCert, source: str) -> EngineCert:
        """Sequoia's certificate merge: the union of both, older self-signatures kept."""
        try:
            merged = cast(pysequoia.Cert, first).merge(cast(pysequoia.Cert, second))
        except RuntimeError as exc:
            raise InputError(
                f"cannot merge certificates: {_first_line(exc)}", file=source
            ) from None
        return cast(EngineCert, merged)

    def verify_detached(
        self, signed: Path | bytes, signature: bytes, certificates: list[EngineCert]
    ) -> Verified | str:
        """Verify a detached signature over ``signed`` by one of ``certificates``; a reason when it
        fails."""
        try:
            sig = pysequoia.Sig.from_bytes(signature)
        except RuntimeError as exc:
            return f"unreadable signature: {_first_line(exc)}"
        certs = [cast(pysequoia.Cert, c) for c in certificates]

        def store(_key_ids: list[str]) -> list[pysequoia.Cert]:
            return certs

        try:
            if isinstance(signed, bytes):
                result = pysequoia.verify(bytes=signed, signature=sig, store=store)
            else:
                result = pysequoia.verify(file=os.fspath(signed), signature=sig, store=store)
        except RuntimeError as exc:
            return _first_line(exc)
        for valid in result.valid_sigs:
            return Verified(
                certificate=str(valid.certificate).upper(),
                signing_key=str(valid.signing_key).upper(),
            )
        return "no valid signature"

    def sign_detached(self, secret: EngineCert, path: Path, passphrase: str | None) -> bytes:
        """A binary detached signature over the file at ``path`` by ``secret``."""
        tsk = cast(pysequoia.Tsk, secret)
        try:
            signer = tsk.signer(passphrase) if passphrase is not None else tsk.signer()
        except RuntimeError as exc:
            message = _first_line(exc)
            if passphrase is None:
                raise UsageError(
                    "the secret key is protected by a passphrase",
                    found=message,
                    fix="pass --passphrase-file FILE",
                ) from None
            raise UsageError(
                "cannot unlock the secret key with the given passphrase",
                found=message,
                fix="check the passphrase file (its first line is the passphrase)",
            ) from None
        fd, tmp = tempfile.mkstemp(prefix=".lockkeys-sig-", suffix=".sig")
        os.close(fd)
        try:
            pysequoia.sign_file(
                signer,
                os.fspath(path),
                tmp,
                mode=pysequoia.SignatureMode.DETACHED,
                armor=False,
            )
            return Path(tmp).read_bytes()
        except RuntimeError as exc:
            raise UsageError(f"signing failed: {_first_line(exc)}", file=os.fspath(path)) from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def generate(self, user_id: str, validity_seconds: int | None, algorithm: str) -> GeneratedKey:
        """Generate a key for ``user_id`` with the named algorithm suite and validity."""
        suite = ALGORITHMS.get(algorithm)
        if suite is None:
            raise UsageError(
                f"unknown key algorithm {algorithm!r}",
                expected=" | ".join(sorted(ALGORITHMS)),
            )
        tsk = pysequoia.Tsk.generate(user_id, cipher_suite=suite, validity_seconds=validity_seconds)
        cert = tsk.extract_certificate()
        revocation = cert.revoke(tsk.certifier())
        return GeneratedKey(
            secret=bytes(tsk),
            certificate=bytes(cert),
            revocation=bytes(revocation),
            fingerprint=cert.fingerprint.upper(),
        )


def default_engine() -> SequoiaEngine:
    """The engine lockkeys uses unless a caller gives another."""
    return SequoiaEngine()


__all__ = ["ALGORITHMS", "SequoiaEngine", "cert_facts", "default_engine"]
