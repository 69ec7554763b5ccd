"""Environment markers for locks: which environments a lock covers, as PEP 508 markers.

- :func:`running_environment`: the one environment a per-environment (pip-tools) lock is
  resolved for, as a marker naming the platform and the Python.
- :func:`requires_python_marker`, :func:`lowest_python`: a ``requires-python`` specifier as
  marker terms, and the lowest Python it allows (the floor a universal resolution starts at).
- :func:`covers`: whether a target environment lies inside a lock's ``environments`` and
  ``requires-python``.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Mapping, Sequence, Set
from typing import Any

from packaging.markers import Marker, default_environment
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

#: The marker variables a per-environment lock records: platform, machine and Python.
ENVIRONMENT_KEYS = ("sys_platform", "platform_machine", "implementation_name", "python_version")


def running_environment(markers: Mapping[str, str] | None = None) -> str:
    """``sys_platform == 'linux' and platform_machine == 'x86_64' and ...`` for these marker
    values (default: the running interpreter's)."""
    values = {k: str(v) for k, v in (markers or default_environment()).items()}
    text = " and ".join(f"{key} == {_quote(values[key])}" for key in ENVIRONMENT_KEYS)
    return str(Marker(text))  # packaging's spelling, as the lock writes it


def running_python() -> str:
    """``major.minor`` of the running interpreter."""
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


def _quote(value: str) -> str:
    return f'"{value}"' if '"' not in value else f"'{value}'"


def parse_requires_python(text: str) -> SpecifierSet:
    """A ``requires-python`` value; ValueError when it is not a specifier set."""
    try:
        spec = SpecifierSet(text)
    except InvalidSpecifier as exc:
        raise ValueError(f"{text!r} is not a version specifier such as '>=3.11'") from exc
    if not str(spec):
        raise ValueError("empty: give a version specifier such as '>=3.11'")
    return spec


def requires_python_marker(spec: SpecifierSet) -> str:
    """``>=3.9,<3.13`` -> ``python_full_version >= '3.9' and python_full_version < '3.13'``."""
    return " and ".join(
        f"python_full_version {s.operator} {_quote(s.version)}"
        for s in sorted(spec, key=lambda s: (s.version, s.operator))
    )


def lowest_python(spec: SpecifierSet) -> str | None:
    """The lowest ``3.N`` with a release the specifier allows (``>3.8`` -> ``3.8``), None if
    it allows no Python 3 at all."""
    for minor in range(0, 100):
        for micro in range(0, 100):
            if spec.contains(Version(f"3.{minor}.{micro}"), prereleases=True):
                return f"3.{minor}"
    return None


def covers(
    target: Mapping[str, str],
    *,
    environments: Sequence[str] | None,
    requires_python: str | None,
) -> list[str]:
    """Why ``target`` (marker values) is outside a lock: an empty list when it is inside.

    ``environments``: at least one must be true for the target (PEP 751); ``requires-python``
    must contain the target's ``python_full_version``.
    """
    problems: list[str] = []
    if requires_python:
        full = target.get("python_full_version", "")
        if not SpecifierSet(requires_python).contains(full, prereleases=True):
            problems.append(f"Python {full} is outside requires-python {requires_python}")
    if environments is not None:
        env = dict(target)
        if not any(Marker(e).evaluate(env) for e in environments):
            problems.append("it matches none of the lock's environments")
    return problems


def describe(target: Mapping[str, str]) -> str:
    """``Python 3.10.12 (cpython) on linux x86_64``."""
    return (
        f"Python {target.get('python_full_version', '?')} "
        f"({target.get('implementation_name', '?')}) on {target.get('sys_platform', '?')} "
        f"{target.get('platform_machine', '') or platform.machine()}"
    ).rstrip()


# -- extras and dependency groups -------------------------------------------------------------

_SELECTION_VARIABLES = frozenset({"extras", "dependency_groups"})


def selection_marker(extras: Sequence[str], groups: Sequence[str]) -> str:
    """``"security" in extras or "dev" in dependency_groups``: needed when any is chosen."""
    terms = [f"{_quote(e)} in extras" for e in extras]
    terms += [f"{_quote(g)} in dependency_groups" for g in groups]
    return " or ".join(terms)


def with_selection(marker: str | None, selection: str) -> str:
    """``marker`` and ``selection``, both required."""
    if not marker:
        return str(Marker(selection))
    return str(Marker(f"({marker}) and ({selection})"))


Partial = bool | str


def resolve_selection(marker: str | None, extras: Set[str], groups: Set[str]) -> Partial:
    """A lock marker with the chosen extras and dependency groups put in: True (needed
    everywhere), False (not needed), or the marker that remains (environment terms only), for
    a requirements file that cannot express extras and groups."""
    if not marker:
        return True
    # private: packaging (26.x) has no public parse tree or partial evaluation, only evaluate()
    parsed = Marker(marker)._markers
    result = _partial(parsed, extras, groups)
    return result if isinstance(result, bool) else str(Marker(result))


def _partial(node: Any, extras: Set[str], groups: Set[str]) -> Partial:
    if isinstance(node, tuple):
        lhs, op, rhs = node
        names = {
            getattr(side, "value", None) for side in (lhs, rhs) if type(side).__name__ == "Variable"
        }
        chosen = names & _SELECTION_VARIABLES
        if not chosen:
            return " ".join(part.serialize() for part in node)
        values = extras if "extras" in chosen else groups
        item = rhs.value if type(lhs).__name__ == "Variable" else lhs.value
        member = str(item) in values
        return member if op.value == "in" else not member
    # A flat list: terms joined by "and", groups of those joined by "or".
    alternatives: list[list[Partial]] = [[]]
    for item in node:
        if item == "or":
            alternatives.append([])
        elif item != "and":
            alternatives[-1].append(_partial(item, extras, groups))
    kept: list[str] = []
    for terms in alternatives:
        if any(t is False for t in terms):
            continue
        rest = [t for t in terms if not isinstance(t, bool)]
        if not rest:
            return True
        kept.append(" and ".join(f"({t})" for t in rest))
    if not kept:
        return False
    return " or ".join(f"({k})" for k in kept)


__all__ = [
    "ENVIRONMENT_KEYS",
    "covers",
    "describe",
    "lowest_python",
    "parse_requires_python",
    "requires_python_marker",
    "resolve_selection",
    "running_environment",
    "running_python",
    "selection_marker",
    "with_selection",
]
