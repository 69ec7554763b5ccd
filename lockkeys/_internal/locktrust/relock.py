"""Certificates across re-locks: merged into what the lock embeds, never replaced.

`lockkeys lock` merges each configured certificate into the one the previous lock embeds
(same primary fingerprint): new subkeys, self-signatures and revocations are added, older
self-signatures are kept, so a signature made before an expiry extension keeps counting. A
configured certificate with another primary key is a replacement: it is embedded as given,
keeping a certification by the key it replaces (a transition statement, see
:mod:`lockkeys._internal.trust.transition`), and `lockkeys diff` reports it.

`lock --check` asks :func:`certificate_news` whether a certificate file holds anything the lock
lacks, and names the signer and what is new.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from lockkeys._internal.config.policy import PolicyTable
from lockkeys._internal.config.source_table import SourceConfig
from lockkeys._internal.lockmodel.lock import Lock
from lockkeys._internal.trust.certs import Certificate, merge_certificates, parse_certificate
from lockkeys._internal.trust.merge import compare_certificates, describe
from lockkeys.errors import InputError


def embedded_certificates(lock: Lock, file: str) -> dict[str, Certificate]:
    """fingerprint -> the certificate the lock embeds (a damaged one is simply not reused)."""
    out: dict[str, Certificate] = {}
    for name, signer in lock.tool.signers.items():
        source = f"{file}: tool.lockkeys.signers.{name}.certificate"
        try:
            cert = parse_certificate(signer.certificate.encode("utf-8"), source, name)
        except InputError:
            continue
        if cert.fingerprint == signer.fingerprint:
            out[cert.fingerprint] = cert
    return out


def merge_with_lock(
    certs: Mapping[str, Certificate], previous: Lock | None, file: str
) -> dict[str, Certificate]:
    """Each configured certificate merged into the previous lock's copy of the same key."""
    if previous is None:
        return dict(certs)
    embedded = embedded_certificates(previous, file)
    old_by_name = {name: s.fingerprint for name, s in previous.tool.signers.items()}
    out: dict[str, Certificate] = {}
    for name, cert in certs.items():
        before = embedded.get(cert.fingerprint)
        if before is not None:
            out[name] = merge_certificates(before, cert)
            continue
        old = old_by_name.get(name)
        if old is not None and old != cert.fingerprint:
            # A replacement: keep a transition statement by the key it replaces, if any.
            out[name] = parse_certificate(
                _original_bytes(cert), cert.source, name, keep_certifiers=frozenset({old})
            )
            continue
        out[name] = cert
    return out


def _original_bytes(cert: Certificate) -> bytes:
    """The certificate file as given (its third-party certifications are not in ``binary``)."""
    try:
        return Path(cert.source).read_bytes()
    except OSError:
        return cert.binary


def certificate_news(certs: Mapping[str, Certificate], lock: Lock, file: str) -> list[str]:
    """One line per configured signer whose certificate holds what the lock lacks."""
    embedded = embedded_certificates(lock, file)
    by_name = {name: s.fingerprint for name, s in lock.tool.signers.items()}
    lines: list[str] = []
    for name, cert in sorted(certs.items()):
        before = embedded.get(cert.fingerprint)
        if before is None:
            old = by_name.get(name)
            if old is not None:
                lines.append(
                    f"signer {name}: the certificate file holds another key "
                    f"({cert.fingerprint}, the lock has {old}): a replacement"
                )
            continue
        news = describe(compare_certificates(before, merge_certificates(before, cert)))
        if news:
            lines.append(
                f"signer {name}: the certificate file has what the lock lacks: " + "; ".join(news)
            )
    return lines


def trust_summary(previous: Lock | None, new: Lock, file: str) -> list[str]:
    """What a re-lock changed in trust, as `lockkeys diff` prints it (versions and files are
    printed by the locker's own change list)."""
    from lockkeys._internal.locktrust.lockdiff import diff_locks

    if previous is None:
        return []
    from lockkeys._internal.locktrust.lockfields import Kind

    result = diff_locks(previous, new, f"{file} (before)", file)
    return [
        c.line()
        for c in result.changes
        if c.field not in ("version", "files")
        and not (c.kind is Kind.NEUTRAL and c.field in _PRINTED_OR_INPUTS)
    ]


# Neutral changes a re-lock prints already (markers, with the versions) or that only say the
# inputs changed: `lockkeys diff` lists them, the re-lock summary does not repeat them.
_PRINTED_OR_INPUTS = frozenset({"marker", "inputs-digest", "requirements", "required-by"})


def trust_mismatches(
    policies: PolicyTable,
    sources: Sequence[SourceConfig],
    certs: Mapping[str, Certificate],
    lock: Lock,
) -> list[str]:
    """Where the lock's trust content differs from what the configuration says (threat-model
    row 20: a lock weakened by hand keeps its inputs digest, so `lock --check` compares the
    trust itself): each package's policy, signers, threshold, source and substitute, the
    signers' fingerprints, and the sources.

    ``policies`` and ``sources`` are the configuration's; ``certs`` its signers'
    certificates by name."""
    from packaging.version import InvalidVersion, Version

    lines: list[str] = []
    names = {s.name: s for s in sources}

    def differ(where: str, locked: object, configured: object) -> None:
        lines.append(f"{where}: the lock says {locked!r}, the configuration says {configured!r}")

    for name, signer in sorted(lock.tool.signers.items()):
        cert = certs.get(name)
        if cert is not None and cert.fingerprint != signer.fingerprint:
            differ(f"signers.{name}.fingerprint", signer.fingerprint, cert.fingerprint)
    for source in lock.tool.sources:
        configured = names.get(source.name)
        if configured is None:
            lines.append(f"sources.{source.name}: in the lock, not in the configuration")
            continue
        if (source.url or None) != (configured.url or None):
            differ(f"sources.{source.name}.url", source.url, configured.url)
        if tuple(source.mirrors) != tuple(configured.mirrors):
            differ(f"sources.{source.name}.mirrors", list(source.mirrors), list(configured.mirrors))
    for pkg in lock.packages:
        policy = policies.policy(pkg.name)
        tool = pkg.tool
        forked = len(lock.entries(pkg.name)) > 1
        where = f"packages.{pkg.name}" + (f"=={pkg.version}" if forked else "")
        if tool.verify != policy.verify:
            differ(f"{where}.verify", tool.verify, policy.verify)
        wanted = sorted(certs[n].fingerprint for n in policy.signers if n in certs)
        if sorted(tool.signers) != wanted:
            differ(f"{where}.signers", sorted(tool.signers), wanted)
        if tool.threshold != policy.threshold:
            differ(f"{where}.threshold", tool.threshold, policy.threshold)
        if policy.source is not None and tool.source != policy.source:
            differ(f"{where}.source", tool.source, policy.source)
        elif tool.source not in names:
            lines.append(f"{where}.source: {tool.source!r} is not a configured source")
        if tool.allow_sdist != policy.allow_sdist:
            differ(f"{where}.allow-sdist", tool.allow_sdist, policy.allow_sdist)
        if policy.substitute is None and (tool.substitutes or tool.override):
            differ(f"{where}.substitutes", tool.substitutes, None)
        elif policy.substitute is not None:
            try:
                same = Version(pkg.version) == Version(policy.substitute)
            except InvalidVersion:
                same = pkg.version == policy.substitute
            if not same:
                differ(f"{where}.version", pkg.version, policy.substitute)
    return lines


__all__ = [
    "certificate_news",
    "embedded_certificates",
    "merge_with_lock",
    "trust_mismatches",
    "trust_summary",
]
