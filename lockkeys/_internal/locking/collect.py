"""Step 2 of locking: collect the files of each pinned release.

Every file of the pinned version that the package's ONE source offers (its configured
`source`, else the first source offering it), with size and sha256. The sha256 and size are
taken from the index where it gives them and the bytes are not needed here (as
``pip-compile --generate-hashes`` trusts the index); otherwise, and for every file whose bytes
a later step reads (signatures, a dependent's metadata), the file is downloaded.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lockkeys._internal.config.policy import PackagePolicy
from lockkeys._internal.lockmodel.rules import FILENAME
from lockkeys._internal.publishers.identity import PublisherIdentity
from lockkeys._internal.resolve.base import Pin
from lockkeys._internal.sources.fetch import fetch_to, head_size
from lockkeys._internal.sources.model import RemoteFile, Source
from lockkeys._internal.sources.release_files import list_files
from lockkeys.errors import ResolutionError, SourceError

log = logging.getLogger("lockkeys.lock")

MAX_LOCK_DOWNLOAD = 2 * 1024**3
LOCK_WORKERS = 8
#: At most this many network requests at once across all workers: servers (and some
#: networks) stall bursts of concurrent connections; four kept a real mirror fast.
NETWORK_SLOTS = threading.BoundedSemaphore(4)


@dataclass(frozen=True)
class CollectedFile:
    """One file of a pinned release: where it is offered, its size and sha256."""

    remote: RemoteFile
    size: int
    sha256: str
    local: Path | None  # the downloaded bytes, when they were needed


@dataclass(frozen=True)
class Collected:
    """The files of one pin, from the one source it comes from, sorted by file name."""

    pin: Pin
    source: Source
    files: tuple[CollectedFile, ...]
    # The PEP 740 publisher identities verified for every file that has an attestation
    # (:func:`~lockkeys._internal.locking.release_signatures.record_publishers`).
    identities: tuple[PublisherIdentity, ...] = ()

    def first_wheel(self) -> CollectedFile | None:
        """The first wheel among the files (None: only sdists)."""
        return next((f for f in self.files if f.remote.filename.endswith(".whl")), None)


def offered_files(
    pin: Pin, policy: PackagePolicy, candidates: Sequence[Source]
) -> tuple[Source, list[RemoteFile]]:
    """The first candidate source offering files of ``pin``, and those files by name."""
    for source in candidates:
        files: list[RemoteFile] = []
        with NETWORK_SLOTS:
            offered = list_files(source, pin.name, pin.version)
        for f in offered:
            if f.yanked:
                continue
            if not FILENAME.match(f.filename):
                log.warning("%s: skipping a file with an unusual name: %r", pin.name, f.filename)
                continue
            files.append(f)
        if files:
            return source, sorted(files, key=lambda f: f.filename)
    where = f"source {policy.source!r}" if policy.source else "any configured source"
    raise ResolutionError(
        f"{pin.name} {pin.version} was resolved but is not offered by {where}",
        package=pin.name,
        expected=f"{pin.name} {pin.version} on {where}",
        found="no files",
        fix="a package pinned to a source is only taken from it: publish that version "
        "there, or pin another version with `substitute`",
    )


def collect_files(
    pin: Pin,
    policy: PackagePolicy,
    candidates: Sequence[Source],
    scratch: Path,
    *,
    download_all: bool = False,
    download_first_wheel: bool = False,
) -> Collected:
    """The files of ``pin`` with size and sha256. Downloaded into ``scratch``: every file
    with ``download_all`` (its signatures are checked), the first wheel by name with
    ``download_first_wheel`` (its metadata is read)."""
    source, files = offered_files(pin, policy, candidates)
    first_wheel = next((f.filename for f in files if f.filename.endswith(".whl")), None)

    def download(remote: RemoteFile) -> bool:
        return download_all or (download_first_wheel and remote.filename == first_wheel)

    def measure(remote: RemoteFile) -> CollectedFile:
        with NETWORK_SLOTS:
            return measure_file(remote, scratch, pin.name, download(remote))

    # What the index says is enough for most files; the others are asked for (HEAD) or
    # downloaded, and some releases ship well over a hundred files: a few at a time.
    slow = [i for i, f in enumerate(files) if download(f) or not (f.sha256 and f.size)]
    waiting = set(slow)
    measured: list[CollectedFile | None] = [
        None if i in waiting else measure_file(f, scratch, pin.name, False)
        for i, f in enumerate(files)
    ]
    if len(slow) == 1:
        measured[slow[0]] = measure(files[slow[0]])
    elif slow:
        with ThreadPoolExecutor(max_workers=LOCK_WORKERS, thread_name_prefix="file") as pool:
            for i, result in zip(slow, pool.map(measure, [files[i] for i in slow]), strict=True):
                measured[i] = result
    return Collected(pin, source, tuple(m for m in measured if m is not None))


def measure_file(remote: RemoteFile, scratch: Path, package: str, download: bool) -> CollectedFile:
    """Size and sha256 of a file: from the index when it gives the sha256 and the bytes are
    not needed here, else downloaded."""
    if not download and remote.sha256:
        # An index that gives no size (PEP 503 HTML) is asked with HEAD: a cap for later
        # downloads, never trusted for content (that is the sha256, checked on install).
        size = remote.size if remote.size is not None else head_size(remote.url)
        if size:  # 0 or None: unknown (some servers answer HEAD with no body length)
            return CollectedFile(remote, size, remote.sha256, None)
    dest = scratch / remote.filename
    result = fetch_to(remote.url, dest, max_size=MAX_LOCK_DOWNLOAD)
    if remote.sha256 and remote.sha256 != result.sha256:
        dest.unlink()
        raise SourceError(
            "the index's sha256 for a file does not match its bytes",
            package=package,
            file=remote.url,
            expected=remote.sha256,
            found=result.sha256,
        )
    return CollectedFile(remote, result.size, result.sha256, dest)


__all__ = [
    "LOCK_WORKERS",
    "NETWORK_SLOTS",
    "Collected",
    "CollectedFile",
    "collect_files",
    "downloaded_wheels",
    "measure_file",
    "offered_files",
    "scratch_folder",
]


@contextlib.contextmanager
def scratch_folder() -> Iterator[Path]:
    """A temporary folder for the files a lock downloads, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="lockkeys-lock-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def downloaded_wheels(collected: Sequence[Collected]) -> dict[str, Path]:
    """Normalized project name -> its first downloaded wheel (for reading metadata)."""
    wheels: dict[str, Path] = {}
    for c in collected:
        for entry in c.files:
            if entry.local is not None and entry.remote.filename.endswith(".whl"):
                wheels.setdefault(c.pin.name, entry.local)
                break
    return wheels
