"""Revocations at deploy time, without re-locking: where the material is read from.

`revocations = ["dir-or-url", ...]` in the configuration is recorded in the lock, and
`verify`, `download` and `install` read it every time: a folder (every file in it, not
recursive) or an http(s) URL of one file, holding revocation certificates (what
`lockkeys key generate` writes as NAME.revocation.asc, or `gpg --gen-revoke`) or updated
certificates (`gpg --export` after `gpg --quick-revoke-uid`/`revkey`).

What is taken from the material, and how it is merged, is
:mod:`lockkeys._internal.trust.revocations`. A source that cannot be read is a source error
(exit 3), never skipped; offline, URL sources are not read and the report says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lockkeys._internal.fsutil import read_regular_file
from lockkeys._internal.limits import MAX_KEY_FILE
from lockkeys._internal.lockmodel.lock import Lock
from lockkeys._internal.trust.certs import Keyring
from lockkeys._internal.trust.revocations import RevocationOutcome, merge_revocations
from lockkeys.errors import InputError, SourceError

MAX_SOURCE_BYTES = 16 * 1024 * 1024


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def _read(source: str, base: Path, timeout: float) -> list[tuple[str, bytes]]:
    if _is_url(source):
        from lockkeys._internal.sources.fetch import fetch_bytes

        fetched = fetch_bytes(source, max_size=MAX_SOURCE_BYTES, read_timeout=timeout)
        return [(source, fetched.data)]
    folder = Path(source) if Path(source).is_absolute() else base / source
    if not folder.is_dir():
        raise SourceError(
            "revocation source is not a readable folder",
            file=str(folder),
            fix="create it (it may stay empty), or remove it from `revocations` and re-lock",
        )
    files = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        try:  # a regular file under the key-file cap (issue 12, item 5)
            files.append((str(path), read_regular_file(path, "revocation file", MAX_KEY_FILE)))
        except InputError as exc:
            raise SourceError(
                f"cannot read revocation file: {exc.message}", file=str(path)
            ) from None
    return files


def apply_revocations(
    keyring: Keyring,
    sources: Sequence[str],
    base: Path,
    *,
    offline: bool = False,
    timeout: float = 30.0,
) -> RevocationOutcome:
    """Merge the revocations published in ``sources`` into the pinned certificates."""
    notes: list[str] = []
    documents: list[tuple[str, bytes]] = []
    for source in sources:
        if offline and _is_url(source):
            notes.append(f"revocations: {source} was not read (offline)")
            continue
        documents += _read(source, base, timeout)
    return merge_revocations(keyring, documents, notes)


def deploy_revocations(
    lock: Lock, lock_path: Path, keyring: Keyring, offline: bool, timeout: float
) -> RevocationOutcome:
    """The lock's `revocations` sources (relative to the lock's folder) applied to its keyring."""
    return apply_revocations(
        keyring,
        lock.tool.revocations,
        Path(lock_path).resolve().parent,
        offline=offline,
        timeout=timeout,
    )


__all__ = ["RevocationOutcome", "apply_revocations", "deploy_revocations"]
