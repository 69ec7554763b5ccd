"""A small, deterministic TOML writer for the lock (same data, same bytes).

Only what the lock needs: strings, integers, booleans, arrays, inline tables, tables and
arrays of tables. Keys are written in the order given (callers sort where order is free).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def key(name: str) -> str:
    return name if _BARE_KEY.match(name) else string(name)


def string(value: str) -> str:
    out = ['"']
    for ch in value:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def multiline(value: str) -> str:
    """A literal multi-line string for armored blocks (they hold no ''' or control chars)."""
    if "'''" in value or any(ord(c) < 0x20 and c != "\n" for c in value):
        return string(value)
    return "'''\n" + value + "'''"


def value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return multiline(v) if "\n" in v and v.startswith("-----BEGIN PGP") else string(v)
    if isinstance(v, Mapping):
        items = ", ".join(f"{key(k)} = {value(x)}" for k, x in v.items() if x is not None)
        return "{ " + items + " }" if items else "{}"
    if isinstance(v, Sequence):
        if not v:
            return "[]"
        if any(isinstance(x, Mapping) for x in v) or len(v) > 4:
            return "[\n" + "".join(f"  {value(x)},\n" for x in v) + "]"
        return "[" + ", ".join(value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _is_table(v: Any) -> bool:
    return isinstance(v, Mapping)


def _is_table_array(v: Any) -> bool:
    return (
        isinstance(v, Sequence)
        and not isinstance(v, str)
        and bool(v)
        and all(isinstance(x, Mapping) and x.get("__table__") for x in v)
    )


def table(name: str | None, data: Mapping[str, Any], *, array: bool = False) -> str:
    """Render one table: its plain keys first, then its sub-tables, then arrays of tables.

    Mappings nested in ``data`` become ``[name.sub]`` tables, except those marked inline by
    being inside arrays. Arrays of mappings marked with ``"__table__": True`` become
    ``[[name.sub]]``.
    """
    lines: list[str] = []
    subtables: list[tuple[str, Mapping[str, Any]]] = []
    arrays: list[tuple[str, Sequence[Mapping[str, Any]]]] = []
    for k, v in data.items():
        if k == "__table__" or v is None:
            continue
        if _is_table(v):
            subtables.append((k, v))
        elif _is_table_array(v):
            arrays.append((k, v))
        else:
            lines.append(f"{key(k)} = {value(v)}")
    if name is not None and (lines or array or not (subtables or arrays)):
        lines.insert(0, f"[[{name}]]" if array else f"[{name}]")
    text = "\n".join(lines) + ("\n" if lines else "")
    prefix = f"{name}." if name else ""
    for k, items in arrays:
        for item in items:
            text += "\n" + table(prefix + key(k), item, array=True)
    for k, sub in subtables:
        text += "\n" + table(prefix + key(k), sub)
    return text


def dumps(document: Mapping[str, Any]) -> str:
    # Omitted empty headers leave runs of blank lines; armored blocks never hold two.
    return re.sub(r"\n{3,}", "\n\n", table(None, document)).lstrip("\n")
