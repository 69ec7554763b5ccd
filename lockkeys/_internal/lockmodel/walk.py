"""Every leaf of a lock document, and where two documents differ: what both review gates walk.

The gates (`lockkeys diff`, `lock --check`) compare the lock as a TOML document, not only the
fields lockkeys' model knows, so that a field no code reads (a PEP 751 key lockkeys ignores, a
key added by hand, a field added to the lock format later) is still seen (issue 19, rule 2).

Arrays of tables are keyed, not indexed, so an entry moved or inserted does not shift all the
others: package entries by name, version and marker, files and sources by name, publisher
identities by all their keys. Arrays of plain
values are compared as one value. A key present on one side only is one difference for its
whole subtree.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from packaging.markers import InvalidMarker, Marker
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from lockkeys._internal.limits import load_toml
from lockkeys._internal.lockmodel.lock import Lock

__all__ = [
    "MISSING",
    "Difference",
    "differences",
    "document",
    "entry_key",
    "leaves",
    "package_differences",
    "pair_entries",
    "parse_document",
    "show",
]


class _Missing:
    """The value on the side where a key is absent."""

    def __repr__(self) -> str:
        return "(absent)"


MISSING: Any = _Missing()
KeyPath = tuple[str, ...]


@dataclass(frozen=True)
class Difference:
    """One place where two documents differ: ``path`` (keys; keyed array entries as
    ``[key]``), the old and the new value (:data:`MISSING` where absent)."""

    path: KeyPath
    old: Any
    new: Any

    def where(self) -> str:
        """``packages[foo==1.0].wheels[foo-1.0-py3-none-any.whl].size``."""
        out = ""
        for part in self.path:
            if part == "(order)":
                out += " (order)"
            else:
                out += part if part.startswith("[") or not out else f".{part}"
        return out


def parse_document(text: str, file: str) -> dict[str, Any]:
    """The lock file's TOML as it is (what the installer's model may not keep, too)."""
    return load_toml(text, file)


def document(lock: Lock) -> dict[str, Any]:
    """The TOML document ``lock`` is written as (for a lock built in memory)."""
    from lockkeys._internal.lockmodel.io import dumps_lock

    return tomllib.loads(dumps_lock(lock))


def _normal_version(text: object) -> str:
    try:
        return str(Version(str(text)))
    except InvalidVersion:
        return str(text)


def _normal_marker(text: object) -> str:
    try:
        return str(Marker(str(text)))
    except InvalidMarker:
        return str(text)


def entry_key(name: object, version: object, marker: object) -> str:
    """``name==version`` and `` ; marker`` where there is one: how a package entry is named
    by both gates (a universal lock holds several entries of one name)."""
    key = f"{canonicalize_name(str(name))}=={_normal_version(version)}"
    return key if marker is None or marker is MISSING else f"{key} ; {_normal_marker(marker)}"


def _package_key(entry: Mapping[str, Any]) -> str:
    return entry_key(entry.get("name"), entry.get("version"), entry.get("marker"))


def _name_key(entry: Mapping[str, Any]) -> str:
    return str(entry.get("name"))


def _identity_key(entry: Mapping[str, Any]) -> str:
    """A publisher identity by all its keys: ``GitHub o/r release.yml``; one changed is one
    removed and another added."""
    rest = " ".join(str(v) for k, v in sorted(entry.items()) if k != "kind")
    return f"{entry.get('kind')} {rest}"


_KEYS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "packages": _package_key,
    "wheels": _name_key,
    "sources": _name_key,
    "attestation-identities": _identity_key,
}


def _keyed(field: str, items: Sequence[Any]) -> dict[str, Any] | None:
    """An array of tables as key -> entry (a repeated key gets ``#2``, ``#3``); None for an
    array of plain values (compared as one value)."""
    if not items or not all(isinstance(i, Mapping) for i in items):
        return None
    key = _KEYS.get(field)
    out: dict[str, Any] = {}
    for index, item in enumerate(items):
        base = key(item) if key is not None else str(index)
        label, n = base, 1
        while f"[{label}]" in out:
            n += 1
            label = f"{base}#{n}"
        out[f"[{label}]"] = item
    return out


def differences(old: Any, new: Any, path: KeyPath = ()) -> Iterator[Difference]:
    """Every difference between two documents (or two parts of one), in document order."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in [*old, *(k for k in new if k not in old)]:
            yield from differences(old.get(key, MISSING), new.get(key, MISSING), (*path, key))
        return
    if isinstance(old, list) and isinstance(new, list):
        field = path[-1] if path else ""
        a, b = _keyed(field, old), _keyed(field, new)
        if a is not None and b is not None:
            yield from differences(a, b, path)
            common = [k for k in a if k in b]
            if common != [k for k in b if k in a]:
                yield Difference((*path, "(order)"), list(a), list(b))
            return
    if type(old) is not type(new) or old != new:
        yield Difference(path, old, new)


def leaves(value: Any, path: KeyPath = ()) -> Iterator[tuple[KeyPath, Any]]:
    """Every leaf of a document (or of one entry), keyed as :func:`differences` keys them."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
        return
    if isinstance(value, list):
        keyed = _keyed(path[-1] if path else "", value)
        if keyed is not None:
            yield from leaves(keyed, path)
            return
    yield path, value


T = TypeVar("T")
Identity = tuple[str, str, str | None]


def pair_entries(
    old: Sequence[T], new: Sequence[T], identity: Callable[[T], Identity]
) -> list[tuple[T | None, T | None]]:
    """Old and new package entries paired for comparison, by name (``identity``: name,
    version, marker): the same version and marker, else the same marker (a version bump),
    else the same version (a marker change), else the one entry left on each side; what is
    left is added (None, new) or removed (old, None). Sorted by name."""
    pairs: list[tuple[T | None, T | None]] = []
    for name in sorted({identity(p)[0] for p in old} | {identity(p)[0] for p in new}):
        before = [p for p in old if identity(p)[0] == name]
        after = [p for p in new if identity(p)[0] == name]
        found: list[tuple[T | None, T | None]] = []
        for part in (slice(1, 3), slice(2, 3), slice(1, 2)):
            for b in list(before):
                match = next((a for a in after if identity(a)[part] == identity(b)[part]), None)
                if match is not None:
                    found.append((b, match))
                    before.remove(b)
                    after.remove(match)
        if len(before) == 1 and len(after) == 1:
            found.append((before.pop(), after.pop()))
        found += [(b, None) for b in before] + [(None, a) for a in after]
        pairs += sorted(found, key=lambda pair: _label(identity, pair))
    return pairs


def _label(identity: Callable[[T], Identity], pair: tuple[T | None, T | None]) -> str:
    one = pair[1] if pair[1] is not None else pair[0]
    assert one is not None
    return entry_key(*identity(one))


def doc_identity(entry: Any) -> Identity:
    """(name, version, marker) of a package entry of a document, normalized."""
    if not isinstance(entry, Mapping):
        return ("", "", str(entry))
    marker = entry.get("marker")
    return (
        canonicalize_name(str(entry.get("name"))),
        _normal_version(entry.get("version")),
        None if marker is None else _normal_marker(marker),
    )


def package_differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterator[Difference]:
    """:func:`differences` of two whole lock documents, package entries paired as
    :func:`pair_entries` pairs them (a marker or version edited is a difference of that
    field, not an entry removed and another added); each pair is named by the new entry."""
    rest_old = {k: v for k, v in old.items() if k != "packages"}
    rest_new = {k: v for k, v in new.items() if k != "packages"}
    yield from differences(rest_old, rest_new)
    a, b = old.get("packages", MISSING), new.get("packages", MISSING)
    if not isinstance(a, list) or not isinstance(b, list):
        if a != b:
            yield Difference(("packages",), a, b)
        return
    pairs = pair_entries(a, b, doc_identity)
    for before, after in pairs:
        one = after if after is not None else before
        where = ("packages", f"[{entry_key(*doc_identity(one))}]")
        yield from differences(
            MISSING if before is None else before, MISSING if after is None else after, where
        )
    both = [(x, y) for x, y in pairs if x is not None and y is not None]
    old_order = sorted(both, key=lambda pair: _index(a, pair[0]))
    new_order = sorted(both, key=lambda pair: _index(b, pair[1]))
    if old_order != new_order:
        names = [entry_key(*doc_identity(y)) for _, y in new_order]
        was = [entry_key(*doc_identity(y)) for _, y in old_order]
        yield Difference(("packages", "(order)"), was, names)


def _index(items: list[Any], item: Any) -> int:
    return next(i for i, x in enumerate(items) if x is item)


def show(value: Any, limit: int = 120) -> str:
    """A value for a message: TOML-ish, one line, shortened."""
    if value is MISSING:
        return "(absent)"
    if isinstance(value, str):
        text = repr(value)
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
