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
from collections.abc import Mapping, Sequence

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


__all__ = [
    "ENVIRONMENT_KEYS",
    "covers",
    "describe",
    "lowest_python",
    "parse_requires_python",
    "requires_python_marker",
    "running_environment",
    "running_python",
]
