"""lockkeys' rules on top of PEP 751: what a lock must also be for lockkeys to act on it.

:mod:`packaging.pylock` has already validated the document as a PEP 751 lock; this turns that
validated object into a :class:`~lockkeys._internal.lockmodel.lock.Lock` and refuses what a verifier
cannot rely on (threat-model row 17), naming the offending field's path:

- ``[tool.lockkeys]`` and each package's ``[packages.tool.lockkeys]`` present and valid;
- every package pinned to one version, fetched from a source of this lock, its signers
  embedded; no package locked twice; only distribution files (no vcs, directory, archive);
- publisher identities (``attestation-identities``) as tables of strings with a ``kind``;
- every file with a plain file name, its size (a download cap), a sha256 (sha384/512 may be
  added, nothing weaker), and an http(s) URL or a path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from packaging.pylock import Package, PackageSdist, PackageWheel, Pylock
from pydantic import BaseModel, ValidationError

from lockkeys._internal.lockmodel.lock import (
    STRONG_HASHES,
    Lock,
    LockedFile,
    LockedPackage,
    LockTool,
    PackageTool,
)
from lockkeys.errors import InputError

# A distribution file name: it ends up in pip's requirements file and on disk, so nothing
# that a shell, pip's line parser or a path could read as syntax.
FILENAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+!-]*\.(whl|tar\.gz|zip)$")


def lock_from_pylock(pylock: Pylock, file: str) -> Lock:
    """The lockkeys lock held by a validated PEP 751 lock, or an InputError naming the field."""
    tool_doc = (pylock.tool or {}).get("lockkeys")
    if tool_doc is None:
        raise InputError(
            "tool.lockkeys: missing; this PEP 751 lock was not written by lockkeys",
            file=file,
            fix="run `lockkeys lock` to create a lock with signer pins",
        )
    tool: LockTool = _model(LockTool, tool_doc, "tool.lockkeys", file)
    seen_fprs: dict[str, str] = {}
    for name, signer in tool.signers.items():
        if signer.fingerprint in seen_fprs:
            raise InputError(
                f"tool.lockkeys.signers.{name}.fingerprint: duplicate of signer "
                f"{seen_fprs[signer.fingerprint]!r}",
                file=file,
            )
        seen_fprs[signer.fingerprint] = name
    source_names = {s.name for s in tool.sources}
    if len(source_names) != len(tool.sources):
        raise InputError("tool.lockkeys.sources: two sources have the same name", file=file)
    packages: list[LockedPackage] = []
    seen_names: dict[str, tuple[int, Package]] = {}
    for i, pkg in enumerate(pylock.packages):
        where = f"packages[{i}]"
        if pkg.name in seen_names:
            first, other = seen_names[pkg.name]
            # Several versions of one name are a universal lock's forks: each must say where
            # it applies (its marker); an installer refuses a target two of them match.
            if pkg.marker is None or other.marker is None or pkg.version == other.version:
                raise InputError(
                    f"{where}.name: {pkg.name!r} is locked twice (also packages[{first}])",
                    file=file,
                    fix="two entries of one name need different versions and a marker each",
                )
        seen_names[pkg.name] = (i, pkg)
        packages.append(_package(pkg, where, file, seen_fprs, source_names))
    return Lock(
        tool=tool,
        packages=tuple(packages),
        requires_python=str(pylock.requires_python) if pylock.requires_python else None,
        environments=tuple(str(m) for m in pylock.environments)
        if pylock.environments is not None
        else None,
        extras=tuple(pylock.extras or ()),
        dependency_groups=tuple(pylock.dependency_groups or ()),
        default_groups=tuple(pylock.default_groups or ()),
        created_by=pylock.created_by,
        pylock=pylock,
    )


def _package(
    pkg: Package,
    where: str,
    file: str,
    fingerprints: Mapping[str, str],
    source_names: set[str],
) -> LockedPackage:
    if pkg.version is None:
        raise InputError(f"{where}.version: required", file=file)
    if pkg.vcs is not None or pkg.directory is not None or pkg.archive is not None:
        raise InputError(
            f"{where}: a vcs, directory or archive source cannot be verified by lockkeys",
            file=file,
            expected="wheels (and an sdist) from a configured source",
            fix="lock with `lockkeys lock`: every package comes from an index or a folder",
        )
    ptool: PackageTool = _model(
        PackageTool, (pkg.tool or {}).get("lockkeys"), f"{where}.tool.lockkeys", file
    )
    _check_policy(ptool, where, file, fingerprints, source_names)
    wheels = tuple(_file(w, f"{where}.wheels[{j}]", file) for j, w in enumerate(pkg.wheels or ()))
    sdist = _file(pkg.sdist, f"{where}.sdist", file) if pkg.sdist is not None else None
    seen_files: dict[str, str] = {}
    for j, locked in enumerate((*wheels, *((sdist,) if sdist else ()))):
        at = f"{where}.wheels[{j}]" if j < len(wheels) else f"{where}.sdist"
        if locked.filename in seen_files:
            raise InputError(
                f"{at}.name: {locked.filename!r} is listed twice "
                f"(also {seen_files[locked.filename]})",
                file=file,
                fix="a file name must name one file: re-lock with `lockkeys lock`",
            )
        seen_files[locked.filename] = at
    return LockedPackage(
        name=pkg.name,
        version=str(pkg.version),
        tool=ptool,
        wheels=wheels,
        sdist=sdist,
        index=pkg.index,
        marker=str(pkg.marker) if pkg.marker is not None else None,
        attestation_identities=_identities(pkg, where, file),
    )


def _identities(pkg: Package, where: str, file: str) -> tuple[Mapping[str, str], ...]:
    """``attestation-identities``: tables of strings, each with its ``kind``."""
    out: list[Mapping[str, str]] = []
    for j, entry in enumerate(pkg.attestation_identities or ()):
        at = f"{where}.attestation-identities[{j}]"
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in entry.items()):
            raise InputError(f"{at}: every value must be a string", file=file)
        if not entry.get("kind"):
            raise InputError(f"{at}.kind: required", file=file)
        out.append(dict(entry))
    return tuple(out)


def _loc(prefix: str, loc: tuple[int | str, ...], model: type[BaseModel]) -> str:
    parts = [prefix] if prefix else []
    for item in loc:
        if isinstance(item, int):
            parts[-1] = f"{parts[-1]}[{item}]" if parts else f"[{item}]"
        else:
            field = model.model_fields.get(str(item))
            parts.append(field.alias if field is not None and field.alias else str(item))
    return ".".join(parts)


def _model(model: type[BaseModel], data: Any, prefix: str, file: str) -> Any:
    if not isinstance(data, Mapping):
        raise InputError(f"{prefix}: must be a table", file=file)
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _loc(prefix, tuple(first["loc"]), model)
        message = str(first["msg"]).removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = "unknown key"
        raise InputError(f"{where}: {message}", file=file) from None


def _file(entry: PackageWheel | PackageSdist, where: str, file: str) -> LockedFile:
    hashes = entry.hashes
    for algo, digest in hashes.items():
        if algo not in STRONG_HASHES:
            raise InputError(
                f"{where}.hashes.{algo}: {algo} is not accepted",
                file=file,
                expected="sha256, sha384 or sha512",
                fix="re-lock with `lockkeys lock` to record sha256 hashes",
            )
        if not digest or any(c not in "0123456789abcdef" for c in digest):
            raise InputError(f"{where}.hashes.{algo}: not a lower-case hex digest", file=file)
    if "sha256" not in hashes:
        raise InputError(f"{where}.hashes: a sha256 hash is required", file=file)
    size = entry.size
    if size is None or size < 0:
        raise InputError(f"{where}.size: the file size is required (it caps downloads)", file=file)
    name = entry.name
    if name is None or not FILENAME.match(name):
        raise InputError(
            f"{where}.name: not a plain distribution file name",
            file=file,
            found=repr(name),
            expected="letters, digits and ._+!- ending in .whl, .tar.gz or .zip",
        )
    url = entry.url
    if url is not None and not url.startswith(("https://", "http://")):
        raise InputError(f"{where}.url: only http(s) URLs are accepted", file=file)
    return LockedFile(
        filename=name,
        size=size,
        hashes=dict(hashes),
        url=url,
        path=entry.path,
        kind="wheel" if isinstance(entry, PackageWheel) else "sdist",
    )


def _check_policy(
    ptool: PackageTool,
    where: str,
    file: str,
    fingerprints: Mapping[str, str],
    source_names: set[str],
) -> None:
    prefix = f"{where}.tool.lockkeys"
    if ptool.source not in source_names:
        raise InputError(
            f"{prefix}.source: {ptool.source!r} is not a source of this lock", file=file
        )
    wants_sigs = ptool.verify in ("signatures", "hashes+signatures")
    if wants_sigs:
        if not ptool.signers:
            raise InputError(
                f"{prefix}.signers: verify = {ptool.verify!r} needs at least one signer", file=file
            )
        m = len(ptool.signers)
        n = ptool.threshold
        if n is None or not 1 <= n <= m:
            raise InputError(
                f"{prefix}.threshold: {n} is out of range for {m} signer(s)",
                file=file,
                expected=f"1 <= threshold <= {m}",
            )
    elif ptool.signers or ptool.threshold is not None:
        raise InputError(
            f"{prefix}: signers and threshold are only meaningful with verify = "
            "'signatures' or 'hashes+signatures'",
            file=file,
        )
    for j, fpr in enumerate(ptool.signers):
        if fpr not in fingerprints:
            raise InputError(
                f"{prefix}.signers[{j}]: {fpr} is not in tool.lockkeys.signers",
                file=file,
                fix="the lock must embed every pinned certificate; re-lock",
            )


__all__ = ["FILENAME", "lock_from_pylock"]
