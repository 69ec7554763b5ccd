#!/usr/bin/env python3
"""Benchmark `lockkeys lock` (both resolvers) against pip-compile and uv pip compile.

Needs the public index (https://pypi.org/simple/); exits with status 3 and a clear message when
it cannot be reached. This is a script, not a test: nothing here belongs in the test suite.

    python benchmarks/lock_bench.py [--repeat 3] [--sets popular,webapp] [--packages "..."]
                                    [--workdir DIR] [--skip-warm] [--json]

Two requirement sets by default, each locked by four tools in the same run:

- ``popular``: 15 popular packages (about 27 pins transitively);
- ``webapp``: a Django web application's direct dependencies (more than 40 pins);
- ``--packages "a b c"`` replaces both with one ``custom`` set.

The tools:

- ``lockkeys lock --resolver pip-tools`` and ``lockkeys lock --resolver uv``, in a temporary
  project whose ``lockkeys.toml`` has one source ``pypi`` = https://pypi.org/simple/ and the
  default policy (verify hashes). The lock file is deleted before every run, so every run is a
  fresh lock (an existing lock would be used as constraints);
- ``pip-compile --generate-hashes`` and ``uv pip compile --generate-hashes`` on the same
  requirements file, with ``--index-url https://pypi.org/simple/`` and the user's configuration
  isolated (``PIP_CONFIG_FILE=/dev/null``, every ``PIP_*``/``UV_*`` variable removed,
  ``--no-config``).

Caches, alike for all four:

- cold: every run gets a fresh, empty cache folder (pip-compile: ``--cache-dir`` plus
  ``PIP_CACHE_DIR``; uv: ``--cache-dir``; lockkeys: ``LOCKKEYS_CACHE_DIR``, where it keeps its
  resolver caches and its index-page cache);
- warm: one cache folder per tool, filled by an untimed warm-up run, then reused. Warm,
  ``lockkeys lock`` reuses its resolution when every index page the resolver read is
  unchanged (lockkeys._internal.resolve.memo), as it does for a user re-locking unchanged inputs;
  ``lockkeys lock --resolver uv --re-resolve`` (uv runs every time, as after a changed
  requirement) is measured warm too, and printed for information.

lockkeys' modules are byte-compiled before anything is timed, as ``pip install`` does (an
editable install under ``PYTHONDONTWRITEBYTECODE=1`` would compile them on every run).

Targets (medians, warm): lockkeys pip-tools path <= 1.0x pip-compile; lockkeys uv path <= 1.5x
``uv pip compile``. The cold ratios are printed too. The exit status is 0 whatever the targets
say (2 if a command fails, 3 if the index cannot be reached).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

try:  # run as a script (benchmarks/ is on sys.path) or imported as benchmarks.<name>
    from bytecode import compile_lockkeys
except ImportError:
    from benchmarks.bytecode import compile_lockkeys

from lockkeys._internal.markers import running_environment

INDEX_URL = "https://pypi.org/simple/"
DEFAULT_PACKAGES = (
    "requests flask rich click attrs packaging pydantic httpx jinja2 markupsafe idna certifi "
    "urllib3 charset-normalizer typing-extensions"
)
#: A Django web application's direct dependencies (more than 40 pins transitively).
WEBAPP_PACKAGES = (
    "django djangorestframework django-cors-headers django-environ django-filter "
    "drf-spectacular celery redis psycopg2-binary gunicorn whitenoise sentry-sdk boto3 pillow "
    "requests pyjwt stripe markdown"
)
SETS = {"popular": DEFAULT_PACKAGES, "webapp": WEBAPP_PACKAGES}
TARGET_PIPTOOLS_RATIO = 1.0  # lockkeys --resolver pip-tools / pip-compile, warm, at most
TARGET_UV_RATIO = 1.5  # lockkeys --resolver uv / uv pip compile, warm, at most
COMMAND_TIMEOUT_S = 900.0

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(\S+)")
_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")


class BenchError(Exception):
    """A setup step or a measured command failed: the numbers would be meaningless."""


class Unreachable(Exception):
    """The public index cannot be reached from this machine."""


@dataclass
class Reporter:
    """Human-readable output: stdout, or stderr when stdout carries the JSON document."""

    stream: TextIO

    def line(self, text: str = "") -> None:
        print(text, file=self.stream, flush=True)


@dataclass
class Output:
    """What one tool produced: pins (normalized name -> version) and sha256 hashes."""

    pins: dict[str, str]
    hashes: set[str]


@dataclass
class ToolResult:
    """Wall times (seconds) of one tool, cold and warm, and what its last run produced."""

    name: str
    cold: list[float] = field(default_factory=list)
    warm: list[float] = field(default_factory=list)
    output: Output | None = None
    note: str = ""

    @property
    def cold_median(self) -> float | None:
        return statistics.median(self.cold) if self.cold else None

    @property
    def warm_median(self) -> float | None:
        return statistics.median(self.warm) if self.warm else None


@dataclass
class Target:
    """One target: ``value`` compared with ``limit`` (``at_most`` or at least)."""

    name: str
    value: float
    limit: float
    at_most: bool

    @property
    def passed(self) -> bool:
        return self.value <= self.limit if self.at_most else self.value >= self.limit

    def describe(self) -> str:
        sign = "<=" if self.at_most else ">="
        verdict = "PASS" if self.passed else "FAIL"
        return f"{verdict}  {self.name}: {self.value:.2f}x (target {sign} {self.limit:g}x)"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# -- environment -------------------------------------------------------------------------------


def clean_env() -> dict[str, str]:
    """The environment without the user's pip and uv settings."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("PIP_", "UV_"))}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    env["NO_COLOR"] = "1"
    return env


def beside_python(name: str) -> str | None:
    """A program installed beside this interpreter (not a shim on PATH), else on PATH."""
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    return found or shutil.which(name)


def commands() -> dict[str, list[str]]:
    """The commands of the four tools; BenchError if one is missing."""
    pip_compile = beside_python("pip-compile")
    uv = beside_python("uv")
    lockkeys = beside_python("lockkeys")
    if pip_compile is None:
        raise BenchError("pip-compile not found: pip install pip-tools")
    if uv is None:
        raise BenchError("uv not found: pip install uv")
    return {
        "pip-compile": [pip_compile],
        "uv": [uv],
        "lockkeys": [lockkeys] if lockkeys else [sys.executable, "-m", "lockkeys"],
    }


def version_of(cmd: Sequence[str]) -> str:
    proc = subprocess.run(
        [*cmd, "--version"], capture_output=True, text=True, check=False, env=clean_env()
    )
    if proc.returncode != 0:
        return "?"
    found = re.search(r"\d+(?:\.\d+)+\S*", proc.stdout or proc.stderr)
    return found.group(0) if found else "?"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def check_network(timeout: float = 15.0) -> None:
    """Raise Unreachable unless the index answers for one project page."""
    url = INDEX_URL + "pip/"
    request = urllib.request.Request(url, headers={"Accept": "text/html"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read(1024)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise Unreachable(f"{url}: {exc}") from exc


# -- running -----------------------------------------------------------------------------------


def run_timed(cmd: Sequence[str], what: str, *, cwd: Path, env: dict[str, str]) -> float:
    """Wall time of one whole process; BenchError (with its output) if it fails."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            list(cmd),
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{what} did not finish within {COMMAND_TIMEOUT_S:g} s") from exc
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip()[-2000:]
        raise BenchError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    return elapsed


def parse_requirements_txt(path: Path) -> Output:
    """Pins and hashes of a compiled requirements file (pip-compile or uv)."""
    pins: dict[str, str] = {}
    hashes: set[str] = set()
    for raw in path.read_text("utf-8").splitlines():
        line = raw.strip()
        match = _PIN.match(line)
        if match:
            pins[canonical(match.group(1))] = match.group(2)
        hashes.update(_HASH.findall(line))
    return Output(pins=pins, hashes=hashes)


def parse_pylock(path: Path) -> Output:
    """Pins and file hashes of a pylock.toml."""
    data = tomllib.loads(path.read_text("utf-8"))
    pins: dict[str, str] = {}
    hashes: set[str] = set()
    for package in data.get("packages", []):
        pins[canonical(package["name"])] = str(package["version"])
        files = list(package.get("wheels", []))
        if "sdist" in package:
            files.append(package["sdist"])
        for entry in files:
            sha = entry.get("hashes", {}).get("sha256")
            if sha:
                hashes.add(sha)
    return Output(pins=pins, hashes=hashes)


class Bench:
    """Runs the four tools in one scratch folder."""

    def __init__(self, root: Path, packages: Sequence[str], cmds: dict[str, list[str]]) -> None:
        self.root = root
        self.cmds = cmds
        self.env = clean_env()
        self.project = root / "project"
        self.project.mkdir(parents=True)
        (self.project / "requirements.in").write_text("\n".join(packages) + "\n", "utf-8")
        (self.project / "lockkeys.toml").write_text(
            'requirements = ["requirements.in"]\n'
            # Locks for this Python, patch level included, as pip-compile and `uv pip compile
            # --python` do (a uv lock is otherwise universal over requires-python: with
            # 3.11.*, redis pulls async-timeout in for 3.11.0-3.11.2).
            f'requires-python = "=={platform.python_version()}"\n'
            # ... and this platform: the one environment its peers resolve for.
            f"environments = [{json.dumps(running_environment())}]\n\n"
            "[[sources]]\n"
            'name = "pypi"\n'
            f'url = "{INDEX_URL}"\n',
            "utf-8",
        )
        self.outputs = root / "outputs"
        self.outputs.mkdir()
        self._caches = 0

    def fresh_cache(self, tool: str) -> Path:
        self._caches += 1
        path = self.root / "caches" / f"{tool}-{self._caches}"
        path.mkdir(parents=True)
        return path

    def pip_compile(self, cache: Path) -> tuple[float, Output]:
        out = self.outputs / "pip-compile.txt"
        out.unlink(missing_ok=True)
        cmd = [
            *self.cmds["pip-compile"],
            "--generate-hashes",
            "--no-config",
            "--strip-extras",
            "--allow-unsafe",
            "--resolver=backtracking",
            "--no-header",
            "--quiet",
            "--index-url",
            INDEX_URL,
            "--cache-dir",
            str(cache),
            "--output-file",
            str(out),
            "requirements.in",
        ]
        env = {**self.env, "PIP_CACHE_DIR": str(cache / "pip")}
        elapsed = run_timed(cmd, "pip-compile", cwd=self.project, env=env)
        return elapsed, parse_requirements_txt(out)

    def uv_compile(self, cache: Path) -> tuple[float, Output]:
        out = self.outputs / "uv.txt"
        out.unlink(missing_ok=True)
        cmd = [
            *self.cmds["uv"],
            "pip",
            "compile",
            "requirements.in",
            "--generate-hashes",
            "--no-config",
            "--no-header",
            "--quiet",
            "--index-url",
            INDEX_URL,
            "--cache-dir",
            str(cache),
            "--python",
            sys.executable,
            "--no-python-downloads",
            "--output-file",
            str(out),
        ]
        elapsed = run_timed(cmd, "uv pip compile", cwd=self.project, env=self.env)
        return elapsed, parse_requirements_txt(out)

    def lockkeys(
        self, resolver: str, cache: Path, extra: Sequence[str] = ()
    ) -> tuple[float, Output]:
        lock = self.project / "pylock.toml"
        lock.unlink(missing_ok=True)  # an existing lock would act as constraints
        cmd = [*self.cmds["lockkeys"], "-q", "lock", "--resolver", resolver, *extra]
        env = {**self.env, "LOCKKEYS_CACHE_DIR": str(cache)}
        elapsed = run_timed(cmd, f"lockkeys lock --resolver {resolver}", cwd=self.project, env=env)
        output = parse_pylock(lock)
        shutil.copyfile(lock, self.outputs / f"pylock-{resolver}.toml")
        return elapsed, output


TOOLS = ("pip-compile", "uv pip compile", "lockkeys pip-tools", "lockkeys uv")
#: Measured warm only, for information: the uv path when the resolver runs every time (a
#: changed requirement does that; here ``--re-resolve`` forces it).
RE_RESOLVE = "lockkeys uv --re-resolve"


def measure(bench: Bench, tool: str, cache: Path) -> tuple[float, Output]:
    if tool == "pip-compile":
        return bench.pip_compile(cache)
    if tool == "uv pip compile":
        return bench.uv_compile(cache)
    if tool == RE_RESOLVE:
        return bench.lockkeys("uv", cache, ["--re-resolve"])
    return bench.lockkeys(tool.split()[1], cache)


# -- the run -----------------------------------------------------------------------------------


def run_set(
    name: str, packages: Sequence[str], args: argparse.Namespace, root: Path, report: Reporter
) -> dict[str, ToolResult]:
    bench = Bench(root / name, packages, commands())
    results = {tool: ToolResult(tool) for tool in TOOLS}
    report.line(f"[{name}] {len(packages)} requirements: {' '.join(packages)}")
    # Cold: a fresh cache per run; the tools take turns so network drift hits all alike.
    for round_no in range(1, args.repeat + 1):
        for tool in TOOLS:
            t, out = measure(bench, tool, bench.fresh_cache(tool.replace(" ", "-")))
            results[tool].cold.append(t)
            results[tool].output = out
        report.line(
            f"  cold round {round_no}/{args.repeat}: "
            + ", ".join(f"{n} {r.cold[-1]:.2f} s" for n, r in results.items())
        )
    if not args.skip_warm:
        warm_tools = (*TOOLS, RE_RESOLVE)
        results[RE_RESOLVE] = ToolResult(RE_RESOLVE)
        caches = {tool: bench.fresh_cache(tool.replace(" ", "-")) for tool in warm_tools}
        for tool in warm_tools:  # untimed warm-up
            measure(bench, tool, caches[tool])
        for round_no in range(1, args.repeat + 1):
            for tool in warm_tools:
                t, output = measure(bench, tool, caches[tool])
                results[tool].warm.append(t)
                results[tool].output = output
            report.line(
                f"  warm round {round_no}/{args.repeat}: "
                + ", ".join(f"{n} {r.warm[-1]:.2f} s" for n, r in results.items())
            )
    return results


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def run(args: argparse.Namespace, report: Reporter) -> dict[str, Any]:
    if args.packages:
        sets = {"custom": args.packages.split()}
    else:
        sets = {name: SETS[name].split() for name in args.sets.split(",")}
    check_network()
    cmds = commands()
    versions = {
        "python": platform.python_version(),
        "lockkeys": version_of(cmds["lockkeys"]),
        "pip-tools": version_of(cmds["pip-compile"]),
        "uv": version_of(cmds["uv"]),
        "pip": version_of([sys.executable, "-m", "pip"]),
    }
    meta: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "versions": versions,
        "sets": {name: list(pkgs) for name, pkgs in sets.items()},
        "repeat": args.repeat,
        "index": INDEX_URL,
        "load_average_start": load_average(),
    }
    report.line(f"lock_bench {meta['date']}  {meta['cpu']} ({meta['cores']} cores)")
    report.line("  " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    report.line(f"  load average at start: {meta['load_average_start']}")

    report.line(f"  {compile_lockkeys()}")

    scratch = args.workdir or Path(tempfile.mkdtemp(prefix="lockkeys-lock-bench-"))
    scratch.mkdir(parents=True, exist_ok=True)
    root = scratch / f"run-{os.getpid()}"
    documents: dict[str, Any] = {}
    try:
        for name, packages in sets.items():
            results = run_set(name, packages, args, root, report)
            documents[name] = summarize(name, results, args.repeat, report)
    finally:
        if args.workdir is None:
            shutil.rmtree(scratch, ignore_errors=True)
    meta["load_average_end"] = load_average()
    report.line(f"load average at end: {meta['load_average_end']}")
    return {"meta": meta, "sets": documents}


def summarize(
    name: str, results: dict[str, ToolResult], repeat: int, report: Reporter
) -> dict[str, Any]:
    def fmt(value: float | None) -> str:
        return f"{value:8.2f} s" if value is not None else "       -  "

    report.line()
    report.line(f"[{name}] medians of {repeat} runs (wall time of the whole command):")
    report.line(f"  {'tool':<22} {'cold cache':>11} {'warm cache':>11}  pins  hashes")
    for tool, res in results.items():
        pins = len(res.output.pins) if res.output else 0
        hashes = len(res.output.hashes) if res.output else 0
        report.line(
            f"  {tool:<22} {fmt(res.cold_median):>11} {fmt(res.warm_median):>11}"
            f"  {pins:>4}  {hashes:>6}"
        )

    targets: list[Target] = []
    ratios: dict[str, dict[str, float]] = {}
    pairs = (
        ("lockkeys pip-tools", "pip-compile", TARGET_PIPTOOLS_RATIO),
        ("lockkeys uv", "uv pip compile", TARGET_UV_RATIO),
    )
    report.line()
    report.line(f"[{name}] ratios (lockkeys / peer, same cache state):")
    for ours, peer, limit in pairs:
        for label in ("cold", "warm"):
            mine = getattr(results[ours], f"{label}_median")
            theirs = getattr(results[peer], f"{label}_median")
            if mine is None or theirs is None:
                continue
            ratio = mine / theirs
            ratios.setdefault(f"{ours} / {peer}", {})[label] = round(ratio, 3)
            if label == "warm":
                targets.append(Target(f"{ours} / {peer} (warm)", ratio, limit, True))
            else:
                report.line(f"  info  {ours} / {peer} (cold): {ratio:.2f}x")
    extra = results.get(RE_RESOLVE)
    peer = results["uv pip compile"].warm_median
    if extra is not None and extra.warm_median is not None and peer:
        ratio = extra.warm_median / peer
        ratios.setdefault(f"{RE_RESOLVE} / uv pip compile", {})["warm"] = round(ratio, 3)
        report.line(f"  info  {RE_RESOLVE} / uv pip compile (warm): {ratio:.2f}x")
    for target in targets:
        report.line("  " + target.describe())

    report.line()
    report.line(f"[{name}] agreement with pip-compile's pins (and hashes):")
    agreement: dict[str, Any] = {}
    reference = results["pip-compile"].output
    assert reference is not None
    for tool in ("uv pip compile", "lockkeys pip-tools", "lockkeys uv", RE_RESOLVE):
        if tool not in results:
            continue
        out = results[tool].output
        assert out is not None
        missing = sorted(set(reference.pins) - set(out.pins))
        extra = sorted(set(out.pins) - set(reference.pins))
        differ = sorted(
            f"{n} {out.pins[n]} != {reference.pins[n]}"
            for n in set(out.pins) & set(reference.pins)
            if out.pins[n] != reference.pins[n]
        )
        same_pins = not (missing or extra or differ)
        same_hashes = out.hashes == reference.hashes
        agreement[tool] = {
            "same_pins": same_pins,
            "same_hashes": same_hashes,
            "missing": missing,
            "extra": extra,
            "different_versions": differ,
        }
        verdict = "PASS" if same_pins else "FAIL"
        report.line(
            f"  {verdict}  {tool}: pins {'equal' if same_pins else 'DIFFER'}, hashes "
            f"{'equal' if same_hashes else 'differ'}"
            + (f"; missing {missing}" if missing else "")
            + (f"; extra {extra}" if extra else "")
            + (f"; versions {differ}" if differ else "")
        )
    return {
        "results": {
            tool: {
                "cold_runs_s": res.cold,
                "warm_runs_s": res.warm,
                "cold_median_s": res.cold_median,
                "warm_median_s": res.warm_median,
                "pins": len(res.output.pins) if res.output else None,
                "hashes": len(res.output.hashes) if res.output else None,
            }
            for tool, res in results.items()
        },
        "ratios": ratios,
        "targets": [
            {
                "name": t.name,
                "value": round(t.value, 3),
                "limit": t.limit,
                "kind": "at most" if t.at_most else "at least",
                "passed": t.passed,
            }
            for t in targets
        ],
        "agreement_with_pip_compile": agreement,
        "pins": reference.pins,
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time lockkeys lock (pip-tools and uv) against pip-compile and uv.",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument(
        "--sets",
        default="popular,webapp",
        help=f"comma-separated requirement sets among {', '.join(SETS)}",
    )
    parser.add_argument(
        "--packages", default=None, help="space-separated requirements (replaces --sets)"
    )
    parser.add_argument("--workdir", type=Path, help="keep outputs and caches here")
    parser.add_argument("--skip-warm", action="store_true", help="measure cold caches only")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    for name in args.sets.split(","):
        if name not in SETS:
            parser.error(f"unknown set {name!r}; choose among {', '.join(SETS)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report = Reporter(sys.stderr if args.json else sys.stdout)
    try:
        result = run(args, report)
    except Unreachable as exc:
        print(
            f"lock_bench: the public index {INDEX_URL} cannot be reached ({exc}); this "
            "benchmark needs the network. Nothing was measured.",
            file=sys.stderr,
        )
        return 3
    except BenchError as exc:
        print(f"lock_bench: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
