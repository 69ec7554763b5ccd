"""Put verified files into the target environment: in process (default), or with pip or uv.

``builtin`` (the default) installs wheels in this process with pypa's ``installer`` library: no
second interpreter to start, no resolver. Each file is hashed again from the open file it is
installed from, so a file swapped after verification is refused (threat-model row 13). It
writes ``INSTALLER`` (``lockkeys``) and ``REQUESTED`` like any installer, and no
``direct_url.json``: the package was not installed from a URL. Byte code is not compiled
(as uv); Python compiles modules when they are first imported.

``pip`` and ``uv`` run as child processes on exactly the verified files: a requirements file
``name==version --hash=sha256:...`` with ``--no-index --find-links <the private folder of
verified files> --no-deps --require-hashes``. Found through ``--find-links`` rather than named
by path, the files are recorded as ordinary installs (``pip freeze`` shows ``name==version``,
no ``file://`` direct URL). The child dies with lockkeys (``PR_SET_PDEATHSIG`` on Linux), and
the user's pip and uv configuration is isolated. Sdists a lock allows are always built by pip
(or uv with ``--installer uv``).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from lockkeys._internal.install.environment import InstalledDist, TargetEnvironment
from lockkeys._internal.install.installed import recorded_files
from lockkeys.errors import UsageError, VerificationError

log = logging.getLogger("lockkeys.install")

INSTALLERS = ("builtin", "pip", "uv")
DEFAULT_INSTALLER = "builtin"
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Artifact:
    """One verified file to install."""

    name: str
    version: str
    path: Path
    sha256: str

    @property
    def is_wheel(self) -> bool:
        """Whether the file is a wheel (else an sdist the lock allows)."""
        return self.path.name.endswith(".whl")


def check_installer(installer: str) -> None:
    """Raise UsageError (exit 2) for an installer that is not builtin, pip or uv."""
    if installer not in INSTALLERS:
        raise UsageError(f"unknown installer {installer!r}", expected=" or ".join(INSTALLERS))


# -- child processes ---------------------------------------------------------------------------


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


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGKILL when lockkeys dies, even by SIGKILL."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def run_child(cmd: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run an installer child that cannot outlive lockkeys: killed on any exception here
    (SIGINT, SIGTERM), and by the kernel if lockkeys is killed outright."""
    return subprocess.run(
        list(cmd),
        capture_output=True,
        text=True,
        env=_clean_env(),
        check=False,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,
    )


def find_uv() -> list[str]:
    """The command that runs uv: the one beside this Python, else the one on PATH."""
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
            "the uv installer is not available", fix="pip install uv, or use --installer builtin"
        ) from None


def installer_command(
    installer: str, python: str, requirements: Path, find_links: Path, *, allow_build: bool
) -> list[str]:
    """pip's or uv's command line for the verified files in ``find_links``.

    A virtual environment's ``bin/python`` is often a symlink to the base interpreter, so the
    target is passed as given, never compared by resolved path.
    """
    common = ["--no-index", "--find-links", str(find_links), "--no-deps", "--require-hashes"]
    if installer == "uv":
        cmd = [*find_uv(), "pip", "install", "--python", python, "--no-config", *common]
        cmd += ["--reinstall", "--quiet", "-r", str(requirements)]
    else:
        cmd = [sys.executable, "-m", "pip", "--python", python, "install", "--isolated"]
        cmd += [*common, "--force-reinstall", "--no-input", "--disable-pip-version-check"]
        cmd += ["--quiet", "-r", str(requirements)]
    if allow_build:
        cmd.append("--no-build-isolation")
    return cmd


def _run_external(
    installer: str, env: TargetEnvironment, artifacts: Sequence[Artifact], workdir: Path
) -> None:
    requirements = workdir / "verified-requirements.txt"
    requirements.write_text(
        "".join(f"{a.name}=={a.version} --hash=sha256:{a.sha256}\n" for a in artifacts),
        encoding="utf-8",
    )
    allow_build = any(not a.is_wheel for a in artifacts)
    cmd = installer_command(installer, env.python, requirements, workdir, allow_build=allow_build)
    proc = run_child(cmd)
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        hash_failure = any("hash" in ln.lower() and "match" in ln.lower() for ln in lines)
        raise VerificationError(
            f"{installer} failed to install the verified files"
            + (" (a file changed after verification)" if hash_failure else ""),
            package=", ".join(sorted(a.name for a in artifacts)),
            details=lines[-15:],
            fix="a file changed after verification if the installer reports a hash mismatch; "
            "otherwise see the installer's output above",
        )


# -- in process --------------------------------------------------------------------------------


def _sha256_of(handle: BinaryIO) -> str:
    digest = hashlib.sha256()
    while chunk := handle.read(CHUNK):
        digest.update(chunk)
    handle.seek(0)
    return digest.hexdigest()


def _install_wheel(env: TargetEnvironment, artifact: Artifact) -> None:
    from installer import install
    from installer.destinations import SchemeDictionaryDestination
    from installer.exceptions import InstallerError
    from installer.sources import WheelFile

    class Destination(SchemeDictionaryDestination):
        """Never writes into an existing file: it is unlinked first (the transaction keeps a
        hard link to the old one), as pip does."""

        def write_to_fs(self, scheme, path, stream, is_executable):  # type: ignore[no-untyped-def]
            target = Path(self._path_with_destdir(scheme, path))  # a str before installer 1.0
            if target.is_symlink() or target.is_file():
                target.unlink()
            return super().write_to_fs(scheme, path, stream, is_executable)

    destination = Destination(
        scheme_dict=dict(env.paths),
        interpreter=env.python,
        script_kind="posix",
    )
    with open(artifact.path, "rb") as handle:
        found = _sha256_of(handle)
        if found != artifact.sha256:
            raise VerificationError(
                "the file changed after verification",
                package=artifact.name,
                file=artifact.path.name,
                expected=f"sha256:{artifact.sha256}",
                found=f"sha256:{found}",
                fix="something replaced the verified file in lockkeys' private folder; "
                "nothing was installed",
            )
        try:
            with zipfile.ZipFile(handle) as archive:
                archive.filename = str(artifact.path)
                source = WheelFile(archive)
                install(source, destination, {"INSTALLER": b"lockkeys\n", "REQUESTED": b""})
        except (InstallerError, ValueError, zipfile.BadZipFile, KeyError, OSError) as exc:
            # installer's errors carry (source, message)
            text = exc.args[-1] if len(exc.args) > 1 and isinstance(exc.args[-1], str) else exc
            raise VerificationError(
                "the verified wheel could not be installed",
                package=artifact.name,
                file=artifact.path.name,
                found=f"{type(exc).__name__}: {text}",
                fix="the wheel is malformed for installation; nothing was changed",
            ) from None


def owned_paths(dists: Iterable[InstalledDist], env: TargetEnvironment) -> frozenset[str]:
    """Every file that the RECORDs of ``dists`` list (see :func:`recorded_files`), as real
    paths: what removing some other distribution must leave in place."""
    owned: set[str] = set()
    folders: dict[Path, str] = {}  # each folder resolved once
    for dist in dists:
        for path in recorded_files(dist, env):
            real = folders.get(path.parent)
            if real is None:
                real = folders[path.parent] = os.path.realpath(path.parent)
            owned.add(os.path.join(real, path.name))
    return frozenset(owned)


def staying(env: TargetEnvironment, leaving: Iterable[InstalledDist]) -> list[InstalledDist]:
    """The distributions of ``env`` that stay when ``leaving`` are removed or replaced."""
    gone = {d.path for d in leaving}
    return [d for d in env.dists if d.path is not None and d.path not in gone]


def _real(path: Path) -> str:
    """The real path of a file (its folder resolved, the file itself not followed)."""
    return os.path.join(os.path.realpath(path.parent), path.name)


def remove_dist(
    dist: InstalledDist, env: TargetEnvironment, keep: frozenset[str] = frozenset()
) -> list[Path]:
    """Uninstall one distribution: the files its RECORD lists (inside the environment only)
    and its metadata folder; folders left empty are removed. A file that another
    distribution's RECORD also lists (``keep``, from :func:`owned_paths`: a namespace
    package's ``__init__.py``) stays; those are returned."""
    parents: set[Path] = set()
    shared: list[Path] = []
    for path in recorded_files(dist, env):
        if keep and _real(path) in keep:
            shared.append(path)
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        parents.add(path.parent)
    meta_shared = dist.path is not None and any(p.is_relative_to(dist.path) for p in shared)
    if dist.path is not None and dist.path.is_dir() and not meta_shared:
        shutil.rmtree(dist.path, ignore_errors=True)
    stops = {Path(p) for p in env.paths.values()} | {Path(env.prefix)}
    for folder in sorted(parents, key=lambda p: len(p.parts), reverse=True):
        while folder not in stops and folder.is_relative_to(env.prefix):
            try:
                folder.rmdir()
            except OSError:
                break
            folder = folder.parent
    if shared:
        names = ", ".join(str(p) for p in shared)
        log.info("%s: kept %s: also listed by a distribution that stays", dist.name, names)
    return shared


def install_artifacts(
    installer: str,
    env: TargetEnvironment,
    artifacts: Sequence[Artifact],
    workdir: Path,
    *,
    replace: Sequence[InstalledDist] = (),
    keep: frozenset[str] = frozenset(),
) -> None:
    """Install verified files; ``replace`` are the installed copies they supersede (removed
    first by the builtin installer, leaving the files in ``keep``; pip and uv remove them
    themselves)."""
    check_installer(installer)
    if not artifacts:
        return
    if installer == "builtin":
        for dist in replace:
            remove_dist(dist, env, keep)
        for artifact in artifacts:
            if artifact.is_wheel:
                _install_wheel(env, artifact)
        built = [a for a in artifacts if not a.is_wheel]
        if built:
            _run_external("pip", env, built, workdir)
        return
    _run_external(installer, env, artifacts, workdir)
