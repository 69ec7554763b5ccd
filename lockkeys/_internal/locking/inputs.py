"""Step 0 of locking: the inputs. The requirement lines to lock, and the signer certificates
the configuration names, loaded and checked (no duplicate keys under two names)."""

from __future__ import annotations

from pathlib import Path

from lockkeys._internal.config.schema import LockkeysConfig
from lockkeys._internal.requirements import read_requirement_files
from lockkeys._internal.trust.certs import Certificate, Keyring, load_certificate
from lockkeys.errors import InputError, UsageError


def load_signers(config: LockkeysConfig) -> dict[str, Certificate]:
    """The configured signers' certificates by name, each loaded, none under two names."""
    prefix = config.key_prefix
    certs: dict[str, Certificate] = {}
    for name, path in sorted(config.signers.items()):
        try:
            certs[name] = load_certificate(Path(path), name=name)
        except InputError as exc:
            raise InputError(
                f"{prefix}signers.{name}: {exc.message}",
                file=str(config.config_path),
                found=exc.file,
                fix=exc.fix,
            ) from None
    try:
        Keyring(certs.values())
    except InputError as exc:
        dup = next((n for n, c in certs.items() if c.source == exc.file), None)
        raise InputError(
            f"{prefix}signers.{dup or '?'}: {exc.message}",
            file=str(config.config_path),
            found=exc.found,
            fix=exc.fix,
        ) from None
    return certs


def requirement_lines(config: LockkeysConfig) -> tuple[list[str], list[str]]:
    """(requirement lines, constraint lines) from the requirement files, else the project's
    dependencies."""
    if config.requirements:
        reqs = read_requirement_files([Path(p) for p in config.requirements])
        return list(reqs.requirements), list(reqs.constraints)
    if config.project_dependencies:
        return list(config.project_dependencies), []
    raise UsageError(
        "nothing to lock: no requirements",
        file=str(config.config_path),
        fix="list requirement files in `requirements = [...]` or add [project].dependencies",
    )


__all__ = ["load_signers", "requirement_lines"]
