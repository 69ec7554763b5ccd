"""Reading a resolver's compiled requirements output into pins, in either annotation style.

Each pin keeps who required it (from the ``via`` annotations) and where it applies (its
marker); a name pinned to several versions must say where each one applies.
"""

from __future__ import annotations

import re

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from lockkeys._internal.resolve.base import ROOT, Pin, root_of_file
from lockkeys.errors import ResolutionError, escape

#: A project name as written, without extras, version or marker.
PROJECT_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")


def parse_compiled(text: str, resolver: str) -> list[Pin]:
    """Pins from a compiled requirements file, in either annotation style.

    ``line``:  ``bar==1.0  # via -c constraints.txt, foo``
    ``split``: ``bar==1.0`` then ``#   via`` / ``#   foo`` comment lines below it.
    """
    # (name, version) -> requirers: a universal resolution may pin one name to several
    # versions, each under its own marker (a "fork").
    pins: dict[tuple[str, str], set[str]] = {}
    markers: dict[tuple[str, str], list[str | None]] = {}
    current: tuple[str, str] | None = None
    in_via = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            current, in_via = None, False
            continue
        if line.startswith("#"):
            comment = line[1:].strip()
            if current is None:
                continue
            if comment == "via" or comment.startswith("via "):
                pins[current].update(_via_entries(comment[3:]))
                in_via = True
            elif in_via and raw[:1].isspace() and comment:
                pins[current].update(_via_entries(comment))
            else:
                in_via = False
            continue
        if line.startswith("-"):
            if line.split()[0] in ("-e", "--editable"):
                raise ResolutionError(
                    f"{resolver} produced an editable requirement, which cannot be locked",
                    found=escape(line),
                )
            current, in_via = None, False  # an option line (index or find-links): not a pin
            continue
        spec, _, comment = line.partition(" #")
        name, version, marker = _pin_of(spec.strip(), resolver)
        key = (name, version)
        pins.setdefault(key, set())
        markers.setdefault(key, []).append(marker)
        current, in_via = key, False
        comment = comment.strip()
        if comment.startswith("via"):
            pins[key].update(_via_entries(comment[3:]))
            in_via = True
    out = [
        Pin(name=name, version=version, via=tuple(sorted(via)), marker=_either(markers[key]))
        for key, via in pins.items()
        for name, version in (key,)
    ]
    out.sort(key=lambda pin: (pin.name, _version_key(pin.version)))
    for name in {p.name for p in out}:
        versions = [p for p in out if p.name == name]
        if len(versions) > 1 and any(p.marker is None for p in versions):
            raise ResolutionError(
                f"{resolver} pinned {name} to several versions without saying where each one "
                "applies",
                package=name,
                found=", ".join(f"{p.version} ({p.marker or 'everywhere'})" for p in versions),
            )
    return out


def _version_key(version: str) -> tuple[int, Version | str]:
    try:
        return (0, Version(version))
    except InvalidVersion:
        return (1, version)


def _either(markers: list[str | None]) -> str | None:
    """One pin listed under several markers is needed where any of them holds."""
    if any(m is None for m in markers):
        return None
    unique = list(dict.fromkeys(m for m in markers if m))
    return unique[0] if len(unique) == 1 else " or ".join(f"({m})" for m in unique)


def _pin_of(spec: str, resolver: str) -> tuple[str, str, str | None]:
    try:
        req = Requirement(spec)
    except InvalidRequirement as exc:
        raise ResolutionError(
            f"cannot read the output of {resolver}: {escape(spec)!r} is not a requirement",
            found=escape(spec),
        ) from exc
    specs = list(req.specifier)
    if req.url or len(specs) != 1 or specs[0].operator not in ("==", "==="):
        raise ResolutionError(
            f"{resolver} did not pin {escape(req.name)} to one version",
            package=canonicalize_name(req.name),
            expected="name==version",
            found=escape(spec),
        )
    marker = str(req.marker) if req.marker is not None else None
    return canonicalize_name(req.name), specs[0].version, marker


def _via_entries(text: str) -> set[str]:
    """Requirers from a ``via`` annotation: names, or ROOT for ``-r FILE``.

    ``-c FILE`` / ``--override FILE`` (a constraint or an override) requires nothing.
    """
    found: set[str] = set()
    for part in text.split(","):
        entry = part.strip()
        if not entry:
            continue
        if entry.startswith("-"):
            flag, *rest = entry.split()
            if flag in ("-r", "--requirement", "--requirements"):
                found.add(root_of_file(rest[0]) if rest else ROOT)
            continue
        word = entry.split()[0]
        if PROJECT_NAME.match(word):
            found.add(canonicalize_name(word))
    return found
