"""Step 1 of locking: resolve names to versions.

What the resolver is asked: the requirement lines, the user's constraints, substitutes (as
constraints for pip-tools, overrides for uv), and the existing pins kept as constraints (like
pip-compile keeps its output file) unless asked to upgrade; from the configured sources only,
directly when there is one, else through a private index view that shows each project from the
one source it may come from. How the resolvers are run is :mod:`lockkeys._internal.resolve`'s
business.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from functools import partial

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from lockkeys._internal.config.policy import PackagePolicy, PolicyTable
from lockkeys._internal.locking.scope import LockScope
from lockkeys._internal.lockmodel.lock import Lock, LockedPackage
from lockkeys._internal.resolve.base import Pin, Resolver, ResolveRequest, get_resolver
from lockkeys._internal.resolve.localindex import ResolutionView, first_source_error, view_server
from lockkeys._internal.resolve.memo import ResolutionMemo
from lockkeys._internal.resolve.runenv import ResolverSettings
from lockkeys._internal.sources.index import fetch_project_page, project_url
from lockkeys._internal.sources.model import Source
from lockkeys._internal.sources.session import probe_sources
from lockkeys.errors import InputError, LockkeysError, ResolutionError, SourceError

log = logging.getLogger("lockkeys.lock")


def resolve_pins(
    policies: PolicyTable,
    *,
    config_file: str,
    key_prefix: str,
    resolver_name: str,
    sources: Sequence[Source],
    requirements: Sequence[str],
    constraints: Sequence[str],
    previous: Lock | None,
    upgrade: Collection[str],
    scope: LockScope,
    upgrade_all: bool = False,
    sets: tuple[tuple[str, tuple[str, ...]], ...] = (),
    settings: ResolverSettings | None = None,
    reuse: bool = True,
) -> list[Pin]:
    """The pins, sorted by name. Existing pins are kept where they still resolve: first all of
    them, then without those of packages whose requirement line changed, then none.

    A universal scope asks for one resolution over every environment it covers: each
    requirement line carries the scope's marker, so what no covered environment needs is
    left out, and each pin comes back with the marker under which it is needed.

    ``policies``: the effective package policies (substitutes, pinned sources);
    ``config_file`` and ``key_prefix`` name the configuration in errors.

    ``settings``: how the resolver runs (credentials, trust, cache, progress).

    ``reuse``: with a persistent cache, index sources only and a resolver that can say which
    program it is, a resolution of the same request against the same index pages is taken
    from the cache instead of running the resolver again (:mod:`lockkeys._internal.resolve.memo`).
    False runs the resolver in any case, and keeps its answer for the next lock."""
    listed = policies.listed
    substitutes = {
        name: f"{name}=={p.substitute}" for name, p in sorted(listed.items()) if p.substitute
    }
    pinned = {name: p.source for name, p in listed.items() if p.source}
    _check_pinned_sources(pinned, sources, key_prefix, config_file)
    base = _base_request(
        scope, requirements, sets, constraints, substitutes, resolver_name == "uv", upgrade_all
    )
    # --upgrade: no existing pin is kept; the resolvers then take the newest allowed versions.
    if not upgrade_all:
        base, attempts = _kept_pins(base, requirements, previous, upgrade, substitutes)
    else:
        attempts = []

    # Each resolver run shares these: the kept-pin sets, the substitutes, the sources.
    attempt = partial(
        _attempt,
        config_file,
        attempts=attempts,
        substitutes=substitutes,
        policies=listed,
        sources=sources,
    )
    memo = _memo_for(settings, sources)
    resolver = get_resolver(resolver_name, settings)
    identity = _identity(resolver) if memo is not None else None
    if len(sources) == 1 and (memo is None or identity is None):
        # One source: nothing to confuse. Hand it over directly.
        only = sources[0]
        direct = replace(
            base,
            indexes=(only.url,) if only.url else (),
            find_links=(only.path,) if only.path else (),
        )
        probe = partial(_probe_source, only, _first_project(base))
        pins = attempt(resolver=resolver, base=direct, view=None, probe=probe)
    else:
        remember = (memo, identity, reuse) if memo is not None and identity is not None else None
        pins = _through_view(resolver_name, base, sources, pinned, settings, remember, attempt)
    if not scope.universal:  # one environment: markers were evaluated, none is kept
        pins = [replace(pin, marker=None) for pin in pins]
    return pins


def _check_pinned_sources(
    pinned: Mapping[str, str], sources: Sequence[Source], key_prefix: str, config_file: str
) -> None:
    """Refuse a package whose configured ``source`` is not among ``sources``."""
    by_name = {s.name for s in sources}
    for name, source in sorted(pinned.items()):
        if source not in by_name:
            raise InputError(
                f"{key_prefix}packages.{name}.source: unknown source {source!r}",
                file=config_file,
            )


def _base_request(
    scope: LockScope,
    requirements: Sequence[str],
    sets: tuple[tuple[str, tuple[str, ...]], ...],
    constraints: Sequence[str],
    substitutes: Mapping[str, str],
    uses_uv: bool,
    upgrade_all: bool,
) -> ResolveRequest:
    """The request before pins are kept: the lines restricted to the scope, substitutes as
    constraints (pip-tools) or overrides (uv)."""
    return ResolveRequest(
        requirements=tuple(scope.restrict(line) for line in requirements),
        requirement_sets=tuple(
            (name, tuple(scope.restrict(line) for line in lines)) for name, lines in sets
        ),
        universal=scope.universal,
        python_version=scope.python_floor,
        constraints=tuple(constraints) + (() if uses_uv else tuple(substitutes.values())),
        overrides=tuple(substitutes.values()) if uses_uv else (),
        upgrade=upgrade_all,
    )


def _through_view(
    resolver_name: str,
    base: ResolveRequest,
    sources: Sequence[Source],
    pinned: Mapping[str, str],
    settings: ResolverSettings | None,
    remember: tuple[ResolutionMemo, str, bool] | None,
    attempt: Callable[..., list[Pin]],
) -> list[Pin]:
    """Resolve through the private index view (several sources, or one whose pages are
    recorded for the memo); ``remember``: (memo, resolver identity, recall) when kept;
    ``attempt``: runs the resolver (:func:`_attempt` with what every attempt shares)."""
    # The resolver reaches the view on 127.0.0.1 directly, never through a proxy.
    view_settings = settings.with_no_proxy("127.0.0.1", "localhost") if settings else None
    resolver = get_resolver(resolver_name, view_settings)
    # One source seen through the view (to record what the resolver reads): its pages
    # are handed over as they are. The view starts only if a resolver runs.
    with view_server(list(sources), pinned, pass_through=len(sources) == 1) as server:
        view = server.view
        remembered = None
        if remember is not None:
            memo, identity, recall = remember
            remembered = _Remembered(
                memo,
                resolver.name,
                identity,
                sources,
                pinned,
                view,
                progress=settings.progress if settings else None,
                recall=recall,
            )
        return attempt(
            resolver=resolver,
            base=base,
            view=view,
            remembered=remembered,
            view_url=server.url,
            probe=partial(_probe_view, view, _first_project(base)),
        )


def _kept_pins(
    base: ResolveRequest,
    requirements: Sequence[str],
    previous: Lock | None,
    upgrade: Collection[str],
    substitutes: Mapping[str, str],
) -> tuple[ResolveRequest, list[tuple[str, ...]]]:
    """The previous lock's pins, kept: ``base`` with them as preferences (the resolver keeps
    each one the new resolution allows, as pip-compile and uv keep their previous output),
    and the constraint sets to try first: all of them, exactly, when no requirement line
    changed. Packages named by ``--upgrade-package`` and substitutes are not kept."""
    if previous is None:
        return base, []
    kept = [p for p in previous.packages if p.name not in upgrade and p.name not in substitutes]
    forked = {p.name for p in kept if len(previous.entries(p.name)) > 1}

    def pin(p: LockedPackage) -> str:
        # A fork's versions each hold under their own marker.
        return (
            f"{p.name}=={p.version} ; {p.marker}" if p.name in forked else f"{p.name}=={p.version}"
        )

    pins = tuple(pin(p) for p in kept)
    unchanged = set(requirements) == set(previous.tool.requirements)
    return replace(base, preferences=pins), [pins] if unchanged else []


def _attempt(
    config_file: str,
    resolver: Resolver,
    base: ResolveRequest,
    attempts: list[tuple[str, ...]],
    substitutes: Mapping[str, str],
    policies: Mapping[str, PackagePolicy],
    view: ResolutionView | None,
    sources: Sequence[Source] = (),
    remembered: _Remembered | None = None,
    view_url: Callable[[], str] | None = None,
    probe: Callable[[], None] | None = None,
) -> list[Pin]:
    """``view_url``: the resolver is given that index (the view, started on demand).
    ``probe``: asked once, before the first resolver run; the :class:`SourceError` it raises
    (a source refused the credentials, cannot be reached) ends the lock at once, without the
    resolver and its retries."""
    early: list[SourceError] = []

    def run(request: ResolveRequest) -> list[Pin]:
        nonlocal probe
        if probe is not None:
            check, probe = probe, None
            try:
                check()
            except SourceError as exc:
                early.append(exc)
                raise
        if view_url is not None:
            request = replace(request, indexes=(view_url(),))
        pins = resolver.resolve(request)
        if view is not None and view.errors:
            # A page the view could not serve (a source that failed) may have changed what
            # the resolver chose: such a resolution is never used.
            raise view.errors[0]
        return pins

    def resolve(request: ResolveRequest) -> list[Pin]:
        if remembered is None:
            return run(request)
        return remembered.resolve(run, request)

    try:
        for keep in attempts:
            if not keep:
                continue
            try:
                return resolve(replace(base, constraints=base.constraints + keep))
            except ResolutionError:
                if view is not None and first_source_error(view) is not None:
                    raise  # a source failed: running the resolver again cannot help
                log.info("existing pins no longer resolve together; relaxing them")
        return resolve(base)
    except (ResolutionError, SourceError) as exc:
        if exc in early:
            raise  # lockkeys' own client said why: the sources need not be asked again
        unreachable = first_source_error(view) if view is not None else None
        first = _first_project(base)
        if unreachable is None and first is not None:
            # The resolver's words may hide a refused password or an untrusted certificate:
            # ask the sources with lockkeys' own client, which says which (exit 3).
            unreachable = probe_sources(sources, first)
        if unreachable is not None:
            raise unreachable from None
        if isinstance(exc, ResolutionError) and substitutes and resolver.name != "uv":
            raise _override_needed(config_file, exc, policies) from None
        raise


def _first_project(base: ResolveRequest) -> str | None:
    """The normalized name of the first requirement, whose page every resolver reads first."""
    if not base.requirements:
        return None
    try:
        return canonicalize_name(Requirement(base.requirements[0]).name)
    except InvalidRequirement:
        return None


def _probe_source(source: Source, project: str | None) -> None:
    """Before the resolver is given ``source`` itself: read ``project``'s page with lockkeys'
    client (kept in its page cache for the file list), so that refused credentials, an
    untrusted certificate, a refusing proxy or an unreachable index end in lockkeys' exit-3
    message at once instead of after the resolver's retries. A project the index does not
    know is the resolver's to report."""
    if project is not None and source.url is not None:
        fetch_project_page(source, project)


def _probe_view(view: ResolutionView, project: str | None) -> None:
    """Before the resolver asks the view: answer ``project``'s page (the resolver's first
    request, then served from the view's cache), raising the source error that answering it
    meets; other errors are left for the view to record when the resolver asks."""
    if project is None:
        return
    try:
        view.answer(project)
    except SourceError:
        raise
    except LockkeysError:
        return


def _memo_for(
    settings: ResolverSettings | None, sources: Sequence[Source]
) -> ResolutionMemo | None:
    """The kept resolutions, when they may be used: a persistent cache, index sources only
    (a folder's files can change under the same name without any page saying so)."""
    if settings is None or settings.cache_dir is None:
        return None
    if not sources or any(s.url is None for s in sources):
        return None
    return ResolutionMemo(settings.cache_dir / "resolutions")


def _identity(resolver: Resolver) -> str | None:
    """Which resolver program runs, for the memo key; None: it cannot say (no memo)."""
    identify = getattr(resolver, "memo_identity", None)
    return identify() if callable(identify) else None


class _Remembered:
    """Resolutions through the view, taken from or added to the memo."""

    def __init__(
        self,
        memo: ResolutionMemo,
        resolver: str,
        identity: str,
        sources: Sequence[Source],
        pinned: Mapping[str, str],
        view: ResolutionView,
        *,
        progress: Callable[[str], None] | None = None,
        recall: bool = True,
    ) -> None:
        """``recall=False``: always run the resolver (``--re-resolve``), keep its answer."""
        self.memo = memo
        self.progress = progress
        self.recall = recall
        self.resolver = resolver
        self.identity = identity
        self.sources = list(sources)
        self.pinned = pinned
        self.view = view

    def resolve(
        self, run: Callable[[ResolveRequest], list[Pin]], request: ResolveRequest
    ) -> list[Pin]:
        key = self.memo.key(
            self.resolver,
            self.identity,
            request,
            [(s.name, s.url or "") for s in self.sources],
            self.pinned,
        )
        pins = self.memo.recall(key, self._digest) if self.recall else None
        if pins is not None:
            if self.progress is not None:
                self.progress(
                    "resolution reused: same request, and every index page the resolver "
                    "read is unchanged (--re-resolve runs it again)"
                )
            return pins
        recording = self.view.start_recording()
        errors_before = len(self.view.errors)
        pins = run(request)
        if len(self.view.errors) == errors_before and recording:
            self.memo.keep(key, pins, dict(recording))
        return pins

    def _digest(self, index: int, project: str, url: str) -> str | None:
        if not 0 <= index < len(self.sources):
            return None
        source = self.sources[index]
        if source.url is None or project_url(source.url, project) != url:
            return None
        try:
            page = fetch_project_page(source, project)
        except LockkeysError:
            return None
        return page.sha256 if page is not None else "missing"


def _override_needed(
    config_file: str, exc: ResolutionError, policies: Mapping[str, PackagePolicy]
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
                    file=config_file,
                    expected=f"{name}{match.group(2)}",
                    found=policy.substitute,
                    details=exc.details,
                    fix='set resolver = "uv" (or pass --resolver uv): uv applies the '
                    "substitute as an override, and the lock records override = true",
                )
    names = ", ".join(f"{n}=={p.substitute}" for n, p in sorted(policies.items()) if p.substitute)
    exc.fix = ((exc.fix + "; ") if exc.fix else "") + (
        f"if a substitute ({names}) lies outside what a dependent asks for, it must be "
        'applied as an override, which needs resolver = "uv"'
    )
    return exc


__all__ = ["resolve_pins"]
