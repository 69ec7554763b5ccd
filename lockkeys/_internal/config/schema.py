"""The whole ``[tool.lockkeys]`` table as a validated model (:class:`LockkeysConfig`).

Paths inside are relative to the config file and are stored resolved (absolute). Every
refusal is a validation error carrying the TOML key path, which
:mod:`lockkeys._internal.config.messages` turns into an :class:`~lockkeys.errors.InputError`.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from packaging.markers import InvalidMarker, Marker
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from pydantic import (
    BaseModel,
    Field,
    PrivateAttr,
    StrictStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from lockkeys._internal.config.digest import inputs_digest
from lockkeys._internal.config.policy import (
    DefaultConfig,
    PackageConfig,
    PackagePolicy,
    PolicyTable,
)
from lockkeys._internal.config.source_table import SourceConfig, default_sources
from lockkeys._internal.config.validation import (
    MODEL_CONFIG,
    NAME,
    SIGNATURE_CHECKS,
    Resolver,
    check_threshold,
    is_url,
    key_prefix_for,
    problem,
    under,
)

__all__ = ["DEFAULT_LOCKFILE", "INTERNAL_KEYS", "LockkeysConfig"]

DEFAULT_LOCKFILE = "pylock.toml"
# Keys the loader fills in (from the file's location and [project]); never written by users.
INTERNAL_KEYS = frozenset(
    {
        "config-path",
        "root",
        "project-dependencies",
        "project-requires-python",
        "project-extras",
        "project-groups",
    }
)


class LockkeysConfig(BaseModel):
    """The whole ``[tool.lockkeys]`` table, validated and with every path resolved.

    ``packages`` is keyed by canonical (PEP 503 normalized) project name.
    """

    model_config = MODEL_CONFIG

    config_path: Path
    root: Path = Path()  # the folder of config_path when omitted
    project_dependencies: list[str] | None = None
    project_requires_python: str | None = None
    project_extras: dict[str, list[str]] = Field(default_factory=dict)
    project_groups: dict[str, list[str]] = Field(default_factory=dict)
    requirements: list[Path] | None = None
    lockfile: Path = Field(default=Path(DEFAULT_LOCKFILE), validate_default=True)
    resolver: Resolver = "pip-tools"
    signature_stores: list[StrictStr] = Field(default_factory=list)
    revocations: list[StrictStr] = Field(default_factory=list)
    expiry_warning_days: int = Field(default=30, ge=0)
    sources: list[SourceConfig] = Field(default_factory=default_sources)
    signers: dict[str, Path] = Field(default_factory=dict)
    default: DefaultConfig = Field(default_factory=DefaultConfig)
    packages: dict[str, PackageConfig] = Field(default_factory=dict)
    # Which environments a lock covers (PEP 751): markers, and the Python versions.
    environments: list[StrictStr] | None = None
    requires_python: StrictStr | None = None
    # PEP 735 dependency groups installed when none is asked for (PEP 751 default-groups).
    default_groups: list[StrictStr] = Field(default_factory=list)
    # The effective policies, built once the tables are validated (see `_cross_checks`).
    _policies: PolicyTable = PrivateAttr()

    @field_validator("environments")
    @classmethod
    def _environments(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not value:
            raise problem(
                "the list is empty: a lock for no environment",
                fix="list PEP 508 markers, or remove the key for a universal lock",
            )
        out: list[str] = []
        for index, text in enumerate(value):
            try:
                marker = Marker(text)
            except InvalidMarker as exc:
                raise problem(
                    f"{text!r} is not a PEP 508 environment marker: {exc}",
                    index,
                    fix="e.g. \"sys_platform == 'linux'\"",
                ) from None
            normalized = str(marker)
            if normalized in out:
                raise problem(f"{text!r} is listed twice", index)
            out.append(normalized)
        return out

    @field_validator("requires_python")
    @classmethod
    def _requires_python(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            spec = SpecifierSet(value)
        except InvalidSpecifier:
            spec = None
        if spec is None or not str(spec):
            raise problem(
                f"{value!r} is not a version specifier", fix='e.g. requires-python = ">=3.11"'
            )
        return str(spec)

    # ---- resolution of paths ---------------------------------------------------------------
    @model_validator(mode="before")
    @classmethod
    def _root(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "root" not in data:
            path = data.get("config-path", data.get("config_path"))
            if isinstance(path, str | Path):
                return {**data, "root": Path(path).parent}
        return data

    @field_validator("config_path", "root")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return Path(os.path.abspath(value))

    @staticmethod
    def _base(info: ValidationInfo) -> Path:
        root = info.data.get("root")
        return root if isinstance(root, Path) else Path.cwd()

    @field_validator("requirements")
    @classmethod
    def _requirements(cls, value: list[Path] | None, info: ValidationInfo) -> list[Path] | None:
        if value is None:
            return None
        if not value:
            raise problem(
                "the list is empty",
                fix="list requirement files, or remove the key to lock [project].dependencies",
            )
        for index, path in enumerate(value):
            if not str(path).strip():
                raise problem("empty file name", index)
        base = cls._base(info)
        return [under(base, p) for p in value]

    @field_validator("lockfile")
    @classmethod
    def _lockfile(cls, value: Path, info: ValidationInfo) -> Path:
        if not str(value).strip() or value == Path():
            raise problem("empty file name", fix='e.g. lockfile = "pylock.toml"')
        return under(cls._base(info), value)

    @field_validator("signature_stores", "revocations")
    @classmethod
    def _stores(cls, value: list[str], info: ValidationInfo) -> list[str]:
        base = cls._base(info)
        out: list[str] = []
        for index, store in enumerate(value):
            if not store.strip():
                raise problem("empty entry", index)
            if is_url(store):
                if not urlsplit(store).netloc:
                    raise problem(f"{store!r} has no host", index)
                out.append(store)
            elif "://" in store:
                raise problem(
                    f"{store!r}: only http(s) URLs and folders are supported",
                    index,
                    fix="give an http(s) URL or a folder relative to the config file",
                )
            else:
                out.append(str(under(base, Path(store))))
        return out

    @field_validator("sources")
    @classmethod
    def _sources(cls, value: list[SourceConfig], info: ValidationInfo) -> list[SourceConfig]:
        if not value:
            raise problem(
                "no sources: nothing could be fetched",
                fix="remove `sources` to use the public index (PyPI), or add a source",
            )
        seen: set[str] = set()
        for index, source in enumerate(value):
            if source.name in seen:
                raise problem(
                    f"source name {source.name!r} is used twice",
                    index,
                    "name",
                    fix="give every source its own name",
                )
            seen.add(source.name)
        base = cls._base(info)
        out: list[SourceConfig] = []
        for s in value:
            if s.path is not None:
                s = s.model_copy(update={"path": under(base, s.path)})
            if s.ca_bundle is not None:
                s = s.model_copy(update={"ca_bundle": under(base, s.ca_bundle)})
            out.append(s)
        return out

    @field_validator("signers")
    @classmethod
    def _signers(cls, value: dict[str, Path], info: ValidationInfo) -> dict[str, Path]:
        base = cls._base(info)
        out: dict[str, Path] = {}
        for name, path in value.items():
            if not NAME.match(name):
                raise problem(
                    f"invalid signer name {name!r}",
                    name,
                    fix="use letters, digits, '.', '_' and '-'",
                )
            resolved = under(base, path)
            if not resolved.is_file():
                what = "is not a file" if resolved.exists() else "does not exist"
                raise problem(
                    f"certificate file {path.as_posix()} {what} (looked for {resolved})",
                    name,
                    fix="export the signer's public certificate there (`lockkeys key generate` "
                    "writes NAME.asc), or correct the path; paths are relative to the config file",
                )
            out[name] = resolved
        return out

    @field_validator("packages")
    @classmethod
    def _packages(cls, value: dict[str, PackageConfig]) -> dict[str, PackageConfig]:
        out: dict[str, PackageConfig] = {}
        written: dict[str, str] = {}
        for key, table in value.items():
            name = canonicalize_name(key)
            if name in written:
                raise problem(
                    f"{written[name]!r} and {key!r} both name the package {name!r}",
                    key,
                    fix="merge the two tables into one",
                )
            written[name] = key
            out[name] = table
        return dict(sorted(out.items()))

    # ---- cross-checks ----------------------------------------------------------------------
    @model_validator(mode="after")
    def _default_groups_exist(self) -> LockkeysConfig:
        for index, group in enumerate(self.default_groups):
            if canonicalize_name(group) not in self.project_groups:
                known = ", ".join(sorted(self.project_groups)) or "none"
                raise problem(
                    f"unknown dependency group {group!r}; [dependency-groups] has: {known}",
                    "default-groups",
                    index,
                    fix="name a group of pyproject.toml's [dependency-groups]",
                )
        return self

    @model_validator(mode="after")
    def _cross_checks(self) -> LockkeysConfig:
        self._policies = PolicyTable.build(self.default, self.packages)
        known = sorted(self.signers)
        for index, signer in enumerate(self.default.signers):
            self._known_signer(signer, known, ("default", "signers", index))
        sources = [s.name for s in self.sources]
        for name, pkg in self.packages.items():
            for index, signer in enumerate(pkg.signers):
                self._known_signer(signer, known, ("packages", name, "signers", index))
            if pkg.source is not None and pkg.source not in sources:
                close = difflib.get_close_matches(pkg.source, sources, n=1)
                raise problem(
                    f"unknown source {pkg.source!r}; configured: {', '.join(sources)}",
                    "packages",
                    name,
                    "source",
                    fix=f"did you mean {close[0]!r}?"
                    if close
                    else "add it to [[tool.lockkeys.sources]], or correct the name",
                )
            self._effective_checks(name, pkg)
        return self

    @staticmethod
    def _known_signer(signer: str, known: list[str], at: tuple[str | int, ...]) -> None:
        if signer in known:
            return
        close = difflib.get_close_matches(signer, known, n=1)
        listed = ", ".join(known) if known else "none"
        raise problem(
            f"unknown signer {signer!r}; [signers] has: {listed}",
            *at,
            fix=f"did you mean {close[0]!r}?"
            if close
            else f'add {signer} = "keys/{signer}.asc" to the signers table',
        )

    def _effective_checks(self, name: str, pkg: PackageConfig) -> None:
        policy = self.policy(name)
        if policy.verify in SIGNATURE_CHECKS and not policy.signers:
            raise problem(
                f'verify = "{policy.verify}" but no signers are listed here or in the default '
                "table: it would accept anything",
                "packages",
                name,
                "verify",
                fix='list signers = ["NAME", ...], or choose verify = "hashes" '
                '(or "none", to accept it unverified on purpose)',
            )
        if pkg.threshold is not None and not pkg.signers:
            if policy.verify not in SIGNATURE_CHECKS:
                raise problem(
                    f'threshold is set but verify = "{policy.verify}" does not check signatures',
                    "packages",
                    name,
                    "threshold",
                    fix="remove threshold, or list signers",
                )
            try:
                check_threshold(pkg.threshold, len(policy.signers), inherited=True)
            except PydanticCustomError as exc:
                ctx = exc.context or {}
                raise problem(
                    str(ctx.get("message", exc.message())),
                    "packages",
                    name,
                    "threshold",
                    fix=ctx.get("fix"),
                ) from None

    # ---- effective values ------------------------------------------------------------------
    @property
    def python_requirement(self) -> str | None:
        """``requires-python`` of this table, else of ``[project]`` (None: neither says)."""
        return self.requires_python or self.project_requires_python

    @property
    def key_prefix(self) -> str:
        """``tool.lockkeys.`` for a pyproject.toml, empty for a lockkeys.toml."""
        return key_prefix_for(self.config_path)

    @property
    def policies(self) -> PolicyTable:
        """The effective policy of every package, computed once at validation."""
        return self._policies

    def policy(self, name: str) -> PackagePolicy:
        """The effective policy of package ``name`` (any spelling): its table over the default."""
        return self._policies.policy(name)

    def inputs_digest(
        self, requirement_lines: Sequence[str], *, resolver: str | None = None
    ) -> str:
        """``sha256:<hex>`` of the normalized inputs that determine the lock.

        Covers the requirement lines (normalized; ``-c REQ`` lines are constraints), the
        sources (with mirrors), the signature stores, each signer's name and the sha256 of its
        certificate file, and the default and package policies with effective values. Paths are
        relative to the config folder, with ``/``: the digest is the same on every machine.
        The resolver is an input (``resolver`` overrides the configured one): uv writes a
        universal lock, pip-tools one for its own environment; so are ``environments`` and
        ``requires-python``.
        """
        return inputs_digest(self, requirement_lines, resolver=resolver)
