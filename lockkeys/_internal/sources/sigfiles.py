"""Where a distribution file's detached signatures are, and reading them all.

One place for lock time and install time: ``<file url>.asc`` beside the file (index, folder
or wheelhouse) and ``<store>/<file name>.asc`` in each signature store (a folder, or an
http(s) URL unless offline). Unreadable signature files become notes that explain a
shortfall; they never crash a run and never count. A signature file or store that answers
5xx or cannot be reached is a source problem: when the threshold is not met without it, the
caller raises :func:`unreachable_error` (exit 3, naming the URL) instead of a refusal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from lockkeys._internal.sources.fetch import fetch_optional_text
from lockkeys._internal.trust.signatures import DetachedSignature, parse_signatures
from lockkeys.errors import InputError, SourceError

MAX_SIGNATURE_FILE = 1024 * 1024


def _too_large(exc: SourceError) -> bool:
    """A size overrun is an answer, not an outage: the installer refuses such a file (exit 1).
    The transport raises its own error type for it where it has one."""
    from lockkeys._internal.sources import fetch

    kind = getattr(fetch, "TooLargeError", None)
    if isinstance(kind, type) and isinstance(exc, kind):
        return True
    return exc.message.startswith("more data than allowed")


def signature_urls(
    file_url: str, filename: str, stores: Sequence[str], base: Path, *, offline: bool = False
) -> tuple[str, ...]:
    """``file_url + ".asc"``, then each store's ``<filename>.asc`` (folders relative to base)."""
    urls = [f"{file_url}.asc"]
    for store in stores:
        if store.startswith(("http://", "https://")):
            if not offline:
                urls.append(f"{store.rstrip('/')}/{filename}.asc")
        else:
            urls.append((base / store / f"{filename}.asc").resolve().as_uri())
    return tuple(urls)


@dataclass
class Gathered:
    """What reading a file's signature sources found: signatures, notes, key packets, failures."""

    signatures: list[DetachedSignature] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    packets: list[bytes] = field(default_factory=list)
    unreachable: list[tuple[str, str]] = field(default_factory=list)  # (url, what happened)


def unreachable_error(found: Gathered, package: str | None, filename: str) -> SourceError:
    """The error for a threshold not met while signature sources could not be read."""
    (url, message), *rest = found.unreachable
    return SourceError(
        f"signature source could not be read for {filename}: {message}",
        package=package,
        file=url,
        details=[f"also unreachable: {u}: {m}" for u, m in rest]
        + ["the signature threshold is not met without it"],
        fix="check that the signature store or index is reachable, then run again",
    )


def gather(urls: Sequence[str], *, timeout: float = 30.0) -> Gathered:
    """Read every signature file that exists among ``urls``."""
    out = Gathered()
    for url in urls:
        try:
            data = fetch_optional_text(
                url,
                max_size=MAX_SIGNATURE_FILE,
                connect_timeout=min(10.0, timeout),
                read_timeout=timeout,
            )
        except SourceError as exc:
            out.notes.append(f"signature file {url}: {exc.message}")
            if not _too_large(exc):  # oversized: it was read, and is not a signature file
                out.unreachable.append((url, exc.message))
            continue
        if data is None:
            continue
        label = url2pathname(urlsplit(url).path) if url.startswith("file:") else url
        try:
            sigs = parse_signatures(data, label)
        except InputError as exc:
            out.notes.append(f"ignored unreadable signature file: {exc.headline()}")
            continue
        out.signatures.extend(sigs)
        out.packets.extend(s.packet for s in sigs)
    return out
