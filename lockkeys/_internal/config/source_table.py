"""One ``[[tool.lockkeys.sources]]`` entry, validated (:class:`SourceConfig`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ModelWrapValidatorHandler,
    PrivateAttr,
    StrictStr,
    field_validator,
    model_validator,
)

from lockkeys._internal.config.validation import MODEL_CONFIG, check_name, problem
from lockkeys._internal.urlcreds import split_url_credentials

__all__ = ["DEFAULT_INDEX_URL", "SourceConfig", "default_sources"]

DEFAULT_INDEX_URL = "https://pypi.org/simple/"


class SourceConfig(BaseModel):
    """One ``[[tool.lockkeys.sources]]`` entry: a PEP 503 index (``url``) or a folder (``path``)."""

    model_config = MODEL_CONFIG

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
            url, userinfo = split_url_credentials(data["url"])
            if userinfo is not None:
                data = {**data, "url": url}
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
            raise problem(
                f"{value!r} is not an environment variable name",
                fix="give the NAME of the variable that holds the secret, not the secret",
            )
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value, "source")

    @field_validator("mirrors")
    @classmethod
    def _mirrors(cls, value: list[str]) -> list[str]:
        for mirror in value:
            parts = urlsplit(mirror)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise problem(f"mirror {mirror!r} is not an http(s) URL")
            if "@" in parts.netloc:
                raise problem(
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
            raise problem(
                f"{value!r} is not an http(s) URL",
                fix="give a PEP 503 simple index as http(s)://host/simple/, "
                "or a local folder as `path`",
            )
        return value

    @model_validator(mode="after")
    def _one_location(self) -> SourceConfig:
        if (self.url is None) == (self.path is None):
            found = "both" if self.url is not None else "neither"
            raise problem(
                f"a source needs exactly one of `url` and `path`, found {found}",
                fix="`url` for an index, `path` for a folder of distributions",
            )
        if self.path is not None and not str(self.path).strip():
            raise problem("`path` is empty", "path")
        if self.mirrors and self.url is None:
            raise problem("`mirrors` apply to an index source (`url`), not a folder")
        credential_keys = (self.username_env, self.password_env, self.token_env, self.ca_bundle)
        if self.url is None and any(k is not None for k in credential_keys):
            raise problem(
                "credentials and `ca-bundle` apply to an index source (`url`), not a folder"
            )
        if self.password_env is not None and self.token_env is not None:
            raise problem(
                "give one of `password-env` and `token-env`, not both",
                fix="`token-env` is the password of user `__token__` (or of `username-env`)",
            )
        return self


def default_sources() -> list[SourceConfig]:
    """The sources when none are configured: the public index (PyPI)."""
    return [SourceConfig(name="pypi", url=DEFAULT_INDEX_URL)]
