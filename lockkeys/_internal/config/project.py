"""Readers of the standard ``pyproject.toml`` tables lockkeys locks from: ``[project]``
``dependencies``, ``requires-python`` and ``optional-dependencies``, and PEP 735
``[dependency-groups]``.

The include resolution of ``[dependency-groups]`` stays hand-written rather than on
:mod:`packaging.dependency_groups`: each entry is checked by lockkeys' own requirement rules
with its key path and index anyway, and the library's errors carry neither the index nor the
include trail, so rebuilding those messages around it took more code than the recursion.

Each refusal is an :class:`~lockkeys.errors.InputError` naming the key, e.g.
``project.optional-dependencies.dev[0]: invalid requirement ...``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from lockkeys._internal.requirements import check_requirement
from lockkeys.errors import InputError

__all__ = [
    "dependency_groups",
    "project_dependencies",
    "project_extras",
    "project_requires_python",
]


def _one_requirement(line: Any, where: str, display: str) -> str:
    if not isinstance(line, str):
        raise InputError(f"{where}: expected a requirement string", file=display)
    try:
        return check_requirement(line, file=display)
    except InputError as exc:
        raise InputError(f"{where}: {exc.message}", file=display, expected=exc.expected) from None


def _requirement_list(value: Any, where: str, display: str) -> list[str]:
    if not isinstance(value, list):
        raise InputError(f"{where}: expected an array of requirement strings", file=display)
    return [_one_requirement(line, f"{where}[{i}]", display) for i, line in enumerate(value)]


def project_extras(doc: Mapping[str, Any], display: str) -> dict[str, list[str]]:
    """``[project.optional-dependencies]``: normalized extra name -> requirement lines."""
    project = doc.get("project")
    table = project.get("optional-dependencies") if isinstance(project, Mapping) else None
    if table is None:
        return {}
    if not isinstance(table, Mapping):
        raise InputError("project.optional-dependencies: expected a table", file=display)
    out: dict[str, list[str]] = {}
    for name, lines in table.items():
        where = f"project.optional-dependencies.{name}"
        key = canonicalize_name(name)
        if key in out:
            raise InputError(f"{where}: the same extra twice (as {key!r})", file=display)
        out[key] = _requirement_list(lines, where, display)
    return dict(sorted(out.items()))


def dependency_groups(doc: Mapping[str, Any], display: str) -> dict[str, list[str]]:
    """PEP 735 ``[dependency-groups]``, ``{include-group = ...}`` expanded: normalized group
    name -> requirement lines."""
    table = doc.get("dependency-groups")
    if table is None:
        return {}
    if not isinstance(table, Mapping):
        raise InputError("dependency-groups: expected a table", file=display)
    raw: dict[str, tuple[str, Any]] = {canonicalize_name(k): (k, v) for k, v in table.items()}
    if len(raw) != len(table):
        raise InputError("dependency-groups: two groups have the same name", file=display)

    def expand(name: str, trail: tuple[str, ...]) -> list[str]:
        written, entries = raw[name]
        where = f"dependency-groups.{written}"
        if not isinstance(entries, list):
            raise InputError(f"{where}: expected an array", file=display)
        out: list[str] = []
        for index, entry in enumerate(entries):
            if isinstance(entry, Mapping) and set(entry) == {"include-group"}:
                included = canonicalize_name(str(entry["include-group"]))
                if included not in raw:
                    raise InputError(
                        f"{where}[{index}]: includes unknown group {entry['include-group']!r}",
                        file=display,
                    )
                if included in trail:
                    cycle = " -> ".join((*trail, included))
                    raise InputError(
                        f"{where}[{index}]: groups include each other: {cycle}", file=display
                    )
                out += [x for x in expand(included, (*trail, included)) if x not in out]
            else:
                line = _one_requirement(entry, f"{where}[{index}]", display)
                if line not in out:
                    out.append(line)
        return out

    return {name: expand(name, (name,)) for name in sorted(raw)}


def project_requires_python(doc: Mapping[str, Any], display: str) -> str | None:
    """``[project] requires-python``, normalized (None: not given or empty)."""
    project = doc.get("project")
    if not isinstance(project, Mapping) or "requires-python" not in project:
        return None
    value = project["requires-python"]
    try:
        spec = SpecifierSet(value) if isinstance(value, str) else None
    except InvalidSpecifier:
        spec = None
    if spec is None:
        raise InputError(
            "project.requires-python: not a version specifier",
            file=display,
            found=repr(value),
            expected='e.g. ">=3.11"',
        )
    return str(spec) or None


def project_dependencies(doc: Mapping[str, Any], display: str) -> list[str] | None:
    """``[project] dependencies``, each checked and canonical (None: the key is absent)."""
    project = doc.get("project")
    if not isinstance(project, Mapping) or "dependencies" not in project:
        return None
    deps = project["dependencies"]
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        raise InputError("project.dependencies: expected an array of strings", file=display)
    out: list[str] = []
    for index, line in enumerate(deps):
        try:
            out.append(check_requirement(line, file=display))
        except InputError as exc:
            raise InputError(
                f"project.dependencies[{index}]: {exc.message}",
                file=display,
                expected=exc.expected,
                fix=exc.fix,
            ) from None
    return out
