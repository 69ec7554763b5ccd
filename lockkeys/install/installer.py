"""Run the real installer (pip or uv) on exactly the verified local files.

`--no-index --no-deps --require-hashes` with the hashes lockkeys computed while verifying: if a
file is swapped after verification the installer's own hash check fails (threat-model row
13). Reinstalling is forced so a tampered copy already in site-packages is replaced (row 14).
The user's pip/uv configuration is isolated so nothing else can be pulled in.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from lockkeys.errors import UsageError, VerificationError

INSTALLERS = ("pip", "uv")


def _clean_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "UV_", "PYTHON")) and k not in ("VIRTUAL_ENV",)
    }
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_NO_INPUT"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["UV_NO_CONFIG"] = "1"
    return env


def find_uv() -> list[str]:
    beside = Path(sys.executable).with_name("uv")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("uv")
    if found:
        return [found]
    try:
        import uv  # noqa: F401  (the PyPI package ships the binary)

        return [sys.executable, "-m", "uv"]
    except ImportError:
        raise UsageError(
            "the uv installer is not available", fix="pip install uv, or use --installer pip"
        ) from None


def installer_command(
    installer: str, python: str | None, requirements: Path, *, allow_build: bool
) -> list[str]:
    """The installer's command line; ``python`` None means lockkeys' own interpreter.

    A virtual environment's ``bin/python`` is often a symlink to the base interpreter, so the
    target is passed as given, never compared by resolved path.
    """
    if installer == "pip":
        cmd = [sys.executable, "-m", "pip"]
        if python is not None:
            cmd += ["--python", python]
        cmd += [
            "install",
            "--isolated",
            "--no-index",
            "--no-deps",
            "--require-hashes",
            "--force-reinstall",
            "--no-input",
            "--disable-pip-version-check",
            "--quiet",
            "-r",
            str(requirements),
        ]
        if allow_build:
            cmd.append("--no-build-isolation")
        return cmd
    if installer == "uv":
        cmd = [
            *find_uv(),
            "pip",
            "install",
            "--python",
            python or sys.executable,
            "--no-config",
            "--no-index",
            "--no-deps",
            "--require-hashes",
            "--reinstall",
            "--quiet",
            "-r",
            str(requirements),
        ]
        if allow_build:
            cmd.append("--no-build-isolation")
        return cmd
    raise UsageError(f"unknown installer {installer!r}", expected=" or ".join(INSTALLERS))


def uninstall(installer: str, python: str | None, names: Sequence[str]) -> bool:
    """Best-effort removal of distributions (rollback after a failed install)."""
    if not names:
        return True
    if installer == "uv":
        cmd = [*find_uv(), "pip", "uninstall", "--python", python or sys.executable, *names]
    else:
        cmd = [sys.executable, "-m", "pip"]
        if python is not None:
            cmd += ["--python", python]
        cmd += ["uninstall", "--yes", "--quiet", *names]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_clean_env(), check=False)
    return proc.returncode == 0


def run_installer(
    installer: str,
    python: str | None,
    files: Sequence[tuple[Path, str]],
    workdir: Path,
    *,
    allow_build: bool = False,
    before: dict[str, str] | None = None,
) -> None:
    """Install ``(path, sha256)`` pairs; raise VerificationError if the installer refuses.

    If the installer fails part-way, distributions it newly added are removed again, so the
    environment holds what it held before, except packages it replaced, which are named.
    """
    from lockkeys.install.environment import installed_distributions

    if before is None:
        before = installed_distributions(python)
    requirements = workdir / "verified-requirements.txt"
    requirements.write_text(
        "".join(f"{path} --hash=sha256:{sha256}\n" for path, sha256 in files), encoding="utf-8"
    )
    cmd = installer_command(installer, python, requirements, allow_build=allow_build)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_clean_env(), check=False)
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        hash_failure = any("hash" in ln.lower() and "match" in ln.lower() for ln in lines)
        after = installed_distributions(python)
        added = sorted(n for n in after if n not in before)
        changed = sorted(n for n in after if n in before and after[n] != before[n])
        rolled_back = uninstall(installer, python, added)
        state = []
        if added:
            state.append(
                ("removed again: " if rolled_back else "could NOT remove: ") + ", ".join(added)
            )
        if changed:
            state.append("replaced (previous versions not restored): " + ", ".join(changed))
        names = ", ".join(sorted({p.name.split("-")[0] for p, _ in files}))
        raise VerificationError(
            f"{installer} failed to install the verified files"
            + (" (a file changed after verification)" if hash_failure else ""),
            package=names,
            details=lines[-15:] + state,
            fix="a file changed after verification if the installer reports a hash mismatch; "
            "otherwise see the installer's output above",
        )
