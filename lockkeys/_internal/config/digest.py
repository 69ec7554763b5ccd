"""The inputs digest: ``sha256`` of the normalized inputs that determine a lock.

A lock records it; ``lockkeys lock --check`` recomputes it to tell whether the lock is still
what the configuration and requirements give.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.utils import canonicalize_name

from lockkeys._internal.config.policy import policy_dump
from lockkeys._internal.config.validation import is_url, relative
from lockkeys._internal.fsutil import read_regular_file
from lockkeys._internal.limits import MAX_KEY_FILE
from lockkeys._internal.requirements import normalize_requirement
from lockkeys.errors import InputError, LockkeysError

if TYPE_CHECKING:
    from lockkeys._internal.config.schema import LockkeysConfig

__all__ = ["DIGEST_VERSION", "inputs_digest"]

DIGEST_VERSION = 2


def inputs_digest(
    config: LockkeysConfig, requirement_lines: Sequence[str], *, resolver: str | None = None
) -> str:
    """``sha256:<hex>`` of the normalized inputs (see :meth:`LockkeysConfig.inputs_digest`)."""
    root = config.root
    document: dict[str, Any] = {
        "digest-version": DIGEST_VERSION,
        "requirements": [_normalize_line(line) for line in requirement_lines],
        "sources": [
            # Credential-variable names are the locking machine's, not an input of the lock.
            {"name": s.name, "url": s.url, "mirrors": list(s.mirrors)}
            if s.url is not None
            else {"name": s.name, "path": relative(s.path or Path(), root)}
            for s in config.sources
        ],
        "signature-stores": [
            s if is_url(s) else relative(s, root) for s in config.signature_stores
        ],
        "signers": {name: _certificate_digest(config, name) for name in sorted(config.signers)},
        "default": policy_dump(config.policies.default),
        "packages": {name: policy_dump(p) for name, p in sorted(config.policies.listed.items())},
        # What the lock covers: a uv lock is universal, a pip-tools lock is for one
        # environment, so the resolver is an input too.
        "resolver": config.resolver if resolver is None else resolver,
        "environments": config.environments,
        "requires-python": config.python_requirement,
        "extras": {k: [_normalize_line(x) for x in v] for k, v in config.project_extras.items()},
        "dependency-groups": {
            k: [_normalize_line(x) for x in v] for k, v in config.project_groups.items()
        },
        "default-groups": sorted(canonicalize_name(g) for g in config.default_groups),
    }
    if config.revocations:  # only when set: older locks' digests stay what they were
        document["revocations"] = [
            s if is_url(s) else relative(s, root) for s in config.revocations
        ]
    if config.default.publishers != "record":  # likewise: only when not the default
        document["publishers"] = config.default.publishers
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _certificate_digest(config: LockkeysConfig, name: str) -> str:
    path = config.signers[name]
    try:
        data = read_regular_file(path, "certificate file", MAX_KEY_FILE)
    except InputError as exc:
        raise InputError(
            f"{config.key_prefix}signers.{name}: cannot read certificate {path}: {exc.message}",
            file=str(config.config_path),
        ) from None
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _normalize_line(line: str) -> str:
    text = line.strip()
    for flag in ("-c ", "--constraint "):
        if text.startswith(flag):
            return "-c " + _normalize_or_keep(text[len(flag) :])
    if text.startswith("--constraint="):
        return "-c " + _normalize_or_keep(text[len("--constraint=") :])
    return _normalize_or_keep(text)


def _normalize_or_keep(text: str) -> str:
    try:
        return normalize_requirement(text)
    except LockkeysError:
        return " ".join(text.split())
