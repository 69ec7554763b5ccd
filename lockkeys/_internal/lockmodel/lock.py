"""The lock: a PEP 751 ``pylock.toml`` plus lockkeys' own tables.

The standard part is :mod:`packaging.pylock`'s model: :meth:`Lock.to_pylock` builds it, and
:mod:`lockkeys._internal.lockmodel.io` reads a file into it (validated once) and checks lockkeys'
stricter rules on top (:mod:`lockkeys._internal.lockmodel.rules`).

``[tool.lockkeys]`` at the top holds the lock version, the inputs digest, the requirements, the
sources, signature stores, the digest of the Sigstore trust root publisher identities were
verified under, and the embedded signer certificates; each package's
``[packages.tool.lockkeys]`` holds its policy (verify, signer fingerprints, threshold), its
source and why it is there. Models are frozen; parsing validates everything a verifier relies
on and reports errors with the path of the offending field (threat-model row 17).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from packaging.markers import Marker
from packaging.pylock import Package, PackageSdist, PackageWheel, Pylock
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

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
    """A signer pinned by the lock: its full primary fingerprint and armored certificate."""

    fingerprint: StrictStr
    certificate: StrictStr

    @field_validator("fingerprint")
    @classmethod
    def _fpr(cls, v: str) -> str:
        if not _FPR.match(v):
            raise ValueError("must be 40 or 64 upper-case hex digits (a full primary fingerprint)")
        return v


class LockSource(_Frozen):
    """A package source named in the lock: an index URL or a local path, and its mirrors."""

    name: StrictStr
    url: StrictStr | None = None
    path: StrictStr | None = None
    mirrors: tuple[StrictStr, ...] = ()
    # Locks written before issue 19 named credential variables here. A lock never chooses
    # which secret is read: the keys are read only to warn that they are ignored
    # (lockkeys._internal.sources.session), never used, and never written again.
    legacy_username_env: StrictStr | None = Field(default=None, alias="username-env", exclude=True)
    legacy_password_env: StrictStr | None = Field(default=None, alias="password-env", exclude=True)
    legacy_token_env: StrictStr | None = Field(default=None, alias="token-env", exclude=True)

    def legacy_credential_names(self) -> dict[str, str]:
        """The ignored credential-variable keys an older lock still carries, by lock key."""
        named = {
            "username-env": self.legacy_username_env,
            "password-env": self.legacy_password_env,
            "token-env": self.legacy_token_env,
        }
        return {key: value for key, value in named.items() if value is not None}

    @model_validator(mode="after")
    def _one_location(self) -> LockSource:
        if (self.url is None) == (self.path is None):
            raise ValueError("a source has exactly one of url (an index) and path (a folder)")
        return self


class LockTool(_Frozen):
    """``[tool.lockkeys]`` of the lock."""

    lock_version: StrictStr = Field(alias="lock-version")
    inputs_digest: StrictStr = Field(alias="inputs-digest")
    requirements: tuple[StrictStr, ...] = ()
    sources: tuple[LockSource, ...] = ()
    signature_stores: tuple[StrictStr, ...] = Field(default=(), alias="signature-stores")
    revocations: tuple[
        StrictStr, ...
    ] = ()  # read at deploy time (lockkeys._internal.trust.revocations)
    signers: dict[str, LockSigner] = Field(default_factory=dict)
    # The sha256 of the Sigstore trust root the packages' attestation-identities were
    # verified under; absent when the lock records none.
    sigstore_trust_root: StrictStr | None = Field(default=None, alias="sigstore-trust-root")

    @field_validator("lock_version")
    @classmethod
    def _version(cls, v: str) -> str:
        if v != LOCK_VERSION:
            raise ValueError(
                f"unknown lock version {v!r}; this lockkeys reads {LOCK_VERSION!r} "
                "(upgrade lockkeys, or re-lock)"
            )
        return v

    @field_validator("inputs_digest", "sigstore_trust_root")
    @classmethod
    def _digest(cls, v: str | None) -> str | None:
        if v is not None and not _SHA256.match(v):
            raise ValueError("must be 'sha256:' and 64 hex digits")
        return v


class PackageTool(_Frozen):
    """``[packages.tool.lockkeys]``: one package's policy and provenance."""

    # Strict types: `threshold = true`, `"2"` or `2.0` and `override = "yes"` are errors, as
    # they are in the configuration (issue 12, item 6).
    verify: Policy
    source: StrictStr
    signers: tuple[StrictStr, ...] = ()
    threshold: StrictInt | None = None
    required_by: tuple[StrictStr, ...] = Field(default=(), alias="required-by")
    substitutes: StrictStr | None = None
    substitute_requested_by: tuple[StrictStr, ...] = Field(
        default=(), alias="substitute-requested-by"
    )
    override: StrictBool = False
    reason: StrictStr | None = None
    allow_sdist: StrictBool = Field(default=False, alias="allow-sdist")

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
        """The file's pinned sha256 digest."""
        return self.hashes["sha256"]

    def to_pylock_wheel(self) -> PackageWheel:
        """The file as a PEP 751 wheel entry."""
        return PackageWheel(
            name=self.filename,
            url=self.url,
            path=self.path,
            size=self.size,
            hashes=dict(sorted(self.hashes.items())),
        )

    def to_pylock_sdist(self) -> PackageSdist:
        """The file as a PEP 751 sdist entry."""
        return PackageSdist(
            name=self.filename,
            url=self.url,
            path=self.path,
            size=self.size,
            hashes=dict(sorted(self.hashes.items())),
        )


@dataclass(frozen=True)
class LockedPackage:
    """One package entry of the lock: its version, files, marker and lockkeys policy."""

    name: str
    version: str
    tool: PackageTool
    wheels: tuple[LockedFile, ...] = ()
    sdist: LockedFile | None = None
    index: str | None = None
    marker: str | None = None
    # PEP 751 ``[[packages.attestation-identities]]``: the publishers verified for every file
    # that has an attestation (kind plus the publisher's keys), sorted.
    attestation_identities: tuple[Mapping[str, str], ...] = ()

    @property
    def files(self) -> tuple[LockedFile, ...]:
        """Every file of the entry: its wheels, then its sdist."""
        return self.wheels + ((self.sdist,) if self.sdist else ())

    def tool_table(self) -> dict[str, Any]:
        """``[packages.tool.lockkeys]`` in its fixed key order."""
        tool = self.tool.model_dump(by_alias=True, exclude_defaults=True)
        # `verify` and `source` are always written even when they equal a default.
        tool.setdefault("verify", self.tool.verify)
        tool.setdefault("source", self.tool.source)
        return _ordered(tool, _PACKAGE_TOOL_ORDER)

    def to_pylock(self, *, with_tool: bool = True) -> Package:
        """The entry as a PEP 751 package (with or without its ``[tool.lockkeys]`` table)."""
        return Package(
            name=NormalizedName(canonicalize_name(self.name)),
            version=Version(self.version),
            marker=Marker(self.marker) if self.marker else None,
            index=self.index,
            sdist=self.sdist.to_pylock_sdist() if self.sdist is not None else None,
            wheels=[w.to_pylock_wheel() for w in self.wheels] or None,
            attestation_identities=[dict(i) for i in self.attestation_identities] or None,
            tool={"lockkeys": self.tool_table()} if with_tool else None,
        )


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
_LOCK_TOOL_ORDER = (
    "lock-version",
    "inputs-digest",
    "requirements",
    "sources",
    "signature-stores",
    "revocations",
    "sigstore-trust-root",
    "signers",
)


def _ordered(data: Mapping[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    return {k: data[k] for k in order if k in data} | {
        k: v for k, v in sorted(data.items()) if k not in order
    }


def sorted_packages(
    packages: tuple[LockedPackage, ...] | list[LockedPackage],
) -> list[LockedPackage]:
    """By name, then version (a universal lock may hold several versions of one name)."""
    return sorted(packages, key=lambda p: (p.name, Version(p.version)))


@dataclass(frozen=True)
class Lock:
    """A lockkeys lock. ``pylock`` is the validated :class:`packaging.pylock.Pylock` it was
    read from (None for a lock built in memory); it takes no part in comparisons."""

    tool: LockTool
    packages: tuple[LockedPackage, ...]
    requires_python: str | None = None
    environments: tuple[str, ...] | None = None
    extras: tuple[str, ...] = ()
    dependency_groups: tuple[str, ...] = ()
    default_groups: tuple[str, ...] = ()
    created_by: str = "lockkeys"
    pylock: Pylock | None = field(default=None, compare=False, repr=False)

    def package(self, name: str) -> LockedPackage | None:
        """The entry for ``name`` (the first, where a universal lock has several)."""
        for pkg in self.packages:
            if pkg.name == name:
                return pkg
        return None

    def entries(self, name: str) -> tuple[LockedPackage, ...]:
        """Every entry for ``name``: one, or several versions each under its own marker."""
        return tuple(p for p in self.packages if p.name == name)

    def signer_name(self, fingerprint: str) -> str | None:
        """The name the lock gives the signer with ``fingerprint``, if it pins one."""
        for name, signer in self.tool.signers.items():
            if signer.fingerprint == fingerprint:
                return name
        return None

    def tool_table(self) -> dict[str, Any]:
        """``[tool.lockkeys]`` in its fixed key order (sources without empty keys, signers
        sorted by name)."""
        tool = self.tool.model_dump(by_alias=True, exclude_none=True)
        tool["sources"] = [
            {k: v for k, v in s.items() if v is not None and v != ()}
            for s in tool.get("sources", [])
        ]
        tool["signers"] = {name: tool["signers"][name] for name in sorted(tool["signers"])}
        if not tool.get("revocations"):
            tool.pop("revocations", None)  # absent unless configured: older locks unchanged
        return _ordered(tool, _LOCK_TOOL_ORDER)

    def to_pylock(self, *, with_tool: bool = True) -> Pylock:
        """The PEP 751 model of this lock, packages sorted by name; ``with_tool=False`` drops
        lockkeys' tables (a plain PEP 751 lock)."""
        return Pylock(
            lock_version=Version(PEP751_VERSION),
            environments=[Marker(m) for m in self.environments]
            if self.environments is not None
            else None,
            requires_python=SpecifierSet(self.requires_python) if self.requires_python else None,
            extras=[NormalizedName(canonicalize_name(e)) for e in self.extras] or None,
            dependency_groups=list(self.dependency_groups) or None,
            default_groups=list(self.default_groups) or None,
            created_by=self.created_by,
            packages=[p.to_pylock(with_tool=with_tool) for p in sorted_packages(self.packages)],
            tool={"lockkeys": self.tool_table()} if with_tool else None,
        )
