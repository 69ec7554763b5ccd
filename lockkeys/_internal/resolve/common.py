"""Machinery shared by the subprocess resolvers: input checks, isolation, running, failures.

Their output is read into pins by :mod:`lockkeys._internal.resolve.compiled`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from lockkeys._internal.resolve.base import Pin, ResolveRequest
from lockkeys._internal.resolve.compiled import PROJECT_NAME, parse_compiled
from lockkeys.errors import LockkeysError, ResolutionError, SourceError, UsageError, escape

#: Seconds a resolver may run before it is stopped.
DEFAULT_TIMEOUT = 600.0

#: Seconds between "still resolving" notes while a resolver runs.
HEARTBEAT = 3.0

#: How many stderr lines a failure keeps in ``details``.
DETAIL_LINES = 15

_COMMENT = re.compile(r"(^|\s+)#.*$")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")

# Signs that a source could not be reached at all (as opposed to "it has no such package").
_UNREACHABLE = (
    "Failed to establish a new connection",
    "Connection refused",
    "Name or service not known",
    "Temporary failure in name resolution",
    "certificate verify failed",
    "Read timed out",
    "ConnectTimeoutError",
    "Failed to fetch:",
    "error sending request for url",
    "tcp connect error",
    # Refused credentials (pip: "401 Client Error", uv: "401 Unauthorized") and proxies.
    "401 Client Error",
    "403 Client Error",
    "401 Unauthorized",
    "403 Forbidden",
    "ProxyError",
    "Tunnel connection failed",
    "invalid peer certificate",
    "CERTIFICATE_VERIFY_FAILED",
)


# -- secrets in the resolver's output ------------------------------------------------------------

#: Shown instead of a hidden secret (the resolution view's per-run path prefix).
HIDDEN = "<view-secret>"
_hidden: set[str] = set()
_hidden_lock = threading.Lock()


def hide_secret(secret: str) -> None:
    """From now on, :func:`redacted` replaces ``secret`` wherever the resolver writes it."""
    with _hidden_lock:
        _hidden.add(secret)


def forget_secret(secret: str) -> None:
    """The secret is dead (its view stopped): no longer looked for."""
    with _hidden_lock:
        _hidden.discard(secret)


def redacted(text: str) -> str:
    """``text`` without any live secret: resolver output is shown to users and kept in logs."""
    with _hidden_lock:
        live = sorted(_hidden, key=len, reverse=True)
    for secret in live:
        text = text.replace(secret, HIDDEN)
    return text


# -- input -------------------------------------------------------------------------------------


def clean_lines(kind: str, lines: Iterable[str]) -> list[str]:
    """Check requirement lines and return them normalized, one PEP 508 requirement each.

    Options (``--index-url``, ``-f``, ``-e``, ...) are refused: sources are passed to the
    resolver explicitly, and a line must never be able to add one. Direct references
    (``name @ URL``) are refused too: every pin is fetched from a configured source.
    """
    out: list[str] = []
    for entry in lines:
        for line in entry.splitlines():
            text = _COMMENT.sub("", line).strip()
            if not text:
                continue
            if text.startswith("-"):
                raise UsageError(
                    f"{kind} line {escape(text)!r} is a pip option, not a requirement",
                    expected="a PEP 508 requirement such as 'name>=1.0'",
                    found=escape(text),
                    fix="declare package sources in [[tool.lockkeys.sources]]; "
                    "requirement lines hold requirements only",
                )
            try:
                req = Requirement(text)
            except InvalidRequirement as exc:
                raise UsageError(
                    f"invalid {kind} line {escape(text)!r}: {escape(str(exc))}",
                    expected="a PEP 508 requirement such as 'name>=1.0'",
                    found=escape(text),
                    fix="correct the line (pip syntax, one requirement per line)",
                ) from exc
            if req.url:
                raise UsageError(
                    f"{kind} line {escape(text)!r} is a direct reference, which cannot be locked "
                    "from a package source",
                    package=canonicalize_name(req.name),
                    found=escape(text),
                    fix="publish the distribution to an index or a local folder source and "
                    "require it by name and version",
                )
            out.append(str(req))
    return out


def requirement_names(lines: Iterable[str]) -> list[str]:
    """Normalized names of already-cleaned requirement lines, in order, without repeats."""
    names: list[str] = []
    for line in lines:
        name = canonicalize_name(Requirement(line).name)
        if name not in names:
            names.append(name)
    return names


def running_python() -> str:
    """``major.minor.micro`` of the running interpreter."""
    return "{}.{}.{}".format(*sys.version_info[:3])


def write_sets(work: Path, request: ResolveRequest) -> list[str]:
    """Write each requirement set of ``request`` to ``work/NAME.in``; return the file names."""
    names: list[str] = []
    for name, lines in request.requirement_sets:
        cleaned = clean_lines("requirement", lines)
        if not cleaned:
            continue
        (work / f"{name}.in").write_text("\n".join(cleaned) + "\n", "utf-8")
        names.append(f"{name}.in")
    return names


def write_preferences(output: Path, request: ResolveRequest) -> None:
    """Seed the resolver's output file with the pins to keep where they still fit: pip-compile
    and uv both read an existing output file as preferences, not as constraints. The lines
    come from a previous lock, so they are checked like any requirement line first."""
    lines = clean_lines("previous pin", request.preferences)
    if lines and not request.upgrade:
        output.write_text("\n".join(lines) + "\n", "utf-8")


# -- running -----------------------------------------------------------------------------------


def find_executable(name: str) -> str | None:
    """``name`` installed beside the running interpreter (its venv or prefix), else on PATH."""
    beside = shutil.which(name, path=str(Path(sys.executable).parent))
    return beside or shutil.which(name)


def isolated_env(drop_prefixes: Sequence[str], set_vars: Mapping[str, str]) -> dict[str, str]:
    """A copy of the environment without the user's variables that start with a prefix.

    Variables like ``PIP_EXTRA_INDEX_URL`` or ``UV_FIND_LINKS`` would add package sources
    behind lockkeys' back; ``set_vars`` (lockkeys' own settings) are added afterwards.
    """
    prefixes = tuple(p.upper() for p in drop_prefixes)
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(prefixes)}
    env.update(set_vars)
    return env


def run_resolver(
    resolver: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    timeout: float,
    fix_missing: str,
    progress: Callable[[str], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv``; a missing program is a :class:`UsageError`, a timeout a failure.

    Index URLs belong in ``env``, never in ``argv``: other local users see command lines in
    ``ps``, not environments. The output comes back :func:`redacted`.

    ``progress`` is told every :data:`HEARTBEAT` seconds that the resolver is still working,
    so that ``lockkeys lock`` is never silent for long."""
    try:
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
    except FileNotFoundError as exc:
        raise UsageError(
            f"the {resolver} resolver is not installed: {escape(argv[0])} not found",
            fix=fix_missing,
        ) from exc
    except PermissionError as exc:
        raise UsageError(
            f"the {resolver} resolver cannot be run: {escape(argv[0])}: {exc.strerror}",
            fix=fix_missing,
        ) from exc
    started = time.monotonic()
    with process:
        while True:
            left = timeout - (time.monotonic() - started)
            try:
                stdout, stderr = process.communicate(timeout=max(0.0, min(HEARTBEAT, left)))
                break
            except subprocess.TimeoutExpired as exc:
                elapsed = time.monotonic() - started
                if elapsed >= timeout:
                    process.kill()
                    _, stderr = process.communicate()
                    raise ResolutionError(
                        f"{resolver} did not finish resolving within {timeout:g} s",
                        details=meaningful_lines(redacted(_text(stderr))),
                        fix="check that every package source answers promptly, then run again",
                    ) from exc
                if progress is not None:
                    progress(f"{resolver}: still resolving ({elapsed:.0f} s)")
    return subprocess.CompletedProcess(
        list(argv), process.returncode, redacted(stdout), redacted(stderr)
    )


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return data


# -- failure -----------------------------------------------------------------------------------


def meaningful_lines(stderr: str, limit: int = DETAIL_LINES) -> list[str]:
    """The last ``limit`` informative stderr lines: no colors, tracebacks' frames or repeats.

    The exception line that ends a traceback is kept: it often names the requirement.
    """
    kept: list[str] = []
    in_traceback = False
    for raw in _ANSI.sub("", stderr).splitlines():
        line = raw.rstrip()
        if line.startswith("Traceback (most recent call last)"):
            in_traceback = True
            continue
        if in_traceback:
            if not line or line[:1].isspace():
                continue
            in_traceback = False
        if not line.strip():
            continue
        if line.startswith(("The above exception was", "During handling of the above")):
            continue
        text = escape(line)
        if text not in kept:
            kept.append(text)
    return kept[-limit:]


def pins_from_run(
    resolver: str,
    done: subprocess.CompletedProcess[str],
    output: Path,
    request: ResolveRequest,
    unsatisfied: Sequence[re.Pattern[str]],
    explain: Callable[[list[str]], list[str]] | None = None,
) -> list[Pin]:
    """The pins a finished resolver run wrote to ``output``, or the error for its failure.

    ``explain`` rewrites the resolver's stderr lines into the error's details (pip-tools'
    conflict lines); by default the meaningful stderr lines are the details.
    """
    if done.returncode != 0:
        lines = meaningful_lines(done.stderr, limit=1000 if explain else DETAIL_LINES)
        details = explain(lines) if explain else lines
        raise failure(resolver, done.stderr, request, unsatisfied, details)
    if not output.is_file():
        raise ResolutionError(
            f"{resolver} succeeded but wrote no output",
            details=meaningful_lines(done.stderr),
        )
    return parse_compiled(redacted(output.read_text("utf-8")), resolver)


def failure(
    resolver: str,
    stderr: str,
    request: ResolveRequest,
    unsatisfied: Sequence[re.Pattern[str]],
    details: list[str],
) -> LockkeysError:
    """The error for a resolver that exited non-zero.

    :class:`SourceError` when stderr shows a source could not be reached (exit 3), otherwise
    :class:`ResolutionError` (exit 4) naming the requirements each ``unsatisfied`` pattern
    (group 1) reads from stderr.
    """
    plain = _ANSI.sub("", stderr)
    if any(sign in plain for sign in _UNREACHABLE):
        urls = [redacted(u) for u in request.indexes if _mentioned(redacted(u), plain)]
        return SourceError(
            f"{resolver} could not reach a package source"
            + (f": {', '.join(escape(u) for u in urls)}" if urls else ""),
            details=details,
            fix="check that each source in [[tool.lockkeys.sources]] is up and its URL is right",
        )
    asked: list[str] = []
    for pattern in unsatisfied:
        for match in pattern.finditer(plain):
            for piece in re.split(r",\s+|\s+and\s+", match.group(1)):
                item = piece.strip().strip("'\"`.")
                if item and item not in asked:
                    asked.append(item)
    # "nothere" beside "nothere>=1" says nothing more: keep the one with the version range.
    asked = [
        item
        for item in asked
        if not PROJECT_NAME.match(item)
        or not any(
            _name_of(other) == _name_of(item) and not PROJECT_NAME.match(other) for other in asked
        )
    ]
    names = {_name_of(item) for item in asked} - {None}
    package = names.pop() if len(names) == 1 else None
    if asked:
        message = f"{resolver} could not satisfy {', '.join(escape(a) for a in asked)}"
    else:
        message = f"{resolver} could not resolve the requirements"
    return ResolutionError(
        message,
        package=package,
        details=details,
        fix="check that the named packages exist on the configured sources in a matching "
        "version and for this Python; relax the requirements, constraints or substitutes "
        "that conflict (see the resolver's output above)",
    )


def _name_of(item: str) -> str | None:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", item)
    if match is None:
        return None
    return canonicalize_name(match.group(0).rstrip("._-"))


def _mentioned(url: str, text: str) -> bool:
    """Whether ``text`` names the host (and port) of ``url``: uv writes URLs, pip
    ``host='127.0.0.1', port=8081``."""
    parts = urlsplit(url)
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        return False
    if not host:
        return False
    if url.rstrip("/") in text or (port is None and host in text):
        return True
    return f"{host}:{port}" in text or f"host='{host}', port={port})" in text
