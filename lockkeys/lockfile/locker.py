"""`lockkeys lock`: abstract dependencies by name -> a pylock.toml with n-of-m signer pins.

1. read the config and the requirements; load and check the signer certificates;
2. resolve names to versions (pip-tools or uv, isolated from the user's pip configuration),
   keeping existing pins unless asked to upgrade, pinning substitutes;
3. for each pin, list every file of that release from the ONE source it comes from (its
   configured `source`, else the first source offering it), with size and sha256;
4. where the policy includes signatures, every file must already meet its threshold;
5. write the lock deterministically and atomically (same inputs, same bytes).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from lockkeys.config import LockkeysConfig, PackagePolicy, load_config
from lockkeys.errors import InputError, ResolutionError, SourceError, UsageError, VerificationError
from lockkeys.install.metadata import read_wheel_metadata
from lockkeys.lockfile.io import FILENAME, read_lock, write_lock
from lockkeys.lockfile.model import (
    LOCK_VERSION,
    Lock,
    LockedFile,
    LockedPackage,
    LockSigner,
    LockSource,
    LockTool,
    PackageTool,
)
from lockkeys.requirements import read_requirement_files
from lockkeys.resolve.base import Pin, Resolver, ResolveRequest, get_resolver
from lockkeys.resolve.view import ResolutionView, first_source_error, serve_view
from lockkeys.sources import distribution_of, list_files
from lockkeys.sources.cosign import Gathered, gather, signature_urls
from lockkeys.sources.fetch import fetch_to, head_size
from lockkeys.sources.model import RemoteFile, Source
from lockkeys.trust.certs import Certificate, Keyring, load_certificate
from lockkeys.trust.threshold import evaluate_threshold

log = logging.getLogger("lockkeys.lock")

MAX_LOCK_DOWNLOAD = 2 * 1024**3
LOCK_WORKERS = 8
#: At most this many network requests at once across all workers: servers (and some
#: networks) stall bursts of concurrent connections; four kept a real mirror fast.
NETWORK_SLOTS = threading.BoundedSemaphore(4)
ROOT = "<root>"


@dataclass(frozen=True)
class LockOutcome:
    path: Path
    lock: Lock | None
    written: bool
    stale: bool  # for --check: the lock is missing or its inputs changed
    message: str


def load_signers(config: LockkeysConfig) -> dict[str, Certificate]:
    prefix = config.key_prefix
    certs: dict[str, Certificate] = {}
    for name, path in sorted(config.signers.items()):
        try:
            certs[name] = load_certificate(Path(path), name=name)
        except InputError as exc:
            raise InputError(
                f"{prefix}signers.{name}: {exc.message}",
                file=str(config.config_path),
                found=exc.file,
                fix=exc.fix,
            ) from None
    try:
        Keyring(certs.values())
    except InputError as exc:
        dup = next((n for n, c in certs.items() if c.source == exc.file), None)
        raise InputError(
            f"{prefix}signers.{dup or '?'}: {exc.message}",
            file=str(config.config_path),
            found=exc.found,
            fix=exc.fix,
        ) from None
    return certs


def requirement_lines(config: LockkeysConfig) -> tuple[list[str], list[str]]:
    if config.requirements:
        reqs = read_requirement_files([Path(p) for p in config.requirements])
        return list(reqs.requirements), list(reqs.constraints)
    if config.project_dependencies:
        return list(config.project_dependencies), []
    raise UsageError(
        "nothing to lock: no requirements",
        file=str(config.config_path),
        fix="list requirement files in `requirements = [...]` or add [project].dependencies",
    )


def _relative(path: Path, base: Path) -> str:
    return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()


@contextlib.contextmanager
def _scratch() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="lockkeys-lock-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


class Locker:
    def __init__(
        self,
        config: LockkeysConfig,
        *,
        resolver: str | None = None,
        lock_path: Path | None = None,
        upgrade: Sequence[str] = (),
    ) -> None:
        self.config = config
        self.resolver_name = resolver or config.resolver
        self.lock_path = Path(lock_path) if lock_path else Path(config.lockfile)
        self.upgrade = {canonicalize_name(n) for n in upgrade}
        self.sources = [
            Source(name=s.name, url=s.url, path=Path(s.path) if s.path else None)
            for s in config.sources
        ]
        self.by_name = {s.name: s for s in self.sources}
        self.mirrors = {s.name: list(s.mirrors) for s in config.sources}

    # ---- inputs -------------------------------------------------------------------------
    def digest(self, lines: Sequence[str]) -> str:
        return self.config.inputs_digest(lines)

    def check(self) -> LockOutcome:
        load_signers(self.config)  # a config error is an error here too, not "up to date"
        reqs, constraints = requirement_lines(self.config)
        digest = self.digest([*reqs, *(f"-c {c}" for c in constraints)])
        if not self.lock_path.exists():
            return LockOutcome(self.lock_path, None, False, True, "the lock is missing")
        lock = read_lock(self.lock_path)
        if lock.tool.inputs_digest != digest:
            return LockOutcome(
                self.lock_path, lock, False, True, "the lock is stale: its inputs changed"
            )
        return LockOutcome(self.lock_path, lock, False, False, "the lock is up to date")

    # ---- locking ------------------------------------------------------------------------
    def lock(self) -> LockOutcome:
        config = self.config
        certs = load_signers(config)
        reqs, user_constraints = requirement_lines(config)
        digest = self.digest([*reqs, *(f"-c {c}" for c in user_constraints)])
        policies = {name: config.policy(name) for name in config.packages}
        previous = self._previous()
        pins = self._resolve(reqs, user_constraints, policies, previous)
        # Dependents of a substitute: one of their wheels is read for what they asked.
        need_metadata = {
            dependent
            for pin in pins
            if config.policy(pin.name).substitute
            for dependent in set(pin.via) - {ROOT}
        }
        with _scratch() as scratch:
            packages = self._lock_packages(pins, certs, scratch, need_metadata)
            # Substitution facts need every dependent's wheel: only now are they all here.
            packages = [
                self._with_substitution(pkg, config.policy(pkg.name), pin, scratch)
                for pkg, pin in zip(packages, pins, strict=True)
            ]
        used = sorted({fpr for p in packages for fpr in p.tool.signers})
        signers = {
            name: LockSigner(fingerprint=cert.fingerprint, certificate=cert.armored())
            for name, cert in certs.items()
            if cert.fingerprint in used
        }
        lock_dir = self.lock_path.resolve().parent
        tool = LockTool.model_validate(
            {
                "lock-version": LOCK_VERSION,
                "inputs-digest": digest,
                "requirements": tuple(reqs),
                "sources": tuple(
                    LockSource(
                        name=s.name,
                        url=s.url,
                        path=_relative(s.path, lock_dir) if s.path else None,
                        mirrors=tuple(self.mirrors.get(s.name, ())),
                    )
                    for s in self.sources
                ),
                "signature-stores": tuple(
                    s if s.startswith(("http://", "https://")) else _relative(Path(s), lock_dir)
                    for s in config.signature_stores
                ),
                "signers": signers,
            }
        )
        lock = Lock(tool=tool, packages=tuple(sorted(packages, key=lambda p: p.name)))
        written = write_lock(self.lock_path, lock)
        return LockOutcome(
            self.lock_path,
            lock,
            written,
            False,
            f"{'wrote' if written else 'unchanged:'} {self.lock_path} ({len(packages)} packages)",
        )

    def _previous(self) -> Lock | None:
        if not self.lock_path.exists():
            return None
        try:
            return read_lock(self.lock_path)
        except InputError as exc:
            log.warning("ignoring the existing lock, it is unreadable: %s", exc.headline())
            return None

    def _resolve(
        self,
        reqs: list[str],
        user_constraints: list[str],
        policies: dict[str, PackagePolicy],
        previous: Lock | None,
    ) -> list[Pin]:
        substitutes = {
            name: f"{name}=={p.substitute}" for name, p in sorted(policies.items()) if p.substitute
        }
        uses_uv = self.resolver_name == "uv"
        pinned = {name: p.source for name, p in policies.items() if p.source}
        for name, source in sorted(pinned.items()):
            if source not in self.by_name:
                raise InputError(
                    f"{self.config.key_prefix}packages.{name}.source: unknown source {source!r}",
                    file=str(self.config.config_path),
                )
        base = ResolveRequest(
            requirements=tuple(reqs),
            constraints=tuple(user_constraints) + (() if uses_uv else tuple(substitutes.values())),
            overrides=tuple(substitutes.values()) if uses_uv else (),
            upgrade=bool(self.upgrade),
        )
        # Existing pins are kept as constraints (like pip-compile keeps its output file), and
        # relaxed in stages only when they no longer fit: first the pins of packages whose
        # requirement line changed, then all of them.
        attempts: list[tuple[str, ...]] = []
        if previous is not None:
            changed = {
                canonicalize_name(Requirement(r).name)
                for r in set(reqs) ^ set(previous.tool.requirements)
            }
            kept = [
                p
                for p in previous.packages
                if p.name not in self.upgrade and p.name not in substitutes
            ]
            attempts.append(tuple(f"{p.name}=={p.version}" for p in kept))
            if changed:
                attempts.append(
                    tuple(f"{p.name}=={p.version}" for p in kept if p.name not in changed)
                )
        resolver = get_resolver(self.resolver_name)
        if len(self.sources) == 1:
            # One source: nothing to confuse. Hand it over directly (the resolver then also
            # gets PEP 658 metadata files from indexes, which the view does not relay).
            only = self.sources[0]
            direct = replace(
                base,
                indexes=(only.url,) if only.url else (),
                find_links=(only.path,) if only.path else (),
            )
            return self._attempt(resolver, direct, attempts, substitutes, policies, None)
        with serve_view(self.sources, pinned) as (view_url, view):
            return self._attempt(
                resolver, replace(base, indexes=(view_url,)), attempts, substitutes, policies, view
            )

    def _attempt(
        self,
        resolver: Resolver,
        base: ResolveRequest,
        attempts: list[tuple[str, ...]],
        substitutes: dict[str, str],
        policies: dict[str, PackagePolicy],
        view: ResolutionView | None,
    ) -> list[Pin]:
        try:
            for keep in attempts:
                if not keep:
                    continue
                try:
                    return resolver.resolve(replace(base, constraints=base.constraints + keep))
                except ResolutionError:
                    log.info("existing pins no longer resolve together; relaxing them")
            return resolver.resolve(base)
        except (ResolutionError, SourceError) as exc:
            unreachable = first_source_error(view) if view is not None else None
            if unreachable is not None:
                raise unreachable from None
            if isinstance(exc, ResolutionError) and substitutes and self.resolver_name != "uv":
                raise self._override_needed(exc, policies) from None
            raise

    def _override_needed(
        self, exc: ResolutionError, policies: dict[str, PackagePolicy]
    ) -> ResolutionError:
        """Say plainly when a substitute lies outside what a dependent asks (pip-tools)."""
        for name, policy in sorted(policies.items()):
            if not policy.substitute:
                continue
            version = Version(policy.substitute)
            for line in exc.details:
                match = re.match(r"^\s*([A-Za-z0-9._-]+)\s*([^()]*?)\s*\(asked by ([^)]*)\)", line)
                if not match or canonicalize_name(match.group(1)) != name:
                    continue
                try:
                    spec = SpecifierSet(match.group(2))
                except InvalidSpecifier:
                    continue
                if not spec.contains(version, prereleases=True):
                    return ResolutionError(
                        f"the substitute {name} {policy.substitute} lies outside what "
                        f"{match.group(3)} asks for ({name}{match.group(2)}); pip-tools cannot "
                        "override a dependency's requirement",
                        package=name,
                        file=str(self.config.config_path),
                        expected=f"{name}{match.group(2)}",
                        found=policy.substitute,
                        details=exc.details,
                        fix='set resolver = "uv" (or pass --resolver uv): uv applies the '
                        "substitute as an override, and the lock records override = true",
                    )
        names = ", ".join(
            f"{n}=={p.substitute}" for n, p in sorted(policies.items()) if p.substitute
        )
        exc.fix = ((exc.fix + "; ") if exc.fix else "") + (
            f"if a substitute ({names}) lies outside what a dependent asks for, it must be "
            'applied as an override, which needs resolver = "uv"'
        )
        return exc

    def _candidate_sources(self, pin: Pin, policy: PackagePolicy) -> list[Source]:
        if policy.source:
            source = self.by_name.get(policy.source)
            if source is None:
                raise InputError(
                    f"{self.config.key_prefix}packages.{pin.name}.source: unknown source "
                    f"{policy.source!r}",
                    file=str(self.config.config_path),
                )
            return [source]
        return self.sources

    def _lock_packages(
        self,
        pins: list[Pin],
        certs: dict[str, Certificate],
        scratch: Path,
        need_metadata: set[str],
    ) -> list[LockedPackage]:
        """Lock every pin, a few at a time (listing pages and fetching files is network-bound).

        Results keep the pins' order, and the first failure in that order is the one raised,
        so output and errors do not depend on timing.
        """
        with ThreadPoolExecutor(max_workers=LOCK_WORKERS, thread_name_prefix="lock") as pool:
            futures = [
                pool.submit(
                    self._lock_package,
                    pin,
                    self.config.policy(pin.name),
                    certs,
                    scratch,
                    pin.name in need_metadata,
                )
                for pin in pins
            ]
            return [future.result() for future in futures]

    def _lock_package(
        self,
        pin: Pin,
        policy: PackagePolicy,
        certs: dict[str, Certificate],
        scratch: Path,
        need_metadata: bool = False,
    ) -> LockedPackage:
        files: list[RemoteFile] = []
        chosen: Source | None = None
        for source in self._candidate_sources(pin, policy):
            files = []
            with NETWORK_SLOTS:
                offered = list_files(source, pin.name, pin.version)
            for f in offered:
                if f.yanked:
                    continue
                if not FILENAME.match(f.filename):
                    log.warning(
                        "%s: skipping a file with an unusual name: %r", pin.name, f.filename
                    )
                    continue
                files.append(f)
            if files:
                chosen = source
                break
        if chosen is None:
            where = f"source {policy.source!r}" if policy.source else "any configured source"
            raise ResolutionError(
                f"{pin.name} {pin.version} was resolved but is not offered by {where}",
                package=pin.name,
                expected=f"{pin.name} {pin.version} on {where}",
                found="no files",
                fix="a package pinned to a source is only taken from it: publish that version "
                "there, or pin another version with `substitute`",
            )
        lock_dir = self.lock_path.resolve().parent
        keyring = Keyring(certs[n] for n in policy.signers) if policy.signers else None
        locked_files: list[LockedFile] = []
        shortfalls: list[str] = []
        check_signatures = keyring is not None and policy.threshold is not None
        first_wheel = next(
            (
                f.filename
                for f in sorted(files, key=lambda f: f.filename)
                if f.filename.endswith(".whl")
            ),
            None,
        )
        ordered = sorted(files, key=lambda f: f.filename)

        def measure(remote: RemoteFile) -> tuple[Path | None, int, str]:
            download = check_signatures or (need_metadata and remote.filename == first_wheel)
            with NETWORK_SLOTS:
                return self._measure(remote, scratch, pin.name, download)

        # Some releases ship well over a hundred files: measure them a few at a time.
        with ThreadPoolExecutor(max_workers=LOCK_WORKERS, thread_name_prefix="file") as pool:
            measured = list(pool.map(measure, ordered))
        for remote, (local, size, sha256) in zip(ordered, measured, strict=True):
            if check_signatures and keyring is not None and policy.threshold is not None:
                assert local is not None
                found = self._signatures(remote)
                result = evaluate_threshold(local, found.signatures, keyring, policy.threshold)
                if not result.met:
                    shortfalls.append(f"{remote.filename}: {result.summary()}")
                    shortfalls += [f"  {line}" for line in (*found.notes, *result.explain())]
            is_wheel = remote.filename.endswith(".whl")
            path = None
            url: str | None = remote.url
            if chosen.path is not None:
                path = _relative(Path(url2pathname(urlsplit(remote.url).path)), lock_dir)
                url = None
            locked_files.append(
                LockedFile(
                    filename=remote.filename,
                    size=size,
                    hashes={"sha256": sha256},
                    url=url,
                    path=path,
                    kind="wheel" if is_wheel else "sdist",
                )
            )
        if shortfalls:
            raise VerificationError(
                f"{pin.name} {pin.version} cannot be locked: its files lack enough valid "
                "signatures",
                package=pin.name,
                expected=f"{policy.threshold} of {', '.join(policy.signers)} on every file",
                details=shortfalls,
                fix="sign each file (`lockkeys sign FILE --key SECRET` writes FILE.asc), put the "
                "signatures beside the files or in a signature store, then lock again",
            )
        wheels = tuple(f for f in locked_files if f.kind == "wheel")
        sdists = [f for f in locked_files if f.kind == "sdist"]
        fingerprints = tuple(sorted(certs[n].fingerprint for n in policy.signers))
        tool = PackageTool.model_validate(
            {
                "verify": policy.verify,
                "signers": fingerprints,
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
        )

    def _measure(
        self, remote: RemoteFile, scratch: Path, package: str, download: bool
    ) -> tuple[Path | None, int, str]:
        """Size and sha256 of a file: from the index when it gives the sha256 and the bytes are
        not needed here (as pip-compile --generate-hashes trusts the index), else downloaded."""
        if not download and remote.sha256:
            # An index that gives no size (PEP 503 HTML) is asked with HEAD: a cap for later
            # downloads, never trusted for content (that is the sha256, checked on install).
            size = remote.size if remote.size is not None else head_size(remote.url)
            if size:  # 0 or None: unknown (some servers answer HEAD with no body length)
                return None, size, remote.sha256
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
        return dest, result.size, result.sha256

    def _signatures(self, remote: RemoteFile) -> Gathered:
        urls = signature_urls(
            remote.url, remote.filename, self.config.signature_stores, self.config.root
        )
        return gather(urls)

    def _with_substitution(
        self, package: LockedPackage, policy: PackagePolicy, pin: Pin, scratch: Path
    ) -> LockedPackage:
        if not policy.substitute:
            return package
        substitutes, requested_by, override = self._substitution(pin, scratch)
        tool = package.tool.model_copy(
            update={
                "substitutes": substitutes or f"{pin.name}=={policy.substitute}",
                "substitute_requested_by": requested_by,
                "override": override,
            }
        )
        return replace(package, tool=tool)

    def _substitution(self, pin: Pin, scratch: Path) -> tuple[str | None, tuple[str, ...], bool]:
        """What the dependents asked for, who asked, and whether the pin overrides them."""
        asked: list[tuple[str, SpecifierSet, str]] = []
        wheels: dict[str, Path] = {}
        for path in sorted(scratch.glob("*.whl")):
            parsed = distribution_of(path.name)
            if parsed is not None:
                wheels.setdefault(parsed[0], path)
        for dependent in sorted(set(pin.via) - {ROOT}):
            wheel = wheels.get(canonicalize_name(dependent))
            if wheel is None:
                continue
            try:
                meta = read_wheel_metadata(wheel, package=dependent)
            except VerificationError:
                continue
            for line in meta.requires_dist:
                try:
                    req = Requirement(line)
                except InvalidRequirement:
                    continue
                if canonicalize_name(req.name) == pin.name:
                    asked.append((dependent, req.specifier, _specifier_as_written(line)))
        if not asked:
            return None, (), False
        version = Version(pin.version)
        override = any(not spec.contains(version, prereleases=True) for _, spec, _ in asked)
        written: list[str] = []
        for _, _, text in asked:
            if text and text not in written:
                written.append(text)
        return f"{pin.name}{','.join(written)}", tuple(d for d, _, _ in asked), override


def _specifier_as_written(line: str) -> str:
    """`bar (>=1.0, <2) ; marker` -> `>=1.0,<2`, keeping the dependent's own order."""
    text = line.split(";", 1)[0]
    text = re.sub(r"^\s*[A-Za-z0-9._-]+\s*(\[[^\]]*\])?", "", text).strip()
    return text.strip("()").replace(" ", "")


def lock(
    config_path: Path | None = None,
    *,
    resolver: str | None = None,
    lock_path: Path | None = None,
    upgrade: Sequence[str] = (),
    check: bool = False,
) -> LockOutcome:
    """Lock (or, with ``check``, only compare the inputs digest). Library entry point."""
    config = load_config(config_path)
    locker = Locker(config, resolver=resolver, lock_path=lock_path, upgrade=upgrade)
    return locker.check() if check else locker.lock()


__all__ = ["LockOutcome", "Locker", "lock"]
