"""Step 3 of locking: check signatures. Where a package's policy includes signatures, every
file of its pinned release (every platform's wheel and the sdist, since a deploy elsewhere
will need them) must already meet its threshold of distinct pinned signers, else nothing is
locked.

With ``publishers = "record"`` (the default), the PEP 740 attestations beside the files of a
folder source are verified too, and the identities verified for every file that has one are
recorded (:func:`record_publishers`); a failing attestation stops the lock, naming the file.
Index sources are not read for provenance yet."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from lockkeys._internal.config.policy import PackagePolicy
from lockkeys._internal.listing import summarize
from lockkeys._internal.locking.collect import Collected
from lockkeys._internal.publishers.record import (
    file_identities,
    production_trust_root,
    release_identities,
)
from lockkeys._internal.sources.model import RemoteFile
from lockkeys._internal.sources.sigfiles import Gathered, gather, signature_urls, unreachable_error
from lockkeys._internal.trust.certs import Certificate, Keyring
from lockkeys._internal.trust.threshold import evaluate_threshold
from lockkeys.errors import VerificationError

#: Files whose shortfall is explained in full; the others are only named.
DETAILED_FILES = 5


def needs_signatures(policy: PackagePolicy) -> bool:
    """Whether the policy requires signatures (then every file is downloaded and checked)."""
    return bool(policy.signers) and policy.threshold is not None


def check_signatures(
    collected: Collected,
    policy: PackagePolicy,
    certs: Mapping[str, Certificate],
    *,
    stores: Sequence[str],
    root: Path,
) -> None:
    """Raise VerificationError listing every file short of its threshold (with why); a
    SourceError naming the URL when a signature source that could not be read might have
    made up the shortfall (issue 12, item 7)."""
    if not needs_signatures(policy) or policy.threshold is None:
        return
    keyring = Keyring(certs[n] for n in policy.signers)
    pin = collected.pin
    shortfalls: list[str] = []
    short: list[str] = []
    for entry in collected.files:
        if entry.local is None:  # collected without its bytes: a bug in the caller
            raise AssertionError(f"{entry.remote.filename} was not downloaded")
        found = _signatures(entry.remote, stores, root)
        result = evaluate_threshold(entry.local, found.signatures, keyring, policy.threshold)
        if not result.met and found.unreachable:
            raise unreachable_error(found, pin.name, entry.remote.filename)
        if not result.met:
            short.append(entry.remote.filename)
            if len(short) <= DETAILED_FILES:
                shortfalls.append(f"{entry.remote.filename}: {result.summary()}")
                shortfalls += [f"  {line}" for line in (*found.notes, *result.explain())]
    if len(short) > DETAILED_FILES:  # a release with a hundred wheels: name them, briefly
        rest = short[DETAILED_FILES:]
        shortfalls.append(f"also short of the threshold: {summarize(rest, noun='files')}")
    if shortfalls:
        raise VerificationError(
            f"{pin.name} {pin.version} cannot be locked: its files lack enough valid signatures",
            package=pin.name,
            expected=f"{policy.threshold} of {', '.join(policy.signers)} on every file",
            details=shortfalls,
            fix="sign each file (`lockkeys sign FILE --key SECRET` writes FILE.asc), put the "
            "signatures beside the files or in a signature store, then lock again",
        )


def record_publishers(collected: Collected, mode: str) -> Collected:
    """``collected`` with the publisher identities its files' attestations verify for, under
    the bundled Sigstore production root (``mode`` "record"; "ignore" reads none). Only a
    folder source's files are read: ``FILE.publish.attestation`` and ``FILE.provenance``."""
    if mode != "record" or collected.source.path is None:
        return collected
    found = []
    for entry in collected.files:
        path = Path(url2pathname(urlsplit(entry.remote.url).path))
        one = file_identities(path, entry.remote.filename, entry.sha256, production_trust_root)
        if one is not None:
            found.append(one)
    return dataclasses.replace(collected, identities=release_identities(found))


def _signatures(remote: RemoteFile, stores: Sequence[str], root: Path) -> Gathered:
    return gather(signature_urls(remote.url, remote.filename, stores, root))


__all__ = ["check_signatures", "needs_signatures", "record_publishers"]
