"""Pydantic validation errors turned into messages that name the TOML keys the user wrote."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from packaging.utils import canonicalize_name
from pydantic import BaseModel, ValidationError

from lockkeys._internal.config.policy import DefaultConfig, PackageConfig
from lockkeys._internal.config.schema import INTERNAL_KEYS, LockkeysConfig
from lockkeys._internal.config.source_table import SourceConfig
from lockkeys.errors import InputError

__all__ = ["convert_validation_error"]

_TOML_TYPES: dict[type, str] = {
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a float",
    dict: "a table",
    list: "an array",
}
_EXPECTED_BY_TYPE = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "bool_type": "a boolean",
    "bool_parsing": "a boolean",
    "list_type": "an array",
    "tuple_type": "an array",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
    "path_type": "a file name (string)",
}


def _toml_type(value: object) -> str:
    for kind, name in _TOML_TYPES.items():
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _show(value: object) -> str:
    if isinstance(value, str | int | float | bool):
        return f"{value!r}" if not isinstance(value, bool) else str(value).lower()
    return _toml_type(value)


def _known_keys(parent: tuple[str | int, ...]) -> list[str]:
    def aliases(model: type[BaseModel]) -> list[str]:
        return [f.alias or n for n, f in model.model_fields.items()]

    if not parent:
        return [k for k in aliases(LockkeysConfig) if k not in INTERNAL_KEYS]
    if parent == ("default",):
        return aliases(DefaultConfig)
    if len(parent) == 2 and parent[0] == "packages":
        return aliases(PackageConfig)
    if len(parent) == 2 and parent[0] == "sources":
        return aliases(SourceConfig)
    return []


def _key_path(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _describe(error: Mapping[str, Any], raw: Mapping[str, Any]) -> tuple[str, str | None]:
    """``(key path.message, fix)`` for one pydantic error, with the keys the user wrote."""
    loc: tuple[str | int, ...] = tuple(error["loc"])
    kind = error["type"]
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    value = error.get("input")
    fix: str | None = None
    if kind == "lockkeys":
        loc = loc + tuple(ctx.get("at", ()))
        message = str(ctx.get("message", error["msg"]))
        fix = ctx.get("fix")
    elif kind == "extra_forbidden":
        key = str(loc[-1])
        message = f"unknown key {key!r}"
        close = difflib.get_close_matches(key, _known_keys(loc[:-1]), n=1)
        if close:
            fix = f"did you mean {close[0]!r}?"
        else:
            known = _known_keys(loc[:-1])
            fix = f"known keys: {', '.join(known)}" if known else None
    elif kind == "missing":
        message = f"missing key {loc[-1]!r}"
    elif kind == "literal_error":
        expected = str(ctx.get("expected", ""))
        choices = re.findall(r"'([^']*)'", expected)
        message = f"{_show(value)} is not allowed; expected one of: {', '.join(choices)}"
        if isinstance(value, str):
            close = difflib.get_close_matches(value, choices, n=1)
            fix = f"did you mean {close[0]!r}?" if close else None
    elif kind in _EXPECTED_BY_TYPE:
        message = f"expected {_EXPECTED_BY_TYPE[kind]}, found {_show(value)}"
    else:
        message = f"{error['msg']} (found {_show(value)})"
    loc = _user_keys(loc, raw)
    path = _key_path(loc)
    return (f"{path}: {message}" if path else message), fix


def _user_keys(loc: tuple[str | int, ...], raw: Mapping[str, Any]) -> tuple[str | int, ...]:
    """Map a canonical package name in ``loc`` back to the table key the user wrote."""
    if len(loc) >= 2 and loc[0] == "packages" and isinstance(loc[1], str):
        tables = raw.get("packages")
        if isinstance(tables, Mapping) and loc[1] not in tables:
            for key in tables:
                if canonicalize_name(str(key)) == loc[1]:
                    return ("packages", str(key), *loc[2:])
    return loc


def convert_validation_error(
    exc: ValidationError, raw: Mapping[str, Any], display: str, prefix: str
) -> InputError:
    """One :class:`InputError` for ``exc``: the first problem as the message, the rest as
    ``also:`` details, each with the key path under ``prefix`` as written in ``raw``."""
    described = [_describe(e, raw) for e in exc.errors()]
    lines = [f"{prefix}{text}" if text else prefix.rstrip(".") for text, _ in described]
    headline_fix = described[0][1]
    details = [
        f"also: {line}" + (f" ({fix})" if fix else "")
        for line, (_, fix) in zip(lines[1:], described[1:], strict=True)
    ]
    return InputError(lines[0], file=display, fix=headline_fix, details=details)
