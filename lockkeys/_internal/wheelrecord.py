"""A wheel's ``RECORD`` must tell the truth about the wheel, or the wheel is refused.

pip and uv uninstall a distribution by the paths its installed ``RECORD`` lists, so a wheel
whose ``RECORD`` names another package's files or ``../../bin/python`` has those paths deleted
on the next upgrade (threat-model row 22). Before anything is installed, every wheel's
``RECORD`` is checked against the wheel itself:

- exactly one ``RECORD``, in the wheel's one top-level ``.dist-info`` folder;
- each row names a member of this wheel: a relative path without ``..``, a drive letter, a
  NUL or a backslash (pypa ``installer`` parses the CSV), listed once;
- every file of the wheel is listed (``RECORD`` itself, ``RECORD.jws`` and ``RECORD.p7s``
  excepted, as the wheel specification says);
- each listed file has a sha256, sha384 or sha512 hash and a size, and both match its bytes.

Any failure is a :class:`~lockkeys.errors.VerificationError` (exit 1) naming the package, the
file and the row.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from collections.abc import Callable
from pathlib import Path

from installer.records import InvalidRecordEntry, RecordEntry, parse_record_file

from lockkeys._internal.wheelmeta import ARCHIVE_ERRORS
from lockkeys.errors import VerificationError, escape

MAX_RECORD = 16 * 1024 * 1024
STRONG = frozenset({"sha256", "sha384", "sha512"})
_UNSIGNED = (".dist-info/RECORD", ".dist-info/RECORD.jws", ".dist-info/RECORD.p7s")
_CHUNK = 1024 * 1024


def _unsafe(path: str) -> str | None:
    parts = path.split("/")
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        return "an absolute path"
    if ".." in parts:
        return "a path with '..'"
    if "\x00" in path or "\\" in path:
        return "a path with a NUL or backslash"
    if not path or "" in parts[:-1] or path.endswith("/"):
        return "an empty path component"
    return None


def check_wheel_record(path: Path, *, package: str) -> None:
    """Refuse the wheel at ``path`` unless its ``RECORD`` names exactly its own files with
    matching hashes and sizes (see the module docstring)."""
    filename = Path(path).name

    def refuse(message: str, found: str, expected: str | None = None) -> VerificationError:
        return VerificationError(
            f"RECORD does not tell the truth about the wheel: {message}",
            package=package,
            file=filename,
            expected=expected,
            found=found,
            fix="do not install this wheel: installers delete what RECORD lists when they "
            "uninstall it; rebuild it with a standard build backend",
        )

    try:
        with zipfile.ZipFile(path) as archive:
            members = {info.filename: info for info in archive.infolist() if not info.is_dir()}
            records = [
                name
                for name in members
                if name.count("/") == 1 and name.endswith(".dist-info/RECORD")
            ]
            if len(records) != 1:
                raise refuse(
                    "the wheel must hold exactly one .dist-info/RECORD",
                    f"{len(records)} RECORD files",
                )
            record_name = records[0]
            info = members[record_name]
            if info.file_size > MAX_RECORD:
                raise refuse("RECORD is implausibly large", f"{info.file_size} bytes")
            text = archive.read(info).decode("utf-8")
            listed = _parse(text, refuse)
            for name, entry in listed.items():
                if name not in members:
                    raise refuse(
                        f"it lists {escape(name)!r}, which is not in the wheel",
                        escape(name),
                        "only the wheel's own members",
                    )
                if name.endswith(_UNSIGNED) and name.count("/") == 1:
                    continue
                if entry.hash_ is None or entry.size is None:
                    raise refuse(f"no hash or size for {escape(name)!r}", "an empty field")
                if entry.hash_.name not in STRONG:
                    raise refuse(
                        f"weak or unknown hash for {escape(name)!r}",
                        escape(entry.hash_.name),
                        "sha256, sha384 or sha512",
                    )
                digest = hashlib.new(entry.hash_.name)
                size = 0
                with archive.open(members[name]) as member:
                    while chunk := member.read(_CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                if size != entry.size or not _same_digest(digest.digest(), entry.hash_.value):
                    raise refuse(
                        f"hash or size of {escape(name)!r} does not match its bytes",
                        f"{size} bytes",
                        f"{entry.size} bytes, {entry.hash_.name}={entry.hash_.value}",
                    )
            missing = sorted(n for n in members if n not in listed and not (n.endswith(_UNSIGNED)))
            if missing:
                raise refuse(
                    f"{len(missing)} file(s) of the wheel are not listed",
                    ", ".join(escape(n) for n in missing[:5]),
                    "every file of the wheel listed in RECORD",
                )
    except ARCHIVE_ERRORS as exc:
        raise refuse("the wheel or its RECORD cannot be read", escape(str(exc))[:200]) from None


def _same_digest(digest: bytes, value: str) -> bool:
    """RECORD hashes are urlsafe base64 without padding (the wheel specification)."""
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=") == value


def _parse(text: str, fail: Callable[..., VerificationError]) -> dict[str, RecordEntry]:
    listed: dict[str, RecordEntry] = {}
    try:
        rows = list(parse_record_file(text.splitlines()))
    except InvalidRecordEntry as exc:
        raise fail("a row is not path,hash,size", escape(str(exc.issues))[:200]) from None
    for number, (name, hash_, size) in enumerate(rows, start=1):
        problem = _unsafe(name)
        if problem:
            raise fail(
                f"row {number} names {problem}", escape(name)[:200], "paths inside the wheel"
            )
        if name in listed:
            raise fail(f"row {number} lists {escape(name)!r} twice", escape(name)[:200])
        try:
            listed[name] = RecordEntry.from_elements(name, hash_, size)
        except InvalidRecordEntry as exc:
            raise fail(f"row {number} is malformed", escape(str(exc.issues))[:200]) from None
    return listed
