"""Getting the bytes to verify: which file this environment needs, and where to read it.

Files are fetched only from the source the lock pins the package to (or that source's mirrors,
or a wheelhouse), named from the lock (never from HTTP headers), into a private folder, with
the lock's size as a cap. Signatures come from ``<file url>.asc``, ``.asc`` beside files in
folders and wheelhouses, and the lock's signature stores.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from lockkeys._internal.install.environment import TargetEnvironment
from lockkeys._internal.listing import summarize
from lockkeys._internal.lockmodel.lock import LockedFile, LockedPackage, LockSource
from lockkeys._internal.sources.fetch import fetch_to
from lockkeys._internal.sources.sigfiles import gather, signature_urls
from lockkeys._internal.trust.signatures import DetachedSignature
from lockkeys.errors import InputError, SourceError, VerificationError

# Under a signatures-only policy a signed rebuild may differ in size from the locked file:
# allow growth, but keep a bound (endless data, threat-model row 2).
REBUILD_GROWTH = 4
REBUILD_SLACK = 16 * 1024 * 1024


def choose_file(package: LockedPackage, env: TargetEnvironment) -> LockedFile:
    """The best wheel for the target; the sdist only where the lock allows it."""
    ranked: list[tuple[int, str, LockedFile]] = []
    for wheel in package.wheels:
        try:
            tags = parse_wheel_filename(wheel.filename)[3]
        except InvalidWheelFilename:
            continue
        rank = env.tag_rank(tags)
        if rank is not None:
            ranked.append((rank, wheel.filename, wheel))
    if ranked:
        return min(ranked, key=lambda item: (item[0], item[1]))[2]
    if package.sdist is not None and package.tool.allow_sdist:
        return package.sdist
    offered = summarize([w.filename for w in package.wheels], noun="wheels") or "no wheels"
    if package.sdist is not None:
        raise VerificationError(
            "only a source distribution fits this environment, and the lock does not allow "
            "building from source",
            package=package.name,
            file=package.sdist.filename,
            expected="a wheel for this environment",
            found=offered,
            fix=f"set allow-sdist = true in [tool.lockkeys.packages.{package.name}] and re-lock "
            "(the build then uses only what is already installed), or provide a wheel",
        )
    raise VerificationError(
        "no locked wheel fits this environment",
        package=package.name,
        expected=f"a wheel tagged for {env.tags[0] if env.tags else 'this interpreter'}",
        found=offered,
        fix="lock on a source that offers a wheel for this platform",
    )


def size_cap(package: LockedPackage, file: LockedFile) -> int:
    """The most bytes a fetch of the file may read: its locked size when only those bytes
    pass, else room for a signed rebuild."""
    if package.tool.verify in ("hashes", "hashes+signatures"):
        return file.size
    return file.size * REBUILD_GROWTH + REBUILD_SLACK


@dataclass(frozen=True)
class Candidate:
    """One place to read the file from, and where its `.asc` might be."""

    label: str
    url: str  # http(s):// or file://
    signature_urls: tuple[str, ...]


def _mirror_urls(url: str, source: LockSource | None) -> list[tuple[str, str]]:
    urls = [(url, "source")]
    if source is None or not source.url:
        return urls
    primary = urlsplit(source.url)
    target = urlsplit(url)
    if (target.scheme, target.netloc) != (primary.scheme, primary.netloc):
        return urls
    for mirror in source.mirrors:
        m = urlsplit(mirror)
        urls.append((urlunsplit((m.scheme, m.netloc, target.path, target.query, "")), mirror))
    return urls


def candidates(
    package: LockedPackage,
    file: LockedFile,
    *,
    sources: Mapping[str, LockSource],
    lock_dir: Path,
    wheelhouse: Path | None,
    stores: Sequence[str],
) -> Iterator[Candidate]:
    """The places to fetch the file from, in order: the wheelhouse (offline), else its URL
    and the source's mirrors, else its path beside the lock; each with its signatures' places."""

    def place(label: str, url: str) -> Candidate:
        sigs = signature_urls(url, file.filename, stores, lock_dir, offline=wheelhouse is not None)
        return Candidate(label, url, sigs)

    if wheelhouse is not None:
        yield place(f"wheelhouse {wheelhouse}", (wheelhouse / file.filename).resolve().as_uri())
        return
    if file.url is not None:
        for url, label in _mirror_urls(file.url, sources.get(package.tool.source)):
            yield place(label, url)
        return
    if file.path is not None:
        local = (lock_dir / file.path).resolve()
        yield place(f"folder {local.parent}", local.as_uri())
        return
    raise InputError(f"{file.filename}: the lock gives neither url nor path", package=package.name)


DEFAULT_TIMEOUT = 30.0


def fetch_file(
    candidate: Candidate, dest: Path, cap: int, package: str, timeout: float = DEFAULT_TIMEOUT
) -> None:
    """Fetch with a per-read timeout; connecting gets at most 10 s, the whole file ten reads'
    worth (300 s by default), so a trickling server cannot hold a deploy for long."""
    try:
        fetch_to(
            candidate.url,
            dest,
            max_size=cap,
            connect_timeout=min(10.0, timeout),
            read_timeout=timeout,
            total_timeout=timeout * 10,
        )
    except SourceError as exc:
        if exc.package is None:
            exc.package = package
        raise


def gather_signatures(
    candidate: Candidate, timeout: float = DEFAULT_TIMEOUT
) -> tuple[list[DetachedSignature], list[str], list[bytes], list[tuple[str, str]]]:
    """Signatures from every place; unreadable ones become notes, never crashes; the places
    that could not be reached (5xx, connection errors) are returned last, as (url, why)."""
    found = gather(candidate.signature_urls, timeout=timeout)
    return found.signatures, found.notes, found.packets, found.unreachable
