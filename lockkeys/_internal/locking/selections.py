"""Extras and dependency groups of the application: which packages each one needs.

The base requirements, every extra (``[project.optional-dependencies]``) and every PEP 735
dependency group are resolved together, so the lock holds one version of each package for
all of them. A package reached only from extras or groups gets a PEP 751 marker saying so
(``"security" in extras or "dev" in dependency_groups``), joined to its environment marker;
an installer then takes it only when one of them is asked for. A package the base
requirements reach is needed whatever is asked for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from lockkeys._internal.markers import selection_marker, with_selection
from lockkeys._internal.resolve.base import ROOT, Pin, set_root


def requirement_sets(
    extras: Mapping[str, Sequence[str]], groups: Mapping[str, Sequence[str]]
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """What the resolver is asked besides the base requirements, one set per extra or group."""
    return tuple(
        [(f"extra.{name}", tuple(lines)) for name, lines in sorted(extras.items()) if lines]
        + [(f"group.{name}", tuple(lines)) for name, lines in sorted(groups.items()) if lines]
    )


def reached_from(pins: Sequence[Pin]) -> dict[str, set[str]]:
    """Package name -> the roots it is reached from (:data:`ROOT`, ``<extra:X>``,
    ``<group:G>``), through the resolvers' ``via`` edges (cycles are fine)."""
    reached: dict[str, set[str]] = {p.name: set() for p in pins}
    changed = True
    while changed:
        changed = False
        for pin in pins:
            found: set[str] = set()
            for parent in pin.via:
                found |= {parent} if parent.startswith("<") else reached.get(parent, set())
            if not pin.via:
                found.add(ROOT)  # nobody named: needed (never drop a package silently)
            if not found <= reached[pin.name]:
                reached[pin.name] |= found
                changed = True
    return reached


def with_selection_markers(
    pins: Sequence[Pin], extras: Sequence[str], groups: Sequence[str]
) -> list[Pin]:
    """``pins`` with the markers of those only extras or groups need."""
    if not extras and not groups:
        return list(pins)
    reached = reached_from(pins)
    out: list[Pin] = []
    for pin in pins:
        roots = reached[pin.name]
        if ROOT in roots:
            out.append(pin)
            continue
        wanted_extras = [e for e in extras if set_root("extra", e) in roots]
        wanted_groups = [g for g in groups if set_root("group", g) in roots]
        if not wanted_extras and not wanted_groups:
            out.append(pin)
            continue
        selection = selection_marker(wanted_extras, wanted_groups)
        out.append(replace(pin, marker=with_selection(pin.marker, selection)))
    return out


__all__ = ["reached_from", "requirement_sets", "with_selection_markers"]
