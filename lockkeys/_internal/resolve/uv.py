"""The uv resolver: ``uv pip compile`` run as a subprocess.

Isolated like pip-compile: the user's ``UV_*`` and ``PIP_*`` variables are removed,
``UV_NO_CONFIG=1`` and ``--no-config`` keep ``uv.toml`` / ``pyproject.toml`` settings out, and
every source comes from the request.

Flags, and why:

- Indexes: the request lists them highest priority first. uv searches ``UV_INDEX`` entries in
  the order given, then ``UV_DEFAULT_INDEX``, so the first ``n-1`` go to ``UV_INDEX`` and the
  last to ``UV_DEFAULT_INDEX`` (which must always be set, else uv adds the public index). No
  index at all: ``--no-index`` and ``--offline`` (local folders only, so the network is never
  touched).
- The indexes go in the child's environment (``UV_INDEX``, space-separated, and
  ``UV_DEFAULT_INDEX``), not on its command line, which ``ps`` shows to every local user: the
  resolution view's URL carries its per-run secret.
- ``--index-strategy first-index``: a package is taken only from the first index that has it.
  With ``unsafe-best-match`` an attacker publishing a higher version of a private package's name
  on another index would win (dependency confusion). It is uv's default; it is passed anyway so
  no setting can change it.
- ``--find-links`` for local folders; ``--constraint FILE``, ``--override FILE`` as given.
- ``--python sys.executable``: markers are evaluated for the running interpreter, as pip-compile
  does; ``--python-version`` when the request names another target. ``--no-python-downloads``.
- ``--universal`` when the request asks for it: one resolution for every platform, and Python
  from ``--python-version`` up; each pin then carries the marker under which it is needed.
- ``--no-header --annotation-style line``: one ``# via`` comment per pin, read into
  :attr:`Pin.via`; uv emits no index URLs or find-links unless asked and strips extras and
  markers by default.
- ``--cache-dir``: lockkeys' persistent cache folder for uv (``ResolverSettings``), or a fresh
  private folder per run (``--no-cache``).
- credentials (``NETRC``) and trust (``SSL_CERT_FILE`` or ``UV_SYSTEM_CERTS``) come through the
  environment, from :mod:`lockkeys._internal.resolve.runenv`; never on the command line.
- ``--no-progress --color never``: plain stderr, read for failure details.
- an index on a loopback address that refuses connections is a source error before uv
  starts (:mod:`lockkeys._internal.resolve.reachable`): uv's retries of it would take
  10.6 s and cannot help.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from lockkeys._internal.resolve.base import Pin, ResolveRequest
from lockkeys._internal.resolve.common import (
    DEFAULT_TIMEOUT,
    clean_lines,
    find_executable,
    isolated_env,
    pins_from_run,
    run_resolver,
    write_preferences,
    write_sets,
)
from lockkeys._internal.resolve.memo import program_identity
from lockkeys._internal.resolve.reachable import check_loopback_indexes
from lockkeys._internal.resolve.runenv import ResolverSettings
from lockkeys.errors import UsageError

_FIX_MISSING = "pip install uv"

_UNSATISFIED = (
    re.compile(r"you require (.+?)(?:, we can conclude|\.?$)", re.MULTILINE),
    re.compile(r"Because (\S+) was not found"),
    re.compile(r"there is no version of (\S+?)(?:,|\s|$)"),
)


def find_uv() -> list[str] | None:
    """``uv`` beside ``sys.executable``, else on PATH, else ``python -m uv``."""
    found = find_executable("uv")
    if found is not None:
        return [found]
    if importlib.util.find_spec("uv") is not None:
        return [sys.executable, "-m", "uv"]
    return None


class UvResolver:
    """Resolves with ``uv pip compile``."""

    name: str = "uv"

    def __init__(
        self,
        *,
        command: Sequence[str] | None = None,
        cache_dir: Path | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        settings: ResolverSettings | None = None,
    ) -> None:
        """``command`` replaces the discovered uv; ``cache_dir`` keeps a cache across runs
        (default: the one ``settings`` names, else a fresh one per run); ``settings`` carries
        credentials, trust and the cache root (:mod:`lockkeys._internal.resolve.runenv`)."""
        self.command = list(command) if command is not None else None
        self.cache_dir = cache_dir
        self.timeout = timeout
        self.settings = settings if settings is not None else ResolverSettings()

    def memo_identity(self) -> str | None:
        """The uv program that runs (path, size, modification time), for kept resolutions
        (:mod:`lockkeys._internal.resolve.memo`); None when it cannot be told (``python -m uv``)."""
        command = self.command if self.command is not None else find_uv()
        if command is None or len(command) != 1:
            return None
        return program_identity(command[0])

    def resolve(self, request: ResolveRequest) -> list[Pin]:
        """Resolve the request with ``uv pip compile``."""
        requirements = clean_lines("requirement", request.requirements)
        constraints = clean_lines("constraint", request.constraints)
        overrides = clean_lines("override", request.overrides)
        if request.python_version is not None and not re.fullmatch(
            r"\d+\.\d+(\.\d+)?", request.python_version.strip()
        ):
            raise UsageError(
                f"invalid Python version {request.python_version!r}",
                expected="major.minor, e.g. 3.11",
                found=request.python_version,
            )
        if not requirements:
            return []
        command = self.command if self.command is not None else find_uv()
        if command is None:
            raise UsageError("the uv resolver is not installed: uv not found", fix=_FIX_MISSING)
        check_loopback_indexes(self.name, request.indexes)  # before any retry
        with tempfile.TemporaryDirectory(prefix="lockkeys-uv-", ignore_cleanup_errors=True) as tmp:
            work = Path(tmp)
            cache = (
                self.cache_dir
                if self.cache_dir is not None
                else self.settings.cache_for(self.name, work / "cache")
            )
            (work / "requirements.in").write_text("\n".join(requirements) + "\n", "utf-8")
            write_preferences(work / "requirements.txt", request)
            argv = [*command, "pip", "compile", "requirements.in", *write_sets(work, request)]
            argv += ["--output-file", "requirements.txt", *self._options(request, cache)]
            if constraints:
                (work / "constraints.txt").write_text("\n".join(constraints) + "\n", "utf-8")
                argv += ["--constraint", "constraints.txt"]
            if overrides:
                (work / "overrides.txt").write_text("\n".join(overrides) + "\n", "utf-8")
                argv += ["--override", "overrides.txt"]
            with self.settings.child_environment(self.name) as child:
                env = isolated_env(
                    ("UV_", "PIP_"),
                    {"UV_NO_CONFIG": "1", "NO_COLOR": "1", **index_variables(request), **child},
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
            return pins_from_run(self.name, done, work / "requirements.txt", request, _UNSATISFIED)

    def _options(self, request: ResolveRequest, cache: Path) -> list[str]:
        argv = [
            "--no-config",
            "--no-header",
            "--annotation-style",
            "line",
            "--index-strategy",
            "first-index",
            "--cache-dir",
            str(cache),
            "--no-progress",
            "--color",
            "never",
            "--python",
            sys.executable,
            "--no-python-downloads",
        ]
        if request.python_version is not None:
            argv += ["--python-version", request.python_version.strip()]
        if request.universal:
            argv.append("--universal")
        if not request.indexes:
            argv += ["--no-index", "--offline"]  # the indexes themselves: index_variables()
        for folder in request.find_links:
            argv += ["--find-links", str(Path(folder).absolute())]
        if request.upgrade:
            argv.append("--upgrade")
        return argv


def index_variables(request: ResolveRequest) -> dict[str, str]:
    """The request's indexes for uv, as variables (highest priority first in ``UV_INDEX``, the
    last one ``UV_DEFAULT_INDEX``): a command line is visible to every local user in ``ps``,
    and the resolution view's URL carries its per-run secret."""
    if not request.indexes:
        return {}
    found = {"UV_DEFAULT_INDEX": request.indexes[-1]}
    if len(request.indexes) > 1:
        found["UV_INDEX"] = " ".join(request.indexes[:-1])
    return found
