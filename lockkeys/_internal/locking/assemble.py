"""Step 5 of locking: assemble the lock model from what the earlier steps found.

A package entry from its collected files, the publisher identities verified for them and its
effective policy; the lock from the packages, the inputs digest, the sources, the signature
stores, the certificates the packages pin and, when identities are recorded, the digest of
the Sigstore trust root they were verified under.
Paths are written relative to the lock's folder, with ``/``: the same lock on every machine.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from lockkeys._internal.config.policy import PackagePolicy
from lockkeys._internal.locking.collect import Collected
from lockkeys._internal.lockmodel.lock import (
    LOCK_VERSION,
    Lock,
    LockedFile,
    LockedPackage,
    LockSigner,
    LockSource,
    LockTool,
    PackageTool,
    sorted_packages,
)
from lockkeys._internal.publishers.attestation import trust_root_digest
from lockkeys._internal.publishers.record import production_trust_root
from lockkeys._internal.sources.model import Source
from lockkeys._internal.trust.certs import Certificate


def relative(path: Path, base: Path) -> str:
    """``path`` relative to ``base`` (both resolved), with ``/``: how a lock names a file."""
    return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()


def locked_package(
    collected: Collected,
    policy: PackagePolicy,
    certs: Mapping[str, Certificate],
    lock_dir: Path,
) -> LockedPackage:
    """The lock entry of one collected pin: its files (URL or path relative to the lock) and
    the policy it was locked under, with its signers' fingerprints."""
    pin, chosen = collected.pin, collected.source
    locked_files: list[LockedFile] = []
    for entry in collected.files:
        remote = entry.remote
        path = None
        url: str | None = remote.url
        if chosen.path is not None:
            path = relative(Path(url2pathname(urlsplit(remote.url).path)), lock_dir)
            url = None
        locked_files.append(
            LockedFile(
                filename=remote.filename,
                size=entry.size,
                hashes={"sha256": entry.sha256},
                url=url,
                path=path,
                kind="wheel" if remote.filename.endswith(".whl") else "sdist",
            )
        )
    wheels = tuple(f for f in locked_files if f.kind == "wheel")
    sdists = [f for f in locked_files if f.kind == "sdist"]
    tool = PackageTool.model_validate(
        {
            "verify": policy.verify,
            "signers": tuple(sorted(certs[n].fingerprint for n in policy.signers)),
            "threshold": policy.threshold,
            "source": chosen.name,
            "required-by": tuple(sorted(pin.via)),
            "reason": policy.reason,
            "allow-sdist": policy.allow_sdist,
        }
    )
    return LockedPackage(
        name=pin.name,
        version=pin.version,
        index=chosen.url,
        wheels=wheels,
        sdist=sdists[0] if sdists else None,
        tool=tool,
        marker=pin.marker,
        attestation_identities=tuple(i.to_pylock() for i in collected.identities),
    )


def assemble_lock(
    packages: Sequence[LockedPackage],
    *,
    digest: str,
    requirements: Sequence[str],
    sources: Sequence[Source],
    mirrors: Mapping[str, Sequence[str]],
    signature_stores: Sequence[str],
    certs: Mapping[str, Certificate],
    lock_dir: Path,
    environments: Sequence[str] | None = None,
    requires_python: str | None = None,
    revocations: Sequence[str] = (),
    extras: Sequence[str] = (),
    dependency_groups: Sequence[str] = (),
    default_groups: Sequence[str] = (),
) -> Lock:
    """The lock, embedding only the certificates some package pins. Its sources carry their
    URLs, paths and mirrors, never anything about credentials: those are the deploy host's
    (by origin, ``lockkeys._internal.sources.auth``)."""
    used = {fpr for p in packages for fpr in p.tool.signers}
    signers = {
        name: LockSigner(fingerprint=cert.fingerprint, certificate=cert.armored())
        for name, cert in certs.items()
        if cert.fingerprint in used
    }
    tool = LockTool.model_validate(
        {
            "lock-version": LOCK_VERSION,
            "inputs-digest": digest,
            "requirements": tuple(requirements),
            "sources": tuple(
                LockSource(
                    name=s.name,
                    url=s.url,
                    path=relative(s.path, lock_dir) if s.path else None,
                    mirrors=tuple(mirrors.get(s.name, ())),
                )
                for s in sources
            ),
            "signature-stores": tuple(
                s if s.startswith(("http://", "https://")) else relative(Path(s), lock_dir)
                for s in signature_stores
            ),
            "revocations": tuple(
                s if s.startswith(("http://", "https://")) else relative(Path(s), lock_dir)
                for s in revocations
            ),
            "signers": signers,
            # Identities recorded: pin the root they were verified under (never fetched).
            "sigstore-trust-root": "sha256:" + trust_root_digest(production_trust_root())
            if any(p.attestation_identities for p in packages)
            else None,
        }
    )
    return Lock(
        tool=tool,
        packages=tuple(sorted_packages(list(packages))),
        environments=tuple(environments) if environments is not None else None,
        requires_python=requires_python,
        extras=tuple(extras),
        dependency_groups=tuple(dependency_groups),
        default_groups=tuple(default_groups),
    )


__all__ = ["assemble_lock", "locked_package", "relative"]
