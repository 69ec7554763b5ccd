"""Bounds on local input: size caps per kind of file, and nesting limits for TOML and JSON.

Every local file lockkeys reads goes through :func:`lockkeys._internal.fsutil.read_regular_file`
with one of the caps below (a regular file, at most that many bytes); every TOML or JSON document
goes through :func:`load_toml` / :func:`load_json`, which refuse documents nested deeper than
:data:`MAX_NESTING` instead of exhausting the interpreter's stack.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable
from typing import Any

from lockkeys.errors import InputError

KIB = 1024
MIB = 1024 * KIB

MAX_CONFIG_FILE = 4 * MIB  # pyproject.toml / lockkeys.toml
MAX_REQUIREMENTS_FILE = 4 * MIB  # requirements.in and the files it includes
MAX_LOCK_FILE = 64 * MIB  # pylock.toml (embedded certificates included)
MAX_PASSPHRASE_FILE = 64 * KIB
# Certificates and secret keys; certificates with many third-party certifications stay well
# under it.
MAX_KEY_FILE = 8 * MIB
# A PEP 740 attestation (FILE.publish.attestation) or provenance object (FILE.provenance): a
# Sigstore bundle with its certificate is a few kB; a provenance holds a few of them.
MAX_ATTESTATION_FILE = 1 * MIB
MAX_NESTING = 64  # arrays/tables inside one another; real configs and locks use under 8


class TooDeep(ValueError):
    """A document nested deeper than :data:`MAX_NESTING`."""


def check_depth(document: object, limit: int = MAX_NESTING) -> None:
    """Raise :class:`TooDeep` when ``document`` nests dicts/lists deeper than ``limit``.

    Level by level, keeping only the containers: a page of 30,000 file entries has some
    300,000 scalars, and looking at each of them once, in C, is what keeps this cheap."""
    level: list[object] = [document]
    depth = 0
    while level:
        depth += 1
        below: list[object] = []
        for node in level:
            if type(node) is dict:
                values: Iterable[object] = node.values()
            elif type(node) is list:
                values = node
            elif isinstance(node, dict):
                values = list(node.values())
            elif isinstance(node, list):
                values = list(node)
            else:
                continue
            if depth > limit:
                raise TooDeep(f"nested more than {limit} levels deep")
            below += [v for v in values if isinstance(v, dict | list)]
        level = below


def load_toml(text: str, file: str) -> dict[str, Any]:
    """``tomllib.loads`` that cannot exhaust the stack; TOML errors are re-raised as is."""
    try:
        document = tomllib.loads(text)
        check_depth(document)
    except (RecursionError, TooDeep):
        raise InputError(
            f"TOML nested too deeply (more than {MAX_NESTING} levels)",
            file=file,
            expected=f"at most {MAX_NESTING} levels of arrays and tables",
        ) from None
    return document


def load_json(data: bytes | str) -> Any:
    """``json.loads`` that cannot exhaust the stack: raises ValueError for too deep input."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    try:
        document = json.loads(text)
    except RecursionError:
        raise TooDeep(f"JSON nested more than {MAX_NESTING} levels deep") from None
    check_depth(document)
    return document
