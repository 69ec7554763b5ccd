"""What a source is, and what it offers: immutable values shared by the sources layer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from lockkeys.errors import InputError

SourceKind = Literal["index", "folder"]


@dataclass(frozen=True)
class Source:
    """A named place distributions come from: a PEP 503 simple index (``url``) or a local
    find-links style folder (``path``). Exactly one of the two is set."""

    name: str
    url: str | None = None
    path: Path | None = None

    def __post_init__(self) -> None:
        if (self.url is None) == (self.path is None):
            raise InputError(
                f"source {self.name!r} must have exactly one of url and path",
                expected="url = <simple index URL> or path = <folder>",
                found=f"url={self.url!r}, path={self.path!r}",
            )
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise InputError(
                f"source {self.name!r}: the index URL must be http:// or https://",
                found=self.url,
                fix="use path = <folder> for a local folder of distributions",
            )

    @property
    def kind(self) -> SourceKind:
        """An index (a URL) or a folder (a path)."""
        return "index" if self.url is not None else "folder"

    @property
    def location(self) -> str:
        """The URL or folder, for messages."""
        return self.url if self.url is not None else str(self.path)


@dataclass(frozen=True)
class RemoteFile:
    """One distribution file a source offers.

    ``url`` is ``http(s)://`` for an index and an absolute ``file://`` URL for a folder.
    ``size`` and ``sha256`` are what the source claims (None when it does not say); they are
    hints for the locker, never trusted for verification. ``core_metadata`` says whether the
    index serves the wheel's METADATA separately (PEP 658/714), which the resolution view
    relays so that resolvers read dependencies without downloading whole wheels.
    """

    filename: str
    url: str
    size: int | None
    sha256: str | None
    requires_python: str | None = None
    yanked: bool = False
    core_metadata: str | None = None
    """PEP 658/714: the file's core metadata is served at ``url + ".metadata"``; the value is
    ``"sha256=<hex>"`` (its hash) or ``"true"`` (no hash given); None: not served."""
