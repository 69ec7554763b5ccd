"""The pip-tools resolver: ``pip-compile`` run as a subprocess.

pip-tools has no supported Python API (its internals import ``pip._internal`` throughout), so the
command line is the interface. It runs isolated from the user's pip configuration: measured,
pip-compile otherwise copies configured extra index URLs and find-links into its result, so a
machine's pip.conf would silently become a package source of the lock.

Flags, and why:

- ``--no-config``: ignore ``[tool.pip-tools]`` / ``.pip-tools.toml`` defaults.
- ``PIP_CONFIG_FILE=os.devnull`` (pip then reads no configuration file at all), every ``PIP_*``
  variable of the user removed: sources come only from the request.
- ``PIP_INDEX_URL``/``PIP_EXTRA_INDEX_URL`` (in the child's environment, not on its command
  line, which ``ps`` shows to every local user) for the request's indexes, ``--no-index``
  without any, ``--find-links`` for its folders. pip treats every index alike (best version
  wins); it has no first-index strategy, which is one reason uv is the better choice with
  several indexes.
- ``--no-emit-index-url --no-emit-find-links --no-emit-trusted-host --no-header``: the output is
  parsed for pins only, and must not carry sources either.
- ``--strip-extras`` explicitly (its default changes in pip-tools 8), ``--allow-unsafe`` (pin
  setuptools/pip too: a lock must be complete), ``--resolver=backtracking``.
- ``--annotate --annotation-style=line``: one ``# via`` comment per pin, read into
  :attr:`Pin.via`.
- ``--cache-dir``: lockkeys' persistent cache folder for pip-tools (``ResolverSettings``), or a
  fresh private folder per run (``--no-cache``); pip-tools caches dependency metadata by name and
  version, which would survive a rebuilt distribution of the same version: lock with
  ``--no-cache`` after such a rebuild. pip's own cache (``PIP_CACHE_DIR``) goes beside it.
- credentials (``NETRC``) and extra CAs (``PIP_CERT``) come through the environment, from
  :mod:`lockkeys._internal.resolve.runenv`; never on the command line.
- an index on a loopback address that refuses connections is a source error before
  pip-compile starts (:mod:`lockkeys._internal.resolve.reachable`): pip's retries of it
  would take 7.7 s and cannot help.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)

from lockkeys._internal.resolve.base import Pin, ResolveRequest
from lockkeys._internal.resolve.common import (
    DEFAULT_TIMEOUT,
    DETAIL_LINES,
    clean_lines,
    find_executable,
    isolated_env,
    pins_from_run,
    requirement_names,
    run_resolver,
    running_python,
    write_preferences,
    write_sets,
)
from lockkeys._internal.resolve.memo import program_identity
from lockkeys._internal.resolve.reachable import check_loopback_indexes
from lockkeys._internal.resolve.runenv import ResolverSettings
from lockkeys.errors import UsageError

_FIX_MISSING = "pip install pip-tools"

_UNSATISFIED = (
    re.compile(r"satisfies the requirement (\S+)"),
    re.compile(r"No matching distribution found for (\S+)"),
    re.compile(r"RequirementInformation\(requirement=\w+\('([^']+)'\), parent=None\)"),
)
_INFO = re.compile(
    r"RequirementInformation\(requirement=\w+\('([^']*)'\), "
    r"parent=(None|\w+\((?:[^()]|\([^()]*\))*\))\)"
)


def find_pip_compile() -> list[str] | None:
    """The command for pip-compile of the running interpreter's environment, if any.

    Beside ``sys.executable`` first, then ``python -m piptools compile`` (same interpreter,
    so markers are evaluated for this Python), then ``pip-compile`` on PATH.
    """
    beside = find_executable("pip-compile")
    if beside is not None and Path(beside).parent == Path(sys.executable).parent:
        return [beside]
    if importlib.util.find_spec("piptools") is not None:
        return [sys.executable, "-m", "piptools", "compile"]
    return [beside] if beside is not None else None


class PipToolsResolver:
    """Resolves with ``pip-compile`` (pip-tools)."""

    name: str = "pip-tools"

    def __init__(
        self,
        *,
        command: Sequence[str] | None = None,
        cache_dir: Path | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        settings: ResolverSettings | None = None,
    ) -> None:
        """``command`` replaces the discovered pip-compile; ``cache_dir`` keeps a cache across
        runs (default: the one ``settings`` names, else a fresh one per run); ``settings``
        carries credentials, trust and the cache root (:mod:`lockkeys._internal.resolve.runenv`)."""
        self.command = list(command) if command is not None else None
        self.cache_dir = cache_dir
        self.timeout = timeout
        self.settings = settings if settings is not None else ResolverSettings()

    def memo_identity(self) -> str | None:
        """The pip-compile that runs, for kept resolutions
        (:mod:`lockkeys._internal.resolve.memo`): its
        program (path, size, modification time) and the pip-tools and pip it runs with. None
        for a pip-compile of another environment (found on PATH): its versions are unknown."""
        command = self.command if self.command is not None else find_pip_compile()
        if command is None:
            return None
        ours = Path(command[0]).parent == Path(sys.executable).parent or (
            command[0] == sys.executable
        )
        program = program_identity(command[0])
        if not ours or program is None:
            return None
        try:
            versions = f"pip-tools {metadata.version('pip-tools')} pip {metadata.version('pip')}"
        except metadata.PackageNotFoundError:
            return None
        return " ".join([program, *command[1:], versions])

    def resolve(self, request: ResolveRequest) -> list[Pin]:
        """Resolve the request with pip-compile (overrides need uv and are refused)."""
        if request.overrides:
            names = ", ".join(requirement_names(clean_lines("override", request.overrides)))
            raise UsageError(
                f'overriding what dependencies declare ({names}) needs resolver = "uv"; '
                "pip-tools cannot override",
                package=names if "," not in names else None,
                fix='set resolver = "uv" (or run with --resolver uv)',
            )
        if request.universal:
            raise UsageError(
                "pip-tools resolves for the running interpreter only; a universal lock "
                '(several environments) needs resolver = "uv"',
                fix='set resolver = "uv" (or run with --resolver uv)',
            )
        self._check_python(request.python_version)
        requirements = clean_lines("requirement", request.requirements)
        constraints = clean_lines("constraint", request.constraints)
        if not requirements:
            return []
        command = self.command if self.command is not None else find_pip_compile()
        if command is None:
            raise UsageError(
                "the pip-tools resolver is not installed: pip-compile not found",
                fix=_FIX_MISSING,
            )
        check_loopback_indexes(self.name, request.indexes)  # before any retry
        with tempfile.TemporaryDirectory(
            prefix="lockkeys-pip-compile-", ignore_cleanup_errors=True
        ) as tmp:
            work = Path(tmp)
            cache = (
                self.cache_dir
                if self.cache_dir is not None
                else self.settings.cache_for(self.name, work / "cache")
            )
            lines = list(requirements)
            if constraints:
                (work / "constraints.txt").write_text("\n".join(constraints) + "\n", "utf-8")
                lines.append("-c constraints.txt")
            (work / "requirements.in").write_text("\n".join(lines) + "\n", "utf-8")
            write_preferences(work / "requirements.txt", request)
            argv = [*command, *self._options(request, cache)]
            argv += ["--output-file", "requirements.txt", "requirements.in"]
            argv += write_sets(work, request)
            with self.settings.child_environment(self.name) as child:
                env = isolated_env(
                    ("PIP_",),
                    {
                        "PIP_CONFIG_FILE": os.devnull,
                        "PIP_NO_INPUT": "1",
                        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                        "PIP_CACHE_DIR": str(Path(cache) / "pip"),
                        "PYTHONIOENCODING": "utf-8",
                        **index_variables(request),
                        **child,
                    },
                )
                done = run_resolver(
                    self.name,
                    argv,
                    env=env,
                    cwd=work,
                    timeout=self.timeout,
                    fix_missing=_FIX_MISSING,
                    progress=self.settings.progress,
                )
            return pins_from_run(
                self.name, done, work / "requirements.txt", request, _UNSATISFIED, _explain
            )

    def _options(self, request: ResolveRequest, cache: Path) -> list[str]:
        argv = [
            "--no-config",
            "--no-emit-index-url",
            "--no-emit-find-links",
            "--no-emit-trusted-host",
            "--strip-extras",
            "--no-header",
            "--annotate",
            "--annotation-style=line",
            "--allow-unsafe",
            "--resolver=backtracking",
            "--cache-dir",
            str(cache),
        ]
        if not request.indexes:
            argv.append("--no-index")  # the indexes themselves: index_variables()
        for folder in request.find_links:
            argv += ["--find-links", str(Path(folder).absolute())]
        if request.upgrade:
            argv.append("--upgrade")
        return argv

    @staticmethod
    def _check_python(version: str | None) -> None:
        """pip-compile resolves for the interpreter it runs on, and only that one."""
        if version is None:
            return
        running = running_python()
        parts = version.strip().split(".")
        if 2 <= len(parts) <= 3 and running.split(".")[: len(parts)] == parts:
            return
        raise UsageError(
            f"pip-tools resolves only for the running Python ({running}), not {version}",
            expected=f"python_version {'.'.join(running.split('.')[:2])} or none",
            found=version,
            fix='set resolver = "uv" to resolve for another Python version',
        )


def index_variables(request: ResolveRequest) -> dict[str, str]:
    """The request's indexes for pip, as variables: a command line is visible to every local
    user in ``ps``, and the resolution view's URL carries its per-run secret."""
    if not request.indexes:
        return {}
    found = {"PIP_INDEX_URL": request.indexes[0]}
    if len(request.indexes) > 1:
        found["PIP_EXTRA_INDEX_URL"] = " ".join(request.indexes[1:])
    return found


def _explain(lines: list[str]) -> list[str]:
    """Spell out pip's ``ResolutionImpossible: [RequirementInformation(...)]`` line."""
    out: list[str] = []
    spelled_out = any(_INFO.search(line) for line in lines)
    for line in lines:
        if spelled_out and "RequirementsConflicted:" in line:
            continue  # the same requirement again, as ResolutionImpossible lists it
        if spelled_out and line.lstrip().startswith("pip._internal."):
            continue  # pip's exception class: the requirements are spelled out below
        infos = _INFO.findall(line)
        if not infos:
            out.append(line.strip().removeprefix("ERROR: ") if spelled_out else line)
            continue
        for requirement, parent in infos:
            explained = f"{requirement} (asked by {_parent(parent)})"
            if explained not in out:
                out.append(explained)
    return out[-DETAIL_LINES:]


def _parent(parent: str) -> str:
    if parent == "None":
        return "the requirements"
    quoted = re.search(r"'([^']+)'", parent)
    if quoted is None:
        return parent
    # A link candidate reads 'URL (from PAGE-URL)': the file name ends the first URL.
    url = quoted.group(1).split(" (from ", 1)[0]
    filename = url.rstrip("/").rsplit("/", 1)[-1]
    try:
        name, version, _, _ = parse_wheel_filename(filename)
        return f"{name} {version}"
    except InvalidWheelFilename:
        pass
    try:
        name, version = parse_sdist_filename(filename)
        return f"{name} {version}"
    except InvalidSdistFilename:
        return quoted.group(1)
