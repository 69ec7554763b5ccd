"""The ``[tool.lockkeys]`` configuration (contract section 2): load, validate, digest.

The keys live in ``pyproject.toml`` under ``[tool.lockkeys]``, or at the top level of a
``lockkeys.toml``. Paths inside are relative to the config file and are stored here resolved
(absolute). Every refusal is an :class:`~lockkeys.errors.InputError` naming the file and the
TOML key path the user wrote, e.g.
``pyproject.toml: tool.lockkeys.packages.broken.threshold: 3 exceeds the 2 signers listed``.

OpenPGP certificates are not parsed here: :attr:`LockkeysConfig.signers` maps names to files
and the lock layer reads them.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeAlias
from urllib.parse import unquote, urlsplit

from packaging.markers import InvalidMarker, Marker
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from lockkeys._internal.fsutil import read_regular_file
from lockkeys._internal.limits import MAX_CONFIG_FILE, MAX_KEY_FILE, load_toml
from lockkeys._internal.redact import register_secret, strip_userinfo
from lockkeys._internal.requirements import check_requirement, normalize_requirement
from lockkeys.errors import InputError, LockkeysError, UsageError

__all__ = [
    "DEFAULT_INDEX_URL",
    "DEFAULT_LOCKFILE",
    "DefaultConfig",
    "LockkeysConfig",
    "PackageConfig",
    "PackagePolicy",
    "SourceConfig",
    "Verify",
    "find_config",
    "load_config",
]

Verify: TypeAlias = Literal["hashes", "signatures", "hashes+signatures", "none"]
Resolver: TypeAlias = Literal["pip-tools", "uv"]

DEFAULT_INDEX_URL = "https://pypi.org/simple/"
DEFAULT_LOCKFILE = "pylock.toml"
DIGEST_VERSION = 2

SIGNATURE_CHECKS: frozenset[str] = frozenset({"signatures", "hashes+signatures"})
_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
_INTERNAL_KEYS = frozenset(
    {
        "config-path",
        "root",
        "project-dependencies",
        "project-requires-python",
        "project-extras",
        "project-groups",
    }
)


def _kebab(name: str) -> str:
    return name.replace("_", "-")


_MODEL_CONFIG = ConfigDict(
    frozen=True,
    extra="forbid",
    alias_generator=_kebab,
    validate_by_name=True,
    validate_by_alias=True,
    serialize_by_alias=True,
)


def _problem(message: str, *at: str | int, fix: str | None = None) -> PydanticCustomError:
    """A validation error whose key path continues below the model's own location by ``at``."""
    return PydanticCustomError(
        "lockkeys",
        "{message}",
        {"message": message, "at": tuple(at), "fix": fix},
    )


def _check_name(value: str, what: str) -> str:
    if not _NAME.match(value):
        raise _problem(
            f"invalid {what} name {value!r}",
            fix="use letters, digits, '.', '_' and '-', starting and ending with a letter or digit",
        )
    return value


def _check_signer_list(signers: Sequence[str]) -> None:
    seen: set[str] = set()
    for index, name in enumerate(signers):
        if name in seen:
            raise _problem(
                f"signer {name!r} is listed twice",
                "signers",
                index,
                fix="list each signer once; `threshold` counts distinct signers",
            )
        seen.add(name)


def _check_threshold(threshold: int | None, count: int, *, inherited: bool = False) -> None:
    if threshold is None:
        return
    if threshold < 1:
        raise _problem(
            f"{threshold} is below 1: at least one signature must be required",
            "threshold",
            fix="set 1 <= threshold <= the number of signers",
        )
    if threshold > count:
        where = " in [tool.lockkeys.default]" if inherited else ""
        noun = "signer" if count == 1 else "signers"
        raise _problem(
            f"{threshold} exceeds the {count} {noun} listed{where}",
            "threshold",
            fix=f"lower threshold to at most {count}, or list more signers",
        )


class SourceConfig(BaseModel):
    """One ``[[tool.lockkeys.sources]]`` entry: a PEP 503 index (``url``) or a folder (``path``)."""

    model_config = _MODEL_CONFIG

    name: StrictStr
    url: StrictStr | None = None
    path: Path | None = None
    # Other servers with the same layout as `url` (same paths, another host): a file that
    # fails to download or verify from one is tried from the next. Never another version.
    mirrors: list[StrictStr] = []
    # Credentials from the environment of the machine that LOCKS: the names of variables,
    # never the secrets themselves. Never written to the lock: a deploy host gives its own
    # by origin (lockkeys._internal.sources.auth).
    username_env: StrictStr | None = None
    password_env: StrictStr | None = None
    token_env: StrictStr | None = None
    # A private CA (PEM) trusted for this source, besides the system trust store.
    ca_bundle: Path | None = None
    # `user:password@` taken out of `url` (kept in memory only; never dumped or shown).
    _userinfo: tuple[str, str | None] | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _split_userinfo(cls, data: Any, handler: ModelWrapValidatorHandler[SourceConfig]) -> Any:
        userinfo: tuple[str, str | None] | None = None
        if isinstance(data, Mapping) and isinstance(data.get("url"), str):
            url = data["url"]
            parts = urlsplit(url)
            if "@" in parts.netloc:
                raw_user, sep, raw_password = parts.netloc.rsplit("@", 1)[0].partition(":")
                password = unquote(raw_password) if sep else None
                register_secret(password)
                if not password:  # https://TOKEN@host/: the user name is the secret
                    register_secret(unquote(raw_user))
                userinfo = (unquote(raw_user), password)
                data = {**data, "url": strip_userinfo(url)}
        model = handler(data)
        if userinfo is not None and isinstance(model, SourceConfig):
            model._userinfo = userinfo
        return model

    @property
    def url_credentials(self) -> tuple[str, str | None] | None:
        """(user, password) written in the source URL, if any (None: none written)."""
        return self._userinfo

    @field_validator("username_env", "password_env", "token_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise _problem(
                f"{value!r} is not an environment variable name",
                fix="give the NAME of the variable that holds the secret, not the secret",
            )
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _check_name(value, "source")

    @field_validator("mirrors")
    @classmethod
    def _mirrors(cls, value: list[str]) -> list[str]:
        for mirror in value:
            parts = urlsplit(mirror)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise _problem(f"mirror {mirror!r} is not an http(s) URL")
            if "@" in parts.netloc:
                raise _problem(
                    "a mirror URL carries no credentials",
                    fix="put them in ~/.netrc, or name environment variables with "
                    "`username-env` and `password-env` (they apply to the mirrors too)",
                )
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise _problem(
                f"{value!r} is not an http(s) URL",
                fix="give a PEP 503 simple index as http(s)://host/simple/, "
                "or a local folder as `path`",
            )
        return value

    @model_validator(mode="after")
    def _one_location(self) -> SourceConfig:
        if (self.url is None) == (self.path is None):
            found = "both" if self.url is not None else "neither"
            raise _problem(
                f"a source needs exactly one of `url` and `path`, found {found}",
                fix="`url` for an index, `path` for a folder of distributions",
            )
        if self.path is not None and not str(self.path).strip():
            raise _problem("`path` is empty", "path")
        if self.mirrors and self.url is None:
            raise _problem("`mirrors` apply to an index source (`url`), not a folder")
        credential_keys = (self.username_env, self.password_env, self.token_env, self.ca_bundle)
        if self.url is None and any(k is not None for k in credential_keys):
            raise _problem(
                "credentials and `ca-bundle` apply to an index source (`url`), not a folder"
            )
        if self.password_env is not None and self.token_env is not None:
            raise _problem(
                "give one of `password-env` and `token-env`, not both",
                fix="`token-env` is the password of user `__token__` (or of `username-env`)",
            )
        return self


class _PolicyFields(BaseModel):
    model_config = _MODEL_CONFIG

    signers: list[StrictStr] = Field(default_factory=list)
    threshold: StrictInt | None = None


class PackageConfig(_PolicyFields):
    """One ``[tool.lockkeys.packages.NAME]`` table as written (``None``: not set).

    :meth:`LockkeysConfig.policy` gives the effective values.
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
            raise _problem(
                f"{value!r} is not a valid PEP 440 version",
                fix='write a version such as "1.0+corp.1"',
            ) from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> PackageConfig:
        _check_signer_list(self.signers)
        if self.signers:
            _check_threshold(self.threshold, len(self.signers))
        elif self.threshold is not None and self.threshold < 1:
            _check_threshold(self.threshold, 1)
        if self.verify in ("hashes", "none"):
            if self.signers:
                raise _problem(
                    f'signers are listed but verify = "{self.verify}" does not check signatures',
                    "signers",
                    fix='set verify = "hashes+signatures" (or "signatures"), or remove signers',
                )
            if self.threshold is not None:
                raise _problem(
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
    """

    verify: Verify = "hashes"

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
            raise _problem(
                '"none" is never a default: it would accept every package unverified',
                "verify",
                fix='set verify = "none" in the [tool.lockkeys.packages.NAME] table of each '
                "package that really must install unverified",
            )
        _check_signer_list(self.signers)
        if self.verify in SIGNATURE_CHECKS:
            if not self.signers:
                raise _problem(
                    f'verify = "{self.verify}" but no signers are listed: it would accept anything',
                    "verify",
                    fix='list signers = ["NAME", ...] here, or use verify = "hashes"',
                )
            _check_threshold(self.threshold, len(self.signers))
        else:
            if self.signers:
                raise _problem(
                    f'signers are listed but verify = "{self.verify}" does not check signatures',
                    "signers",
                    fix='set verify = "hashes+signatures" (or "signatures"), or remove signers',
                )
            if self.threshold is not None:
                raise _problem(
                    f'threshold is set but verify = "{self.verify}" does not check signatures',
                    "threshold",
                    fix="remove threshold",
                )
        return self


class PackagePolicy(BaseModel):
    """The effective policy of one package: its table over ``[tool.lockkeys.default]``."""

    model_config = _MODEL_CONFIG

    verify: Verify
    signers: tuple[str, ...] = ()  # names, sorted; empty unless verify checks signatures
    threshold: int | None = None  # set exactly when verify checks signatures
    source: str | None = None
    substitute: str | None = None
    reason: str | None = None
    allow_sdist: bool = False


def _default_sources() -> list[SourceConfig]:
    return [SourceConfig(name="pypi", url=DEFAULT_INDEX_URL)]


def _under(root: Path, path: Path) -> Path:
    return Path(os.path.normpath(os.path.join(root, os.path.expanduser(path))))


def _is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def _relative(path: Path | str, root: Path) -> str:
    try:
        return Path(os.path.relpath(path, root)).as_posix()
    except ValueError:  # another drive on Windows
        return Path(path).as_posix()


class LockkeysConfig(BaseModel):
    """The whole ``[tool.lockkeys]`` table, validated and with every path resolved.

    ``packages`` is keyed by canonical (PEP 503 normalized) project name.
    """

    model_config = _MODEL_CONFIG

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
    sources: list[SourceConfig] = Field(default_factory=_default_sources)
    signers: dict[str, Path] = Field(default_factory=dict)
    default: DefaultConfig = Field(default_factory=DefaultConfig)
    packages: dict[str, PackageConfig] = Field(default_factory=dict)
    # Which environments a lock covers (PEP 751): markers, and the Python versions.
    environments: list[StrictStr] | None = None
    requires_python: StrictStr | None = None
    # PEP 735 dependency groups installed when none is asked for (PEP 751 default-groups).
    default_groups: list[StrictStr] = Field(default_factory=list)

    @field_validator("environments")
    @classmethod
    def _environments(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not value:
            raise _problem(
                "the list is empty: a lock for no environment",
                fix="list PEP 508 markers, or remove the key for a universal lock",
            )
        out: list[str] = []
        for index, text in enumerate(value):
            try:
                marker = Marker(text)
            except InvalidMarker as exc:
                raise _problem(
                    f"{text!r} is not a PEP 508 environment marker: {exc}",
                    index,
                    fix="e.g. \"sys_platform == 'linux'\"",
                ) from None
            normalized = str(marker)
            if normalized in out:
                raise _problem(f"{text!r} is listed twice", index)
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
            raise _problem(
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
            raise _problem(
                "the list is empty",
                fix="list requirement files, or remove the key to lock [project].dependencies",
            )
        for index, path in enumerate(value):
            if not str(path).strip():
                raise _problem("empty file name", index)
        base = cls._base(info)
        return [_under(base, p) for p in value]

    @field_validator("lockfile")
    @classmethod
    def _lockfile(cls, value: Path, info: ValidationInfo) -> Path:
        if not str(value).strip() or value == Path():
            raise _problem("empty file name", fix='e.g. lockfile = "pylock.toml"')
        return _under(cls._base(info), value)

    @field_validator("signature_stores", "revocations")
    @classmethod
    def _stores(cls, value: list[str], info: ValidationInfo) -> list[str]:
        base = cls._base(info)
        out: list[str] = []
        for index, store in enumerate(value):
            if not store.strip():
                raise _problem("empty entry", index)
            if _is_url(store):
                if not urlsplit(store).netloc:
                    raise _problem(f"{store!r} has no host", index)
                out.append(store)
            elif "://" in store:
                raise _problem(
                    f"{store!r}: only http(s) URLs and folders are supported",
                    index,
                    fix="give an http(s) URL or a folder relative to the config file",
                )
            else:
                out.append(str(_under(base, Path(store))))
        return out

    @field_validator("sources")
    @classmethod
    def _sources(cls, value: list[SourceConfig], info: ValidationInfo) -> list[SourceConfig]:
        if not value:
            raise _problem(
                "no sources: nothing could be fetched",
                fix="remove `sources` to use the public index (PyPI), or add a source",
            )
        seen: set[str] = set()
        for index, source in enumerate(value):
            if source.name in seen:
                raise _problem(
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
                s = s.model_copy(update={"path": _under(base, s.path)})
            if s.ca_bundle is not None:
                s = s.model_copy(update={"ca_bundle": _under(base, s.ca_bundle)})
            out.append(s)
        return out

    @field_validator("signers")
    @classmethod
    def _signers(cls, value: dict[str, Path], info: ValidationInfo) -> dict[str, Path]:
        base = cls._base(info)
        out: dict[str, Path] = {}
        for name, path in value.items():
            if not _NAME.match(name):
                raise _problem(
                    f"invalid signer name {name!r}",
                    name,
                    fix="use letters, digits, '.', '_' and '-'",
                )
            resolved = _under(base, path)
            if not resolved.is_file():
                what = "is not a file" if resolved.exists() else "does not exist"
                raise _problem(
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
                raise _problem(
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
                raise _problem(
                    f"unknown dependency group {group!r}; [dependency-groups] has: {known}",
                    "default-groups",
                    index,
                    fix="name a group of pyproject.toml's [dependency-groups]",
                )
        return self

    @model_validator(mode="after")
    def _cross_checks(self) -> LockkeysConfig:
        known = sorted(self.signers)
        for index, signer in enumerate(self.default.signers):
            self._known_signer(signer, known, ("default", "signers", index))
        sources = [s.name for s in self.sources]
        for name, pkg in self.packages.items():
            for index, signer in enumerate(pkg.signers):
                self._known_signer(signer, known, ("packages", name, "signers", index))
            if pkg.source is not None and pkg.source not in sources:
                close = difflib.get_close_matches(pkg.source, sources, n=1)
                raise _problem(
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
        raise _problem(
            f"unknown signer {signer!r}; [signers] has: {listed}",
            *at,
            fix=f"did you mean {close[0]!r}?"
            if close
            else f'add {signer} = "keys/{signer}.asc" to the signers table',
        )

    def _effective_checks(self, name: str, pkg: PackageConfig) -> None:
        policy = self.policy(name)
        if policy.verify in SIGNATURE_CHECKS and not policy.signers:
            raise _problem(
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
                raise _problem(
                    f'threshold is set but verify = "{policy.verify}" does not check signatures',
                    "packages",
                    name,
                    "threshold",
                    fix="remove threshold, or list signers",
                )
            try:
                _check_threshold(pkg.threshold, len(policy.signers), inherited=True)
            except PydanticCustomError as exc:
                ctx = exc.context or {}
                raise _problem(
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
        return _prefix_for(self.config_path)

    def policy(self, name: str) -> PackagePolicy:
        """The effective policy of package ``name`` (any spelling): its table over the default."""
        pkg = self.packages.get(canonicalize_name(name))
        default = self.default
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

    # ---- digest ----------------------------------------------------------------------------
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
        document = {
            "digest-version": DIGEST_VERSION,
            "requirements": [_normalize_line(line) for line in requirement_lines],
            "sources": [
                # Credential-variable names are the locking machine's, not an input of the lock.
                {"name": s.name, "url": s.url, "mirrors": list(s.mirrors)}
                if s.url is not None
                else {"name": s.name, "path": _relative(s.path or Path(), self.root)}
                for s in self.sources
            ],
            "signature-stores": [
                s if _is_url(s) else _relative(s, self.root) for s in self.signature_stores
            ],
            "signers": {name: self._certificate_digest(name) for name in sorted(self.signers)},
            "default": self.policy_dump(self.policy_default()),
            "packages": {
                name: self.policy_dump(self.policy(name)) for name in sorted(self.packages)
            },
            # What the lock covers: a uv lock is universal, a pip-tools lock is for one
            # environment, so the resolver is an input too.
            "resolver": self.resolver if resolver is None else resolver,
            "environments": self.environments,
            "requires-python": self.python_requirement,
            "extras": {k: [_normalize_line(x) for x in v] for k, v in self.project_extras.items()},
            "dependency-groups": {
                k: [_normalize_line(x) for x in v] for k, v in self.project_groups.items()
            },
            "default-groups": sorted(canonicalize_name(g) for g in self.default_groups),
        }
        if self.revocations:  # only when set: older locks' digests stay what they were
            document["revocations"] = [
                s if _is_url(s) else _relative(s, self.root) for s in self.revocations
            ]
        canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def policy_default(self) -> PackagePolicy:
        """The policy of a package without its own table."""
        d = self.default
        signs = d.verify in SIGNATURE_CHECKS
        return PackagePolicy(
            verify=d.verify,
            signers=tuple(sorted(d.signers)) if signs else (),
            threshold=d.threshold if signs else None,
        )

    @staticmethod
    def policy_dump(policy: PackagePolicy) -> dict[str, Any]:
        data = policy.model_dump(mode="json", by_alias=True)
        if policy.substitute is not None:
            data["substitute"] = str(Version(policy.substitute))
        return data

    def _certificate_digest(self, name: str) -> str:
        path = self.signers[name]
        try:
            data = read_regular_file(path, "certificate file", MAX_KEY_FILE)
        except InputError as exc:
            raise InputError(
                f"{self.key_prefix}signers.{name}: cannot read certificate {path}: {exc.message}",
                file=str(self.config_path),
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


# ---- loading -------------------------------------------------------------------------------


def _prefix_for(path: Path) -> str:
    return "tool.lockkeys." if path.name == "pyproject.toml" else ""


def _read_toml(path: Path, display: str) -> dict[str, Any]:
    if not path.exists() and not path.is_symlink():
        raise UsageError(
            "configuration file not found",
            file=display,
            fix="correct --config PATH",
        )
    data = read_regular_file(path, "configuration file", MAX_CONFIG_FILE)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"not UTF-8 text: {exc.reason} at byte {exc.start}",
            file=display,
            fix="save the file as UTF-8",
        ) from None
    try:
        return load_toml(text, display)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = re.search(r"^(.*) \(at line (\d+), column (\d+)\)$", message)
        if match:
            reason, line, column = match.groups()
            message = f"invalid TOML at line {line}, column {column}: {reason}"
        else:
            message = f"invalid TOML: {message}"
        raise InputError(message, file=display, fix="correct the TOML syntax") from None


def _has_lockkeys_table(doc: Mapping[str, Any]) -> bool:
    tool = doc.get("tool")
    return isinstance(tool, Mapping) and "lockkeys" in tool


def find_config(cwd: Path | None = None) -> Path:
    """The config file in ``cwd``: a pyproject.toml with [tool.lockkeys], or lockkeys.toml."""
    folder = Path(cwd) if cwd is not None else Path.cwd()
    pyproject = folder / "pyproject.toml"
    lockkeys_toml = folder / "lockkeys.toml"
    candidates: list[Path] = []
    if pyproject.is_file() and _has_lockkeys_table(_read_toml(pyproject, "pyproject.toml")):
        candidates.append(pyproject)
    if lockkeys_toml.is_file():
        candidates.append(lockkeys_toml)
    if len(candidates) == 2:
        raise UsageError(
            "both pyproject.toml (with [tool.lockkeys]) and lockkeys.toml configure lockkeys",
            file=str(folder),
            fix="pass --config PATH to choose one, or remove the other",
        )
    if not candidates:
        raise UsageError(
            "no lockkeys configuration found: neither pyproject.toml with a [tool.lockkeys] "
            "table nor lockkeys.toml",
            file=str(folder),
            fix="add a [tool.lockkeys] table to pyproject.toml, create lockkeys.toml, "
            "or pass --config PATH",
        )
    return candidates[0]


def load_config(config: Path | None = None, cwd: Path | None = None) -> LockkeysConfig:
    """Load and validate the configuration.

    ``config`` (``--config PATH``) picks the file: a ``pyproject.toml`` is read for its
    ``[tool.lockkeys]`` table, any other name holds the keys at top level. Without it, the file
    is found in ``cwd`` (:func:`find_config`). Raises :class:`UsageError` when no (or more than
    one) configuration is found and :class:`InputError` when it is invalid.
    """
    folder = Path(cwd) if cwd is not None else Path.cwd()
    if config is not None:
        path = Path(config)
        if not path.is_absolute():
            path = folder / path
        display = str(config)
    else:
        path = find_config(folder)
        display = path.name
    doc = _read_toml(path, display)
    prefix = _prefix_for(path)
    project_dependencies: list[str] | None = None
    project_requires_python: str | None = None
    project_extras: dict[str, list[str]] = {}
    project_groups: dict[str, list[str]] = {}
    if prefix:
        tool = doc.get("tool")
        table = tool.get("lockkeys") if isinstance(tool, Mapping) else None
        if table is None:
            raise UsageError(
                "no [tool.lockkeys] table",
                file=display,
                fix="add a [tool.lockkeys] table, or pass the lockkeys.toml with --config",
            )
        project_dependencies = _project_dependencies(doc, display)
        project_requires_python = _project_requires_python(doc, display)
        project_extras = _project_extras(doc, display)
        project_groups = _dependency_groups(doc, display)
    else:
        table = doc
    if not isinstance(table, Mapping):
        raise InputError(f"{prefix.rstrip('.')}: expected a table", file=display)
    for key in table:
        if key in _INTERNAL_KEYS:
            raise InputError(f"{prefix}{key}: unknown key {key!r}", file=display)
    data: dict[str, Any] = {
        **table,
        "config-path": path,
        "project-dependencies": project_dependencies,
        "project-requires-python": project_requires_python,
        "project-extras": project_extras,
        "project-groups": project_groups,
    }
    try:
        return LockkeysConfig.model_validate(data, by_alias=True, by_name=False)
    except ValidationError as exc:
        raise _convert(exc, table, display, prefix) from None


def _one_requirement(line: Any, where: str, display: str) -> str:
    if not isinstance(line, str):
        raise InputError(f"{where}: expected a requirement string", file=display)
    try:
        return check_requirement(line, file=display)
    except InputError as exc:
        raise InputError(f"{where}: {exc.message}", file=display, expected=exc.expected) from None


def _requirement_list(value: Any, where: str, display: str) -> list[str]:
    if not isinstance(value, list):
        raise InputError(f"{where}: expected an array of requirement strings", file=display)
    return [_one_requirement(line, f"{where}[{i}]", display) for i, line in enumerate(value)]


def _project_extras(doc: Mapping[str, Any], display: str) -> dict[str, list[str]]:
    """``[project.optional-dependencies]``: normalized extra name -> requirement lines."""
    project = doc.get("project")
    table = project.get("optional-dependencies") if isinstance(project, Mapping) else None
    if table is None:
        return {}
    if not isinstance(table, Mapping):
        raise InputError("project.optional-dependencies: expected a table", file=display)
    out: dict[str, list[str]] = {}
    for name, lines in table.items():
        where = f"project.optional-dependencies.{name}"
        key = canonicalize_name(name)
        if key in out:
            raise InputError(f"{where}: the same extra twice (as {key!r})", file=display)
        out[key] = _requirement_list(lines, where, display)
    return dict(sorted(out.items()))


def _dependency_groups(doc: Mapping[str, Any], display: str) -> dict[str, list[str]]:
    """PEP 735 ``[dependency-groups]``, ``{include-group = ...}`` expanded: normalized group
    name -> requirement lines."""
    table = doc.get("dependency-groups")
    if table is None:
        return {}
    if not isinstance(table, Mapping):
        raise InputError("dependency-groups: expected a table", file=display)
    raw: dict[str, tuple[str, Any]] = {canonicalize_name(k): (k, v) for k, v in table.items()}
    if len(raw) != len(table):
        raise InputError("dependency-groups: two groups have the same name", file=display)

    def expand(name: str, trail: tuple[str, ...]) -> list[str]:
        written, entries = raw[name]
        where = f"dependency-groups.{written}"
        if not isinstance(entries, list):
            raise InputError(f"{where}: expected an array", file=display)
        out: list[str] = []
        for index, entry in enumerate(entries):
            if isinstance(entry, Mapping) and set(entry) == {"include-group"}:
                included = canonicalize_name(str(entry["include-group"]))
                if included not in raw:
                    raise InputError(
                        f"{where}[{index}]: includes unknown group {entry['include-group']!r}",
                        file=display,
                    )
                if included in trail:
                    cycle = " -> ".join((*trail, included))
                    raise InputError(
                        f"{where}[{index}]: groups include each other: {cycle}", file=display
                    )
                out += [x for x in expand(included, (*trail, included)) if x not in out]
            else:
                line = _one_requirement(entry, f"{where}[{index}]", display)
                if line not in out:
                    out.append(line)
        return out

    return {name: expand(name, (name,)) for name in sorted(raw)}


def _project_requires_python(doc: Mapping[str, Any], display: str) -> str | None:
    project = doc.get("project")
    if not isinstance(project, Mapping) or "requires-python" not in project:
        return None
    value = project["requires-python"]
    try:
        spec = SpecifierSet(value) if isinstance(value, str) else None
    except InvalidSpecifier:
        spec = None
    if spec is None:
        raise InputError(
            "project.requires-python: not a version specifier",
            file=display,
            found=repr(value),
            expected='e.g. ">=3.11"',
        )
    return str(spec) or None


def _project_dependencies(doc: Mapping[str, Any], display: str) -> list[str] | None:
    project = doc.get("project")
    if not isinstance(project, Mapping) or "dependencies" not in project:
        return None
    deps = project["dependencies"]
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        raise InputError("project.dependencies: expected an array of strings", file=display)
    out: list[str] = []
    for index, line in enumerate(deps):
        try:
            out.append(check_requirement(line, file=display))
        except InputError as exc:
            raise InputError(
                f"project.dependencies[{index}]: {exc.message}",
                file=display,
                expected=exc.expected,
                fix=exc.fix,
            ) from None
    return out


# ---- pydantic errors to InputError ---------------------------------------------------------

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
        return [k for k in aliases(LockkeysConfig) if k not in _INTERNAL_KEYS]
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


def _convert(exc: ValidationError, raw: Mapping[str, Any], display: str, prefix: str) -> InputError:
    described = [_describe(e, raw) for e in exc.errors()]
    lines = [f"{prefix}{text}" if text else prefix.rstrip(".") for text, _ in described]
    headline_fix = described[0][1]
    details = [
        f"also: {line}" + (f" ({fix})" if fix else "")
        for line, (_, fix) in zip(lines[1:], described[1:], strict=True)
    ]
    return InputError(lines[0], file=display, fix=headline_fix, details=details)
