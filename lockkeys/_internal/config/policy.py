"""Package policies: ``[tool.lockkeys.default]`` and ``[tool.lockkeys.packages.NAME]`` as
written, and the effective policy of each package computed once into a :class:`PolicyTable`.

The lock path takes the table (not the whole configuration) where it only needs policies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from pydantic import (
    BaseModel,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from lockkeys._internal.config.validation import (
    MODEL_CONFIG,
    SIGNATURE_CHECKS,
    Verify,
    check_signer_list,
    check_threshold,
    problem,
)

__all__ = [
    "PUBLISHER_MODES",
    "DefaultConfig",
    "PackageConfig",
    "PackagePolicy",
    "PolicyTable",
    "effective_policy",
    "policy_dump",
]

#: ``[tool.lockkeys.default] publishers``: what a lock does with PEP 740 attestations.
PUBLISHER_MODES = ("record", "ignore")


class _PolicyFields(BaseModel):
    model_config = MODEL_CONFIG

    signers: list[StrictStr] = Field(default_factory=list)
    threshold: StrictInt | None = None


class PackageConfig(_PolicyFields):
    """One ``[tool.lockkeys.packages.NAME]`` table as written (``None``: not set).

    :func:`effective_policy` (and :class:`PolicyTable`) give the effective values.
    """

    verify: Verify | None = None
    source: StrictStr | None = None
    substitute: StrictStr | None = None
    reason: StrictStr | None = None
    allow_sdist: StrictBool = False

    @field_validator("substitute")
    @classmethod
    def _substitute(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            Version(value)
        except InvalidVersion:
            raise problem(
                f"{value!r} is not a valid PEP 440 version",
                fix='write a version such as "1.0+corp.1"',
            ) from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> PackageConfig:
        check_signer_list(self.signers)
        if self.signers:
            check_threshold(self.threshold, len(self.signers))
        elif self.threshold is not None and self.threshold < 1:
            check_threshold(self.threshold, 1)
        if self.verify in ("hashes", "none"):
            if self.signers:
                raise problem(
                    f'signers are listed but verify = "{self.verify}" does not check signatures',
                    "signers",
                    fix='set verify = "hashes+signatures" (or "signatures"), or remove signers',
                )
            if self.threshold is not None:
                raise problem(
                    f'threshold is set but verify = "{self.verify}" does not check signatures',
                    "threshold",
                    fix="remove threshold",
                )
        return self


class DefaultConfig(_PolicyFields):
    """``[tool.lockkeys.default]``: the policy of every package without its own table.

    ``verify`` is always concrete: ``hashes+signatures`` when signers are listed, else
    ``hashes``. ``threshold`` is 1 when signers are listed and it is not given. ``none`` is
    refused here: accepting packages unverified must be spelled out package by package.
    ``publishers`` says whether a lock records the PEP 740 publisher identities it verifies
    (``record``, the default) or reads no attestation (``ignore``).
    """

    verify: Verify = "hashes"
    publishers: StrictStr = "record"

    @field_validator("publishers")
    @classmethod
    def _publishers(cls, value: str) -> str:
        if value == "require-recorded":
            raise problem(
                'publishers = "require-recorded" is not supported yet: a re-lock does not '
                "yet refuse a release that lost its recorded publisher identity",
                fix='use publishers = "record" (identities are recorded and `lockkeys diff` '
                'shows one removed as a weakening) or "ignore"',
            )
        if value not in PUBLISHER_MODES:
            raise problem(
                f"unknown value {value!r}",
                fix='publishers = "record" (the default) or "ignore"',
            )
        return value

    @model_validator(mode="before")
    @classmethod
    def _fill(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("signers"):
            filled = dict(data)
            if "verify" not in filled:
                filled["verify"] = "hashes+signatures"
            if "threshold" not in filled:
                filled["threshold"] = 1
            return filled
        return data

    @model_validator(mode="after")
    def _consistent(self) -> DefaultConfig:
        if self.verify == "none":
            raise problem(
                '"none" is never a default: it would accept every package unverified',
                "verify",
                fix='set verify = "none" in the [tool.lockkeys.packages.NAME] table of each '
                "package that really must install unverified",
            )
        check_signer_list(self.signers)
        if self.verify in SIGNATURE_CHECKS:
            if not self.signers:
                raise problem(
                    f'verify = "{self.verify}" but no signers are listed: it would accept anything',
                    "verify",
                    fix='list signers = ["NAME", ...] here, or use verify = "hashes"',
                )
            check_threshold(self.threshold, len(self.signers))
        else:
            if self.signers:
                raise problem(
                    f'signers are listed but verify = "{self.verify}" does not check signatures',
                    "signers",
                    fix='set verify = "hashes+signatures" (or "signatures"), or remove signers',
                )
            if self.threshold is not None:
                raise problem(
                    f'threshold is set but verify = "{self.verify}" does not check signatures',
                    "threshold",
                    fix="remove threshold",
                )
        return self


class PackagePolicy(BaseModel):
    """The effective policy of one package: its table over ``[tool.lockkeys.default]``."""

    model_config = MODEL_CONFIG

    verify: Verify
    signers: tuple[str, ...] = ()  # names, sorted; empty unless verify checks signatures
    threshold: int | None = None  # set exactly when verify checks signatures
    source: str | None = None
    substitute: str | None = None
    reason: str | None = None
    allow_sdist: bool = False


def effective_policy(pkg: PackageConfig | None, default: DefaultConfig) -> PackagePolicy:
    """The policy of one package: its table (``None``: it has none) over the default."""
    verify: Verify
    threshold: int | None
    if pkg is None:
        verify = default.verify
        signers: Sequence[str] = default.signers
        threshold = default.threshold
    else:
        signers = pkg.signers or default.signers
        if pkg.verify is not None:
            verify = pkg.verify
        elif pkg.signers:
            verify = "hashes+signatures"
        else:
            verify = default.verify
        if pkg.threshold is not None:
            threshold = pkg.threshold
        elif pkg.signers:
            threshold = 1
        else:
            threshold = default.threshold or 1
    if verify not in SIGNATURE_CHECKS:
        signers, threshold = (), None
    return PackagePolicy(
        verify=verify,
        signers=tuple(sorted(signers)),
        threshold=threshold,
        source=pkg.source if pkg is not None else None,
        substitute=pkg.substitute if pkg is not None else None,
        reason=pkg.reason if pkg is not None else None,
        allow_sdist=pkg.allow_sdist if pkg is not None else False,
    )


@dataclass(frozen=True)
class PolicyTable:
    """The effective policy of every package, computed once when the config is loaded.

    ``listed`` maps the canonical name of each package with its own table to its policy;
    ``default`` is the policy of every other package.
    """

    default: PackagePolicy
    listed: Mapping[str, PackagePolicy] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def build(cls, default: DefaultConfig, packages: Mapping[str, PackageConfig]) -> PolicyTable:
        """The table of a validated configuration (``packages`` keyed by canonical name)."""
        listed = {name: effective_policy(pkg, default) for name, pkg in sorted(packages.items())}
        return cls(effective_policy(None, default), MappingProxyType(listed))

    def policy(self, name: str) -> PackagePolicy:
        """The effective policy of package ``name`` (any spelling)."""
        return self.listed.get(canonicalize_name(name), self.default)


def policy_dump(policy: PackagePolicy) -> dict[str, Any]:
    """A policy as the inputs digest covers it (the substitute version normalized)."""
    data = policy.model_dump(mode="json", by_alias=True)
    if policy.substitute is not None:
        data["substitute"] = str(Version(policy.substitute))
    return data
