"""`lockkeys lock`: abstract dependencies by name -> a pylock.toml with n-of-m signer pins.

The steps, each in its own module:

0. inputs (:mod:`~lockkeys._internal.locking.inputs`): the requirements; the signer certificates,
   loaded and checked;
1. resolve (:mod:`~lockkeys._internal.locking.resolving`): names to versions (pip-tools or uv),
   keeping existing pins unless asked to upgrade, pinning substitutes;
2. collect files (:mod:`~lockkeys._internal.locking.collect`): every file of each pinned release
   from the ONE source it comes from, with size and sha256;
3. check signatures (:mod:`~lockkeys._internal.locking.release_signatures`): where the policy
   includes signatures, every file must already meet its threshold;
4. annotate substitutes (:mod:`~lockkeys._internal.locking.substitutes`): what dependents asked for;
5. assemble (:mod:`~lockkeys._internal.locking.assemble`) and write deterministically and atomically
   (:mod:`~lockkeys._internal.lockmodel.io`; same inputs, same bytes).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from lockkeys._internal.config.loading import load_config
from lockkeys._internal.config.schema import LockkeysConfig
from lockkeys._internal.listing import summarize
from lockkeys._internal.locking.assemble import assemble_lock, locked_package
from lockkeys._internal.locking.collect import (
    LOCK_WORKERS,
    Collected,
    collect_files,
    downloaded_wheels,
    scratch_folder,
)
from lockkeys._internal.locking.drift import lock_drift
from lockkeys._internal.locking.inputs import load_signers, requirement_lines
from lockkeys._internal.locking.outcome import LockOutcome
from lockkeys._internal.locking.release_signatures import (
    check_signatures,
    needs_signatures,
    record_publishers,
)
from lockkeys._internal.locking.resolving import resolve_pins
from lockkeys._internal.locking.scope import LockScope, lock_scope
from lockkeys._internal.locking.selections import requirement_sets, with_selection_markers
from lockkeys._internal.locking.substitutes import annotate_substitute, dependents
from lockkeys._internal.lockmodel.changes import version_changes
from lockkeys._internal.lockmodel.io import (
    dumps_lock,
    parse_lock_bytes,
    read_lock,
    read_lock_bytes,
    write_lock,
)
from lockkeys._internal.lockmodel.lock import Lock, LockedPackage
from lockkeys._internal.lockmodel.walk import parse_document
from lockkeys._internal.locktrust.relock import certificate_news, merge_with_lock, trust_mismatches
from lockkeys._internal.resolve.base import Pin, check_resolver_name
from lockkeys._internal.resolve.runenv import ResolverSettings, default_cache_dir
from lockkeys._internal.sources.fetch import Client, current_client
from lockkeys._internal.sources.model import Source
from lockkeys._internal.sources.session import sources_session
from lockkeys._internal.sources.tls import TrustStore
from lockkeys._internal.trust.certs import Certificate
from lockkeys.errors import InputError, SourceError, UsageError

log = logging.getLogger("lockkeys.lock")

# Kept importable from here: the steps' public names.
__all__ = ["LockOutcome", "Locker", "load_signers", "lock", "requirement_lines"]


class Locker:
    """One `lockkeys lock` run for a configuration: check the lock, or resolve and write it."""

    def __init__(
        self,
        config: LockkeysConfig,
        *,
        resolver: str | None = None,
        lock_path: Path | None = None,
        upgrade: Sequence[str] = (),
        upgrade_all: bool = False,
        dry_run: bool = False,
        cache_dir: Path | None = None,
        no_cache: bool = False,
        progress: Callable[[str], None] | None = None,
        reuse: bool = True,
    ) -> None:
        self.config = config
        # The effective package policies, computed once when the config was loaded.
        self.policies = config.policies
        # A resolution of the same request against the same index pages is taken from the
        # cache (lockkeys._internal.resolve.memo) unless --re-resolve or --no-cache.
        self.reuse = reuse
        # Resolver and page caches: lockkeys' own persistent folder unless --no-cache.
        self.cache_dir = None if no_cache else (cache_dir or default_cache_dir())
        self.progress: Callable[[str], None] = progress or (lambda _message: None)
        self.client: Client | None = None
        self.upgrade_all = upgrade_all
        self.dry_run = dry_run
        self.upgrade_names = list(upgrade)
        # Checked before anything runs or is printed.
        self.resolver_name = check_resolver_name(resolver or config.resolver)
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
        """The inputs digest of these requirement lines with this configuration and resolver."""
        return self.config.inputs_digest(lines, resolver=self.resolver_name)

    def check(self) -> LockOutcome:
        """``lock --check``: whether the lock is missing, stale, edited, or up to date."""
        certs = load_signers(self.config)  # a config error is an error here, not "up to date"
        reqs, constraints = requirement_lines(self.config)
        digest = self.digest([*reqs, *(f"-c {c}" for c in constraints)])
        if not self.lock_path.exists():
            return LockOutcome(self.lock_path, None, False, True, "the lock is missing")
        data = read_lock_bytes(self.lock_path)
        lock = parse_lock_bytes(data, str(self.lock_path))
        legacy = [s.name for s in lock.tool.sources if s.legacy_credential_names()]
        if legacy:
            message = (
                f"the lock is stale: source(s) {', '.join(map(repr, legacy))} name credential "
                "variables (username-env/password-env/token-env), which a lock no longer "
                "carries and deploys ignore; run `lockkeys lock` to rewrite it without them"
            )
            return LockOutcome(self.lock_path, lock, False, True, message)
        news = certificate_news(certs, lock, str(self.lock_path))
        if news:
            message = "\n  ".join(["the lock is stale: certificate files changed:", *news])
            return LockOutcome(self.lock_path, lock, False, True, message)
        edited = trust_mismatches(self.policies, self.config.sources, certs, lock)
        if edited:
            message = "\n  ".join(
                ["the lock's trust differs from the configuration (edited by hand?):", *edited]
            )
            return LockOutcome(self.lock_path, lock, False, True, message)
        if lock.tool.inputs_digest != digest:
            return LockOutcome(
                self.lock_path, lock, False, True, "the lock is stale: its inputs changed"
            )
        # Same inputs; is the lock still exactly what they give (issue 12, item 1; issue 19,
        # rule 2)? What `lock` would write now for it is compared with it, leaf by leaf.
        drift = lock_drift(
            parse_document(data.decode("utf-8"), str(self.lock_path)),
            lock,
            self._relocked(),
            {p.name: self.policies.policy(p.name).verify for p in lock.packages},
        )
        if drift:
            return LockOutcome(
                self.lock_path,
                lock,
                False,
                True,
                "the lock is not what `lockkeys lock` writes for the configuration and the "
                "sources (a source changed, or the lock was edited by hand):\n  "
                + "\n  ".join(drift),
            )
        return LockOutcome(self.lock_path, lock, False, False, "the lock is up to date")

    def _relocked(self) -> Lock:
        """What `lockkeys lock` writes now for the lock at ``lock_path`` (a dry run: its pins
        kept, its certificates merged), for `lock --check` to compare the file with."""
        again = Locker(
            self.config,
            resolver=self.resolver_name,
            lock_path=self.lock_path,
            dry_run=True,
            cache_dir=self.cache_dir,
            no_cache=self.cache_dir is None,
            progress=self.progress,
            reuse=self.reuse,
        )
        outcome = again.lock()
        assert outcome.lock is not None  # a dry run always builds the lock
        return outcome.lock

    # ---- locking ------------------------------------------------------------------------
    def lock(self) -> LockOutcome:
        """Resolve and write the lock, with the sources' credentials, trust and caches."""
        with sources_session(self.config.sources, cache_dir=self.cache_dir) as client:
            self.client = client
            try:
                return self._lock()
            finally:
                self.client = None

    def _check_folders(self) -> None:
        """A folder source that is not there is the source's fault (exit 3), said before the
        resolver runs: it would only report the packages it then cannot find (exit 4)."""
        for source in self.sources:
            if source.path is not None and not source.path.is_dir():
                raise SourceError(
                    f"source {source.name!r}: the folder {source.path} does not exist",
                    file=str(self.config.config_path),
                    expected="a folder of distributions (wheels, sdists)",
                    found="no such folder" if not source.path.exists() else "not a folder",
                    fix=f"create or restore {source.path}, or correct `path` of source "
                    f"{source.name!r}",
                )

    def _resolver_settings(self) -> ResolverSettings:
        """Credentials, trust and cache for the resolver subprocess
        (lockkeys._internal.resolve.runenv)."""
        client = self.client if self.client is not None else current_client()
        urls = [s.url for s in self.config.sources if s.url]
        urls += [m for s in self.config.sources for m in s.mirrors]
        trust = client.trust if client.trust is not None else TrustStore()
        return ResolverSettings.for_sources(
            urls, client.auth, trust, cache_dir=self.cache_dir, progress=self.progress
        )

    def _lock(self) -> LockOutcome:
        config = self.config
        self._check_folders()
        certs = load_signers(config)
        reqs, user_constraints = requirement_lines(config)
        digest = self.digest([*reqs, *(f"-c {c}" for c in user_constraints)])
        scope = lock_scope(config, self.resolver_name)
        previous = self._previous()
        # Certificates are merged into the previous lock's copies, never replaced.
        certs = merge_with_lock(certs, previous, str(self.lock_path))
        sets = requirement_sets(config.project_extras, config.project_groups)
        direct_lines = [*reqs, *(line for _, lines in sets for line in lines)]
        self._check_upgrade_names(direct_lines, previous)
        pins = self._resolve(reqs, user_constraints, previous, scope, sets)
        lock_dir = self.lock_path.resolve().parent
        packages = self._locked_packages(pins, certs, lock_dir, direct_lines)
        lock = assemble_lock(
            packages,
            digest=digest,
            requirements=reqs,
            sources=self.sources,
            mirrors=self.mirrors,
            signature_stores=config.signature_stores,
            certs=certs,
            lock_dir=lock_dir,
            environments=scope.environments,
            requires_python=scope.requires_python,
            revocations=config.revocations,
            extras=sorted(config.project_extras),
            dependency_groups=sorted(config.project_groups),
            default_groups=sorted(canonicalize_name(g) for g in config.default_groups),
        )
        return self._outcome(lock, previous, len(packages))

    def _resolve(
        self,
        reqs: Sequence[str],
        user_constraints: Sequence[str],
        previous: Lock | None,
        scope: LockScope,
        sets: tuple[tuple[str, tuple[str, ...]], ...],
    ) -> list[Pin]:
        """Step 1: the pins, with the markers of the extras and groups that need them."""
        config = self.config
        self.progress(f"resolving {len(reqs)} requirement(s) with {self.resolver_name} ...")
        started = time.monotonic()
        pins = resolve_pins(
            self.policies,
            config_file=str(config.config_path),
            key_prefix=config.key_prefix,
            resolver_name=self.resolver_name,
            sources=self.sources,
            requirements=reqs,
            constraints=user_constraints,
            previous=previous,
            upgrade=self.upgrade,
            upgrade_all=self.upgrade_all,
            scope=scope,
            sets=sets,
            settings=self._resolver_settings(),
            reuse=self.reuse,
        )
        self.progress(
            f"resolved {len(pins)} package(s) in {time.monotonic() - started:.1f} s; "
            "fetching file data ..."
        )
        return with_selection_markers(
            pins, sorted(config.project_extras), sorted(config.project_groups)
        )

    def _locked_packages(
        self,
        pins: list[Pin],
        certs: Mapping[str, Certificate],
        lock_dir: Path,
        direct_lines: Sequence[str],
    ) -> list[LockedPackage]:
        """Steps 2-4: each pin's files collected and checked, as a lock entry."""
        # Dependents of a substitute: one of their wheels is read for what they asked.
        need_metadata = {
            dependent
            for pin in pins
            if self.policies.policy(pin.name).substitute
            for dependent in dependents(pin)
        }
        with scratch_folder() as scratch:
            collected = self._collect_all(pins, certs, scratch, need_metadata)
            wheels = downloaded_wheels(collected)
            return [
                annotate_substitute(
                    locked_package(c, self.policies.policy(c.pin.name), certs, lock_dir),
                    self.policies.policy(c.pin.name),
                    c.pin,
                    wheels,
                    direct_lines,
                )
                for c in collected
            ]

    def _outcome(self, lock: Lock, previous: Lock | None, count: int) -> LockOutcome:
        """Step 5: write the lock (or, in a dry run, say what would be written)."""
        changes = tuple(version_changes(previous, lock)) if previous is not None else ()
        if self.dry_run:
            same = self.lock_path.exists() and self.lock_path.read_bytes() == dumps_lock(
                lock
            ).encode("utf-8")
            verb = "would leave unchanged:" if same else "would write"
            return LockOutcome(
                self.lock_path,
                lock,
                False,
                False,
                f"{verb} {self.lock_path} ({count} packages; dry run, nothing written)",
                changes,
                previous,
                dry_run=True,
            )
        written = write_lock(self.lock_path, lock)
        return LockOutcome(
            self.lock_path,
            lock,
            written,
            False,
            f"{'wrote' if written else 'unchanged:'} {self.lock_path} ({count} packages)",
            changes,
            previous,
        )

    def _check_upgrade_names(self, requirements: Sequence[str], previous: Lock | None) -> None:
        """``-P NAME`` must name a requirement or a locked package: a typo would otherwise
        upgrade nothing and say nothing."""
        known: set[str] = {canonicalize_name(Requirement(line).name) for line in requirements}
        known |= {p.name for p in previous.packages} if previous is not None else set()
        for raw in self.upgrade_names:
            if canonicalize_name(raw) not in known:
                raise UsageError(
                    f"--upgrade-package {raw}: not in the requirements or the lock",
                    package=canonicalize_name(raw),
                    expected="one of: " + summarize(sorted(known), limit=10),
                    found=raw,
                    fix="check the name; `lockkeys why NAME` explains a locked package",
                )

    def _previous(self) -> Lock | None:
        if not self.lock_path.exists():
            return None
        try:
            return read_lock(self.lock_path)
        except InputError as exc:
            log.warning("ignoring the existing lock, it is unreadable: %s", exc.headline())
            return None

    def _candidate_sources(self, pin: Pin) -> list[Source]:
        policy = self.policies.policy(pin.name)
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

    def _collect_all(
        self,
        pins: list[Pin],
        certs: Mapping[str, Certificate],
        scratch: Path,
        need_metadata: set[str],
    ) -> list[Collected]:
        """Collect (and where the policy says, signature-check) every pin, a few at a time
        (listing pages and fetching files is network-bound).

        Results keep the pins' order, and the first failure in that order is the one raised,
        so output and errors do not depend on timing.
        """

        def one(pin: Pin) -> Collected:
            policy = self.policies.policy(pin.name)
            if needs_signatures(policy):
                self.progress(f"checking signatures of {pin.name} {pin.version}")
            collected = collect_files(
                pin,
                policy,
                self._candidate_sources(pin),
                scratch,
                download_all=needs_signatures(policy),
                download_first_wheel=pin.name in need_metadata,
            )
            check_signatures(
                collected,
                policy,
                certs,
                stores=self.config.signature_stores,
                root=self.config.root,
            )
            return record_publishers(collected, self.config.default.publishers)

        done = 0
        last_note = time.monotonic()
        counter = threading.Lock()

        def tick(_future: object) -> None:
            nonlocal done, last_note
            with counter:
                done += 1
                now = time.monotonic()
                if done == len(pins) or now - last_note >= 2.0:
                    last_note = now
                    self.progress(f"file data: {done}/{len(pins)} package(s)")

        with ThreadPoolExecutor(max_workers=LOCK_WORKERS, thread_name_prefix="lock") as pool:
            futures = [pool.submit(one, pin) for pin in pins]
            for future in futures:
                future.add_done_callback(tick)
            return [future.result() for future in futures]


def lock(
    config_path: Path | None = None,
    *,
    resolver: str | None = None,
    lock_path: Path | None = None,
    upgrade: Sequence[str] = (),
    check: bool = False,
    upgrade_all: bool = False,
    dry_run: bool = False,
    cache_dir: Path | None = None,
    no_cache: bool = False,
    progress: Callable[[str], None] | None = None,
    reuse: bool = True,
) -> LockOutcome:
    """Lock (or, with ``check``, only compare the inputs digest). Library entry point.

    ``upgrade`` lets those packages move to their newest allowed versions, ``upgrade_all``
    every package; ``dry_run`` resolves and reports the changes but writes nothing. Resolver
    and page caches persist in ``cache_dir`` (default: lockkeys' cache folder) unless
    ``no_cache``; ``progress`` is told what the lock is doing (the CLI prints it). ``reuse``
    (default) takes a resolution from the cache when the same request was resolved before
    against the same index pages; False runs the resolver in any case."""
    if check and (dry_run or upgrade_all or upgrade):
        raise UsageError(
            "--check compares the inputs only; it cannot be combined with --upgrade, "
            "--upgrade-package or --dry-run"
        )
    config = load_config(config_path)
    locker = Locker(
        config,
        resolver=resolver,
        lock_path=lock_path,
        upgrade=upgrade,
        upgrade_all=upgrade_all,
        dry_run=dry_run,
        cache_dir=cache_dir,
        no_cache=no_cache,
        progress=progress,
        reuse=reuse,
    )
    return locker.check() if check else locker.lock()
