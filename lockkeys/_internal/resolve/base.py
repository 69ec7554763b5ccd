"""The resolver interface: abstract requirements in, exact pins (with who asked for them) out.

Two implementations run an external resolver as a subprocess, because neither offers a stable
Python API: :mod:`lockkeys._internal.resolve.piptools` (``pip-compile``) and
:mod:`lockkeys._internal.resolve.uv` (``uv pip compile``). Both run isolated from the user's pip
and uv configuration and are given every package source explicitly, so the same request gives the
same pins with either.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from lockkeys.errors import UsageError

if TYPE_CHECKING:
    from lockkeys._internal.resolve.runenv import ResolverSettings

#: How a top-level requirement (a ``-r requirements`` line) appears in :attr:`Pin.via`.
ROOT = "<root>"


#: A requirement set other than the top-level one (an extra, a dependency group) appears in
#: :attr:`Pin.via` as ``<KIND:NAME>``, e.g. ``<extra:security>``, ``<group:dev>``.
def set_root(kind: str, name: str) -> str:
    """The :attr:`Pin.via` entry for an extra or a dependency group, e.g. ``<extra:security>``."""
    return f"<{kind}:{name}>"


def root_of_file(filename: str) -> str:
    """The :attr:`Pin.via` entry for ``-r FILE``: :data:`ROOT` for the top-level requirements,
    ``<KIND:NAME>`` for a set written as ``KIND.NAME.in``."""
    stem = Path(filename).name.removesuffix(".in")
    kind, dot, name = stem.partition(".")
    return set_root(kind, name) if dot and kind in ("extra", "group") else ROOT


#: The resolver names :func:`get_resolver` accepts, as written in ``resolver = "..."``.
RESOLVER_NAMES = ("pip-tools", "uv")


@dataclass(frozen=True)
class ResolveRequest:
    """What to resolve, and from where. Nothing else (no user configuration) is consulted."""

    requirements: tuple[str, ...]
    """Requirement lines in pip (PEP 508) syntax, already flattened (no ``-r``, no options)."""
    indexes: tuple[str, ...] = ()
    """PEP 503 simple index URLs, highest priority first; empty means no index at all."""
    find_links: tuple[Path, ...] = ()
    """Local folders of distributions."""
    constraints: tuple[str, ...] = ()
    """Version limits that add no package, e.g. existing pins or ``broken==1.0+corp.1``."""
    overrides: tuple[str, ...] = ()
    """Replace what dependencies declare for these packages (uv only)."""
    python_version: str | None = None
    """Target Python, e.g. ``"3.11"``; None means the running interpreter's. For a universal
    resolution, the lowest Python it covers."""
    upgrade: bool = False
    preferences: tuple[str, ...] = ()
    """Pins to keep where the resolution allows them (``name==version``, a fork's with its
    marker), given to the resolver as its previous output, as pip-compile and uv read one."""
    requirement_sets: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """More requirements resolved together with ``requirements``, by set: ``("extra.NAME",
    lines)`` or ``("group.NAME", lines)``; their pins name the set in :attr:`Pin.via`."""
    universal: bool = False
    """One resolution for every platform and Python (from ``python_version`` up), each pin
    with the marker under which it is needed (uv only)."""


@dataclass(frozen=True)
class Pin:
    """One resolved package."""

    name: str
    """Normalized name (``packaging.utils.canonicalize_name``)."""
    version: str
    """The version as resolved, e.g. ``"1.0+corp.1"``."""
    via: tuple[str, ...]
    """Sorted normalized names of the packages that require it; :data:`ROOT` for the
    top-level requirements. Constraints and overrides are not listed: they add no edge."""
    marker: str | None = None
    """Universal resolutions: the environments that need it (None: all of them)."""


class Resolver(Protocol):
    """Resolves a :class:`ResolveRequest` to pins sorted by name.

    Raises :class:`~lockkeys.errors.ResolutionError` when the requirements cannot be satisfied,
    :class:`~lockkeys.errors.SourceError` when a package source could not be reached, and
    :class:`~lockkeys.errors.UsageError` for requests it cannot serve or a missing resolver.
    """

    name: str

    def resolve(self, request: ResolveRequest) -> list[Pin]:
        """Resolve the request into pins, or raise a ResolutionError saying why not."""
        ...


def get_resolver(name: str, settings: ResolverSettings | None = None) -> Resolver:
    """The resolver called ``name`` ("pip-tools" or "uv"); ``settings`` says how it runs
    (credentials, trust, cache; default: none of them, a fresh cache per run)."""
    if check_resolver_name(name) == "pip-tools":
        from lockkeys._internal.resolve.piptools import PipToolsResolver

        return PipToolsResolver(settings=settings)
    from lockkeys._internal.resolve.uv import UvResolver

    return UvResolver(settings=settings)


def check_resolver_name(name: str) -> str:
    """``name`` if it is a resolver lockkeys runs, else the usage error that says which are."""
    if name not in RESOLVER_NAMES:
        raise UsageError(
            f"unknown resolver {name!r}",
            expected=" or ".join(repr(n) for n in RESOLVER_NAMES),
            found=repr(name),
            fix='pass --resolver pip-tools or --resolver uv, or set resolver = "pip-tools" '
            'or resolver = "uv" in the configuration',
        )
    return name
