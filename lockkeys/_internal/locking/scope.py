"""What a lock covers: its ``environments`` and ``requires-python`` (PEP 751).

With uv a lock is universal: one resolution for every platform and every Python that
``requires-python`` allows (the config's, else ``[project]``'s, else from the locking Python
up), narrowed to the configured ``environments`` if any; each package then carries the marker
under which it is needed. pip-tools resolves for the interpreter that runs it and nothing else,
so its lock records that one environment; configuring several is an error that names uv.
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.markers import Marker, default_environment
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from lockkeys._internal.config.schema import LockkeysConfig
from lockkeys._internal.markers import (
    describe,
    lowest_python,
    requires_python_marker,
    running_environment,
    running_python,
)
from lockkeys.errors import UsageError


@dataclass(frozen=True)
class LockScope:
    """Which environments a lock covers, and how the resolver is asked for them."""

    universal: bool
    environments: tuple[str, ...] | None  # recorded in the lock (None: any environment)
    requires_python: str | None  # recorded in the lock
    python_floor: str | None  # the lowest Python a universal resolution starts at
    restriction: str | None  # a marker added to every requirement line (universal only)

    def restrict(self, line: str) -> str:
        """``line`` with the scope's marker: outside the scope, nothing is needed."""
        if not self.restriction:
            return line
        req = Requirement(line)
        own = f"({req.marker}) and " if req.marker is not None else ""
        req.marker = Marker(f"{own}({self.restriction})")
        return str(req)


def lock_scope(config: LockkeysConfig, resolver: str) -> LockScope:
    """The scope of a lock by ``resolver``: universal for uv, the locking environment for
    pip-tools (refusing what it cannot do: several environments, a Python it is not)."""
    key = config.key_prefix
    if resolver == "uv":
        spec_text = config.python_requirement or f">={running_python()}"
        spec = SpecifierSet(spec_text)
        floor = lowest_python(spec)
        if floor is None:
            raise UsageError(
                f"{key}requires-python: {spec_text!r} allows no Python 3 version",
                file=str(config.config_path),
                fix='e.g. requires-python = ">=3.11"',
            )
        parts = [requires_python_marker(spec)]
        if config.environments:
            parts.append(" or ".join(f"({e})" for e in config.environments))
        return LockScope(
            universal=True,
            environments=tuple(config.environments) if config.environments else None,
            requires_python=str(spec),
            python_floor=floor,
            restriction=" and ".join(f"({p})" for p in parts if p),
        )
    # pip-tools: the running interpreter's environment, and nothing else.
    here = {k: str(v) for k, v in default_environment().items()}
    if config.environments and len(config.environments) > 1:
        raise UsageError(
            f"{key}environments: pip-tools resolves for one environment (the interpreter that "
            f"runs it), not {len(config.environments)}",
            file=str(config.config_path),
            found=", ".join(config.environments),
            fix='set resolver = "uv" (or run with --resolver uv) for a lock that covers '
            "several environments",
        )
    for text in config.environments or ():
        if not Marker(text).evaluate(dict(here)):
            raise UsageError(
                f"{key}environments: pip-tools resolves for this interpreter "
                f"({describe(here)}), which is outside {text!r}",
                file=str(config.config_path),
                fix='set resolver = "uv" to lock for another environment, or lock on it',
            )
    required = config.python_requirement
    if required and not SpecifierSet(required).contains(here["python_full_version"], True):
        raise UsageError(
            f"{key}requires-python: pip-tools resolves for this interpreter "
            f"(Python {here['python_full_version']}), which is outside {required!r}",
            file=str(config.config_path),
            fix='set resolver = "uv" to lock for other Python versions, or lock with one '
            "that requires-python allows",
        )
    return LockScope(
        universal=False,
        environments=(running_environment(here),),
        requires_python=f"=={running_python()}.*",
        python_floor=None,
        restriction=None,
    )


__all__ = ["LockScope", "lock_scope"]
