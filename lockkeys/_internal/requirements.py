"""Abstract requirements in pip syntax: what to lock, by name.

lockkeys reads the subset of pip's requirement-file syntax that names packages: requirement
lines, comments, line continuations, ``-r``/``--requirement`` includes and
``-c``/``--constraint`` files. Everything that would let a requirement file choose where
packages come from (index and find-links options, URLs, paths, editables) or how they are
checked (``--hash``) is refused: sources belong in ``[[tool.lockkeys.sources]]`` and checks in
the package tables, so nothing from elsewhere leaks into the lock.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from lockkeys._internal.fsutil import read_regular_file
from lockkeys._internal.limits import MAX_REQUIREMENTS_FILE
from lockkeys.errors import InputError

__all__ = [
    "RequirementSet",
    "check_requirement",
    "normalize_requirement",
    "read_requirement_files",
]

_COMMENT = re.compile(r"(^|\s+)#.*$")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_OPTION = re.compile(r"(?:^|\s)(--?[A-Za-z][A-Za-z0-9_-]*)")

_INCLUDE = {"-r": False, "--requirement": False, "-c": True, "--constraint": True}
_SOURCE_OPTIONS = frozenset(
    {"-i", "--index-url", "--extra-index-url", "--no-index", "-f", "--find-links", "--trusted-host"}
)
_EDITABLE_OPTIONS = frozenset({"-e", "--editable"})
_HASH_OPTIONS = frozenset({"--hash", "--require-hashes"})
_ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".zip", ".tar")

_SOURCES_FIX = (
    "declare sources in [[tool.lockkeys.sources]] and pin a package to one with "
    '`source = "NAME"` in its [tool.lockkeys.packages.NAME] table'
)
_URL_FIX = (
    "require the package by name and version (`name==1.0`); put a local build in a "
    "`path` source ([[tool.lockkeys.sources]]) and sign it"
)


@dataclass(frozen=True)
class RequirementSet:
    """Requirements and constraints read from requirement files, normalized, in file order.

    Each entry is the canonical string of :func:`normalize_requirement`; exact duplicates are
    kept once.
    """

    requirements: list[str] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)


def normalize_requirement(line: str) -> str:
    """The canonical spelling of one PEP 508 requirement.

    Canonical project name, extras canonicalized and sorted, specifiers sorted
    (packaging's ``SpecifierSet`` order), the marker as packaging prints it.
    Raises :class:`InputError` when ``line`` is not a valid requirement.
    """
    try:
        req = Requirement(line.strip())
    except InvalidRequirement as exc:
        raise InputError(
            f"invalid requirement {line.strip()!r}: {_first_line(str(exc))}",
            expected="a PEP 508 requirement such as `name[extra]>=1.0; python_version >= '3.11'`",
        ) from None
    return _canonical(req)


def check_requirement(line: str, *, file: str) -> str:
    """Validate one requirement by lockkeys' rules and return its canonical string.

    ``file`` names where it came from (``requirements.in:3``, ``pyproject.toml``) in errors.
    URL and path requirements are refused: they cannot be locked by signer.
    """
    text = line.strip()
    _refuse_trailing_options(text, file)
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        if _looks_like_location(text):
            raise _url_error(text, file) from None
        raise InputError(
            f"invalid requirement {text!r}: {_first_line(str(exc))}",
            file=file,
            expected="a PEP 508 requirement such as `name[extra]>=1.0; python_version >= '3.11'`",
            fix="correct the line, or remove it",
        ) from None
    if req.url is not None or req.name.lower().endswith(_ARCHIVE_SUFFIXES):
        raise _url_error(text, file)  # pip reads `pkg-1.0.tar.gz` as a local archive
    return _canonical(req)


def read_requirement_files(paths: Sequence[Path]) -> RequirementSet:
    """Read pip-syntax requirement files, following ``-r`` and ``-c`` includes.

    Includes are relative to the including file. An include cycle is an error naming the
    chain; a file reached twice by other routes is read once. ``-r`` inside a constraints file
    reads more constraints.
    """
    reader = _Reader()
    for path in paths:
        reader.read(Path(path), constraint=False, stack=(), origin=None)
    return RequirementSet(requirements=reader.requirements, constraints=reader.constraints)


# ---- internals -----------------------------------------------------------------------------


class _Reader:
    def __init__(self) -> None:
        self.requirements: list[str] = []
        self.constraints: list[str] = []
        self._seen_req: set[str] = set()
        self._seen_con: set[str] = set()
        self._done: set[tuple[Path, bool]] = set()

    def read(
        self,
        path: Path,
        *,
        constraint: bool,
        stack: tuple[tuple[Path, str], ...],
        origin: str | None,
    ) -> None:
        key = _absolute(path)
        keys = [k for k, _ in stack]
        if key in keys:
            names = [name for _, name in stack[keys.index(key) :]]
            chain = " -> ".join([*names, str(path)])
            raise InputError(
                f"requirement files include each other: {chain}",
                file=origin or str(path),
                fix="remove one of the -r/-c lines so the includes form no cycle",
            )
        if (key, constraint) in self._done:
            return
        self._done.add((key, constraint))
        text = _read_text(path, origin)
        for lineno, line in _logical_lines(text):
            where = f"{path}:{lineno}"
            if line.startswith("-"):
                self._option(path, line, where, constraint, (*stack, (key, str(path))))
                continue
            normalized = check_requirement(line, file=where)
            if constraint:
                if normalized not in self._seen_con:
                    self._seen_con.add(normalized)
                    self.constraints.append(normalized)
            elif normalized not in self._seen_req:
                self._seen_req.add(normalized)
                self.requirements.append(normalized)

    def _option(
        self,
        path: Path,
        line: str,
        where: str,
        constraint: bool,
        stack: tuple[tuple[Path, str], ...],
    ) -> None:
        option, value = _split_option(line)
        if option in _INCLUDE:
            if not value:
                raise InputError(
                    f"{option} needs a file name",
                    file=where,
                    fix=f"write `{option} other.in`, relative to {path.name}",
                )
            target = path.parent / value
            nested_constraint = constraint or _INCLUDE[option]
            self.read(target, constraint=nested_constraint, stack=stack, origin=where)
            return
        raise _option_error(option, where)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Non-empty lines without comments, continuations joined; numbered by their first line."""
    out: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        if raw.endswith("\\"):
            pending.append(raw[:-1])
            continue
        pending.append(raw)
        _emit(out, start, "".join(pending))
        pending = []
    if pending:
        _emit(out, start, "".join(pending))
    return out


def _emit(out: list[tuple[int, str]], lineno: int, line: str) -> None:
    stripped = _COMMENT.sub("", line).strip()
    if stripped:
        out.append((lineno, stripped))


def _split_option(line: str) -> tuple[str, str]:
    if line.startswith("--"):
        name, sep, rest = line.partition("=")
        if sep and " " not in name:
            return name, rest.strip()
        name, _, rest = line.partition(" ")
        return name, rest.strip()
    # short options: "-r file" or "-rfile"
    name, rest = line[:2], line[2:]
    return name, rest.strip()


def _option_error(option: str, where: str) -> InputError:
    if option in _SOURCE_OPTIONS:
        return InputError(
            f"{option} is not allowed in a requirement file: sources belong in "
            "[[tool.lockkeys.sources]]",
            file=where,
            fix=_SOURCES_FIX,
        )
    if option in _EDITABLE_OPTIONS:
        return InputError(
            f"{option}: editable requirements cannot be locked by signer",
            file=where,
            fix=_URL_FIX,
        )
    if option in _HASH_OPTIONS:
        return InputError(
            f"{option} is not allowed in a requirement file: lockkeys records hashes in the lock",
            file=where,
            fix='remove the hash; choose checks with `verify = "..."` in [tool.lockkeys.packages]',
        )
    return InputError(
        f"unsupported option {option} in a requirement file",
        file=where,
        expected="requirement lines, comments, -r/--requirement and -c/--constraint",
        fix="remove the option; lockkeys' own settings live in [tool.lockkeys]",
    )


def _refuse_trailing_options(text: str, where: str) -> None:
    unquoted = _QUOTED.sub("''", text)
    match = _OPTION.search(unquoted)
    if match is not None:
        option = match.group(1).split("=", 1)[0]
        raise _option_error(option, where)


def _looks_like_location(text: str) -> bool:
    lowered = text.lower()
    return (
        "://" in text
        or text.startswith((".", "/", "~", "\\"))
        or "/" in text.split(";", 1)[0]
        or "\\" in text
        or lowered.split(";", 1)[0].strip().endswith(_ARCHIVE_SUFFIXES)
    )


def _url_error(text: str, where: str) -> InputError:
    return InputError(
        f"URL and path requirements cannot be locked by signer: {text!r}",
        file=where,
        fix=_URL_FIX,
    )


def _canonical(req: Requirement) -> str:
    out: str = canonicalize_name(req.name)
    if req.extras:
        out += "[" + ",".join(sorted({canonicalize_name(e) for e in req.extras})) + "]"
    if req.url is not None:
        out += f" @ {req.url}"
        if req.marker is not None:
            out += " "
    else:
        out += str(req.specifier)
    if req.marker is not None:
        out += f"; {req.marker}"
    return out


def _read_text(path: Path, origin: str | None) -> str:
    if not path.exists() and not path.is_symlink():
        raise InputError(
            f"requirement file not found: {path}",
            file=origin or str(path),
            fix="create it, or correct the path (includes are relative to the including file)",
        )
    try:
        return read_regular_file(path, "requirement file", MAX_REQUIREMENTS_FILE).decode(
            "utf-8-sig"
        )
    except UnicodeDecodeError as exc:
        raise InputError(
            f"not UTF-8 text: {exc.reason} at byte {exc.start}",
            file=str(path),
            fix="save the requirement file as UTF-8",
        ) from None
    except OSError as exc:
        raise InputError(
            f"cannot read requirement file: {exc.strerror or exc}",
            file=origin or str(path),
        ) from None


def _absolute(path: Path) -> Path:
    return Path(os.path.abspath(path))


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text
