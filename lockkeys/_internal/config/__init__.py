"""The ``[tool.lockkeys]`` configuration (contract section 2): load, validate, digest.

The keys live in ``pyproject.toml`` under ``[tool.lockkeys]``, or at the top level of a
``lockkeys.toml``. Every refusal is an :class:`~lockkeys.errors.InputError` naming the file and
the TOML key path the user wrote, e.g.
``pyproject.toml: tool.lockkeys.packages.broken.threshold: 3 exceeds the 2 signers listed``.
OpenPGP certificates are not parsed here: :attr:`LockkeysConfig.signers` maps names to files
and the lock layer reads them.

The modules: :mod:`.schema` (the model), :mod:`.source_table` (one source),
:mod:`.policy` (package policies and the :class:`PolicyTable`), :mod:`.digest` (the inputs
digest), :mod:`.loading` (finding and reading the file), :mod:`.project` (``[project]`` and
``[dependency-groups]``), :mod:`.messages` (validation errors as TOML-key messages),
:mod:`.validation` (shared checks). This package re-exports the names callers import.
"""

from __future__ import annotations

from lockkeys._internal.config.digest import DIGEST_VERSION
from lockkeys._internal.config.loading import find_config, load_config
from lockkeys._internal.config.policy import (
    DefaultConfig,
    PackageConfig,
    PackagePolicy,
    PolicyTable,
)
from lockkeys._internal.config.schema import DEFAULT_LOCKFILE, LockkeysConfig
from lockkeys._internal.config.source_table import DEFAULT_INDEX_URL, SourceConfig
from lockkeys._internal.config.validation import SIGNATURE_CHECKS, Verify

__all__ = [
    "DEFAULT_INDEX_URL",
    "DEFAULT_LOCKFILE",
    "DIGEST_VERSION",
    "SIGNATURE_CHECKS",
    "DefaultConfig",
    "LockkeysConfig",
    "PackageConfig",
    "PackagePolicy",
    "PolicyTable",
    "SourceConfig",
    "Verify",
    "find_config",
    "load_config",
]
