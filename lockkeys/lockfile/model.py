"""The lock: a PEP 751 ``pylock.toml`` plus lockkeys' own tables.

``[tool.lockkeys]`` at the top holds the lock version, the inputs digest, the requirements,
the sources, signature stores and the embedded signer certificates; each package's
``[packages.tool.lockkeys]`` holds its policy (verify, signer fingerprints, threshold), its
source and why it is there. Models are frozen; parsing validates everything a verifier relies
on and reports errors with the path of the offending field (threat-model row 17).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

LOCK_VERSION = "1"
PEP751_VERSION = "1.0"
Policy = Literal["hashes", "signatures", "hashes+signatures", "none"]
POLICIES: tuple[str, ...] = ("hashes", "signatures", "hashes+signatures", "none")
STRONG_HASHES = ("sha256", "sha384", "sha512")
_FPR = re.compile(r"^([0-9A-F]{40}|[0-9A-F]{64})$")
_SHA256 = re.compile(r"^sha256:[0-9a-f]{64}$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class LockSigner(_Frozen):
    fingerprint: str
    certificate: str

    @field_validator("fingerprint")
    @classmethod
    def _fpr(cls, v: str) -> str:
        if not _FPR.match(v):
            raise ValueError("must be 40 or 64 upper-case hex digits (a full primary fingerprint)")
        return v


class LockSource(_Frozen):
    name: str
    url: str | None = None
    path: str | None = None
    mirrors: tuple[str, ...] = ()


class LockTool(_Frozen):
    """``[tool.lockkeys]`` of the lock."""

    lock_version: str = Field(alias="lock-version")
    inputs_digest: str = Field(alias="inputs-digest")
    requirements: tuple[str, ...] = ()
    sources: tuple[LockSource, ...] = ()
    signature_stores: tuple[str, ...] = Field(default=(), alias="signature-stores")
    signers: dict[str, LockSigner] = Field(default_factory=dict)

    @field_validator("lock_version")
    @classmethod
    def _version(cls, v: str) -> str:
        if v != LOCK_VERSION:
            raise ValueError(
                f"unknown lock version {v!r}; this lockkeys reads {LOCK_VERSION!r} "
                "(upgrade lockkeys, or re-lock)"
            )
        return v

    @field_validator("inputs_digest")
    @classmethod
    def _digest(cls, v: str) -> str:
        if not _SHA256.match(v):
            raise ValueError("must be 'sha256:' and 64 hex digits")
        return v


class PackageTool(_Frozen):
    """``[packages.tool.lockkeys]``: one package's policy and provenance."""

    verify: Policy
    source: str
    signers: tuple[str, ...] = ()
    threshold: int | None = None
    required_by: tuple[str, ...] = Field(default=(), alias="required-by")
    substitutes: str | None = None
    substitute_requested_by: tuple[str, ...] = Field(default=(), alias="substitute-requested-by")
    override: bool = False
    reason: str | None = None
    allow_sdist: bool = Field(default=False, alias="allow-sdist")

    @field_validator("signers")
    @classmethod
    def _fprs(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for fpr in v:
            if not _FPR.match(fpr):
                raise ValueError(f"{fpr!r} is not a full primary fingerprint (40/64 hex digits)")
        if len(set(v)) != len(v):
            raise ValueError("lists the same fingerprint twice")
        return v


@dataclass(frozen=True)
class LockedFile:
    """One distribution file of a locked release (a wheel or the sdist)."""

    filename: str
    size: int
    hashes: Mapping[str, str]
    url: str | None = None
    path: str | None = None  # relative to the lock file's folder (folder sources)
    kind: Literal["wheel", "sdist"] = "wheel"

    @property
    def sha256(self) -> str:
        return self.hashes["sha256"]

    def to_toml(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.filename}
        if self.url is not None:
            out["url"] = self.url
        if self.path is not None:
            out["path"] = self.path
        out["size"] = self.size
        out["hashes"] = dict(sorted(self.hashes.items()))
        return out


@dataclass(frozen=True)
class LockedPackage:
    name: str
    version: str
    tool: PackageTool
    wheels: tuple[LockedFile, ...] = ()
    sdist: LockedFile | None = None
    index: str | None = None
    marker: str | None = None

    @property
    def files(self) -> tuple[LockedFile, ...]:
        return self.wheels + ((self.sdist,) if self.sdist else ())

    def to_toml(self) -> dict[str, Any]:
        out: dict[str, Any] = {"__table__": True, "name": self.name, "version": self.version}
        if self.marker:
            out["marker"] = self.marker
        if self.index:
            out["index"] = self.index
        if self.sdist is not None:
            out["sdist"] = self.sdist.to_toml()
        if self.wheels:
            out["wheels"] = [w.to_toml() for w in self.wheels]
        out["tool"] = {"lockkeys": self.tool.model_dump(by_alias=True, exclude_defaults=True)}
        # `verify` and `source` are always written even when they equal a default.
        tool = out["tool"]["lockkeys"]
        tool.setdefault("verify", self.tool.verify)
        tool.setdefault("source", self.tool.source)
        out["tool"]["lockkeys"] = _ordered(tool, _PACKAGE_TOOL_ORDER)
        return out


_PACKAGE_TOOL_ORDER = (
    "verify",
    "signers",
    "threshold",
    "source",
    "required-by",
    "substitutes",
    "substitute-requested-by",
    "override",
    "allow-sdist",
    "reason",
)


def _ordered(data: Mapping[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    return {k: data[k] for k in order if k in data} | {
        k: v for k, v in sorted(data.items()) if k not in order
    }


@dataclass(frozen=True)
class Lock:
    tool: LockTool
    packages: tuple[LockedPackage, ...]
    requires_python: str | None = None
    created_by: str = "lockkeys"
    extra: Mapping[str, Any] = field(default_factory=dict)

    def package(self, name: str) -> LockedPackage | None:
        for pkg in self.packages:
            if pkg.name == name:
                return pkg
        return None

    def signer_name(self, fingerprint: str) -> str | None:
        for name, signer in self.tool.signers.items():
            if signer.fingerprint == fingerprint:
                return name
        return None

    def to_toml(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"lock-version": PEP751_VERSION, "created-by": self.created_by}
        if self.requires_python:
            doc["requires-python"] = self.requires_python
        doc["packages"] = [p.to_toml() for p in sorted(self.packages, key=lambda p: p.name)]
        tool = self.tool.model_dump(by_alias=True, exclude_none=True)
        tool["sources"] = [
            {k: v for k, v in s.items() if v is not None and v != ()}
            for s in tool.get("sources", [])
        ]
        tool["signers"] = {name: tool["signers"][name] for name in sorted(tool["signers"])}
        doc["tool"] = {
            "lockkeys": _ordered(
                tool,
                (
                    "lock-version",
                    "inputs-digest",
                    "requirements",
                    "sources",
                    "signature-stores",
                    "signers",
                ),
            )
        }
        return doc
