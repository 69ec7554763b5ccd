#!/usr/bin/env python3
"""Benchmark `lockkeys install` from a wheelhouse against plain pip and uv hash-checked installs.

Offline once the wheelhouse exists. This is a script, not a test: nothing here belongs in the
test suite.

    python benchmarks/install_bench.py [--wheel-cache DIR | --synthetic] [--signatures]
                                       [--repeat 3] [--workdir DIR] [--json]

Wheelhouse:

- default: real pure-Python wheels of a fixed list of small packages (``WHEELS`` below, pinned
  versions, closed under their dependencies on CPython 3.11), fetched ONCE with
  ``pip download --only-binary=:all: --no-deps`` from https://pypi.org/simple/ into
  ``--wheel-cache`` (default ``/tmp/lockkeys-bench-cache/wheels``) and reused from there;
- ``--synthetic``: 45 wheels made by ``fixtures.wheelmaker.build_wheel``, each holding
  50-500 KiB of generated Python modules (no network at all).

Setup (not timed): the wheels are copied into a scratch project whose ``lockkeys.toml`` has one
folder source pointing at them, ``requirements`` = all of them and the default policy (verify
hashes); ``lockkeys lock`` runs once. With ``--signatures`` a second project is measured too:
a key is made with ``lockkeys key generate``, every wheel is signed with ``lockkeys sign``
(``FILE.asc`` beside it) and the default policy is ``verify = "signatures"`` by that signer.

Measured (wall time of the whole command, start-up included; fresh installs go into a FRESH
``python -m venv --without-pip`` whose creation is not timed; median of ``--repeat`` runs):

(a) fresh: ``lockkeys install --python VENV/bin/python`` (default, in-process installer)
    against ``python -m pip --python VENV/bin/python install --no-index --no-deps
    --require-hashes -r REQS``, target <= 1.0x;
(b) fresh with uv: ``lockkeys install --installer uv ...`` against ``uv pip sync --python
    VENV/bin/python --no-index --require-hashes REQS``, target <= 1.3x;
(c) no-op redeploy: ``lockkeys sync --python VENV/bin/python`` into an environment that already
    holds the lock (synced once, untimed; the verified-file cache warm), against ``uv pip sync``
    of the same finding nothing to do: target <= 0.5 s, and
(d) that no-op redeploy <= 10% of the fresh pip install of (a);
(e) for information: ``lockkeys verify`` and ``lockkeys --version`` (start-up).

lockkeys reads the wheels from the project's folder source (as a deploy would, not
``--wheelhouse``), with its verified-file cache in the scratch folder.

REQS is ``lockkeys export --format requirements`` with each ``name==version`` replaced by the
path of the wheel in the wheelhouse (``DIR/file.whl --hash=sha256:...``). Every command runs with
the user's pip/uv configuration isolated (``PIP_CONFIG_FILE=/dev/null``, no ``PIP_*``/``UV_*``
variables) and with ``XDG_CACHE_HOME`` pointing at one scratch folder, so uv's cache is private
to the benchmark and the same for both sides (warm after the first, untimed, run).

Targets are reported PASS/FAIL; the exit status is 0 whatever they say (2 if a command fails).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

try:  # run as a script (benchmarks/ is on sys.path) or imported as benchmarks.<name>
    from bytecode import compile_lockkeys
except ImportError:
    from benchmarks.bytecode import compile_lockkeys

INDEX_URL = "https://pypi.org/simple/"
DEFAULT_WHEEL_CACHE = Path(tempfile.gettempdir()) / "lockkeys-bench-cache" / "wheels"
TARGET_PIP_RATIO = 1.0  # lockkeys install / pip install, at most
TARGET_UV_RATIO = 1.3  # lockkeys install --installer uv / uv pip sync, at most
TARGET_NOOP_S = 0.5  # lockkeys sync with nothing to do, seconds, at most
TARGET_NOOP_SHARE = 0.10  # ... and at most this share of the fresh pip install
COMMAND_TIMEOUT_S = 600.0
SYNTHETIC_COUNT = 45
SYNTHETIC_MIN_BYTES = 50 * 1024
SYNTHETIC_MAX_BYTES = 500 * 1024

# Small pure-Python wheels, pinned, closed under their dependencies on CPython 3.11 / Linux.
WHEELS = (
    "annotated-types==0.7.0",
    "anyio==4.6.2.post1",
    "attrs==24.2.0",
    "beautifulsoup4==4.12.3",
    "blinker==1.8.2",
    "cachetools==5.5.0",
    "certifi==2024.8.30",
    "click==8.1.7",
    "colorama==0.4.6",
    "decorator==5.1.1",
    "distlib==0.3.9",
    "docutils==0.21.2",
    "filelock==3.16.1",
    "h11==0.14.0",
    "httpcore==1.0.6",
    "httpx==0.27.2",
    "idna==3.10",
    "importlib-metadata==8.5.0",
    "iniconfig==2.0.0",
    "itsdangerous==2.2.0",
    "markdown-it-py==3.0.0",
    "mdurl==0.1.2",
    "more-itertools==10.5.0",
    "packaging==24.2",
    "platformdirs==4.3.6",
    "pluggy==1.5.0",
    "pyasn1==0.6.1",
    "pygments==2.18.0",
    "pyparsing==3.2.0",
    "pytest==8.3.3",
    "python-dateutil==2.9.0.post0",
    "pytz==2024.2",
    "rich==13.9.4",
    "rsa==4.9",
    "six==1.17.0",
    "sniffio==1.3.1",
    "sortedcontainers==2.4.0",
    "soupsieve==2.6",
    "tomli==2.0.1",
    "tomlkit==0.13.2",
    "typing-extensions==4.12.2",
    "tzdata==2024.2",
    "urllib3==2.2.3",
    "wcwidth==0.2.13",
    "zipp==3.21.0",
)

_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")
_ENTRY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


class BenchError(Exception):
    """A setup step or a measured command failed: the numbers would be meaningless."""


@dataclass
class Reporter:
    """Human-readable output: stdout, or stderr when stdout carries the JSON document."""

    stream: TextIO

    def line(self, text: str = "") -> None:
        print(text, file=self.stream, flush=True)


@dataclass
class Timing:
    """Wall times in seconds of the measured runs."""

    runs: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)


@dataclass
class Target:
    name: str
    value: float
    limit: float
    unit: str = "x"

    @property
    def passed(self) -> bool:
        return self.value <= self.limit

    def describe(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        if self.unit == "%":
            shown, limit = f"{self.value * 100:.1f}%", f"{self.limit * 100:g}%"
        else:
            shown, limit = f"{self.value:.2f}{self.unit}", f"{self.limit:g}{self.unit}"
        return f"{verdict}  {self.name}: {shown} (target <= {limit})"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# -- environment -------------------------------------------------------------------------------


def clean_env(cache_home: Path | None = None) -> dict[str, str]:
    """The environment without the user's pip and uv settings; uv's cache under cache_home."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("PIP_", "UV_"))}
    env.pop("VIRTUAL_ENV", None)
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    env["NO_COLOR"] = "1"
    env.pop("LOCKKEYS_CACHE_DIR", None)
    if cache_home is not None:
        env["XDG_CACHE_HOME"] = str(cache_home)
    return env


def beside_python(name: str) -> str | None:
    """A program installed beside this interpreter (not a shim on PATH), else on PATH."""
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    return found or shutil.which(name)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def run(
    cmd: Sequence[str], what: str, *, cwd: Path | None = None, env: dict[str, str]
) -> tuple[float, str]:
    """Wall time and stdout of one whole process; BenchError (with its output) if it fails."""
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
        tail = (proc.stdout + proc.stderr).strip()[-2500:]
        raise BenchError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    return elapsed, proc.stdout


def version_of(cmd: Sequence[str]) -> str:
    proc = subprocess.run(
        [*cmd, "--version"], capture_output=True, text=True, check=False, env=clean_env()
    )
    found = re.search(r"\d+(?:\.\d+)+\S*", proc.stdout or proc.stderr)
    return found.group(0) if proc.returncode == 0 and found else "?"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# -- wheelhouses -------------------------------------------------------------------------------


def wheel_key(filename: str) -> tuple[str, str] | None:
    """(normalized name, version) of a wheel file name."""
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    try:
        name, version, _, _ = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return None
    return str(name), str(version)


def real_wheels(cache: Path, report: Reporter) -> tuple[list[Path], list[str]]:
    """The WHEELS from ``cache``, downloaded into it first where missing."""
    from packaging.version import Version

    cache.mkdir(parents=True, exist_ok=True)
    wanted = {canonical(r.split("==")[0]): str(Version(r.split("==")[1])) for r in WHEELS}

    def present() -> dict[str, Path]:
        found: dict[str, Path] = {}
        for path in sorted(cache.glob("*.whl")):
            key = wheel_key(path.name)
            if key is not None and wanted.get(key[0]) == key[1]:
                found[key[0]] = path
        return found

    have = present()
    missing = [r for r in WHEELS if canonical(r.split("==")[0]) not in have]
    if missing:
        report.line(f"downloading {len(missing)} wheels into {cache} (once) ...")
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--only-binary=:all:",
            "--no-deps",
            "--index-url",
            INDEX_URL,
            "--dest",
            str(cache),
            *missing,
        ]
        try:
            run(cmd, "pip download", env=clean_env())
        except BenchError as exc:
            raise BenchError(
                f"{exc}\nthe wheel cache {cache} is incomplete and the download failed; "
                "run once with network access, or use --synthetic"
            ) from exc
        have = present()
    still = sorted(set(wanted) - set(have))
    if still:
        raise BenchError(f"no matching wheel downloaded for: {', '.join(still)}")
    return [have[name] for name in sorted(have)], list(WHEELS)


def synthetic_module(rng: random.Random, size: int, tag: str) -> bytes:
    """About ``size`` bytes of valid, varied Python source."""
    parts: list[str] = [f'"""Generated module {tag} for the install benchmark."""\n\n']
    total = len(parts[0])
    index = 0
    while total < size:
        a, b = rng.randrange(1, 10_000), rng.randrange(1, 10_000)
        chunk = (
            f"def f_{index}(x: int, y: int = {a}) -> int:\n"
            f'    """Return a value derived from x and {b}."""\n'
            f"    total = x * {a} + y - {b}\n"
            f"    for i in range({a % 7 + 1}):\n"
            f"        total ^= (i + {b}) << {index % 13}\n"
            f"    return total\n\n\n"
            f"CONSTANT_{index} = {{'name': 'c{index}', 'values': [{a}, {b}, {a ^ b}]}}\n\n\n"
        )
        parts.append(chunk)
        total += len(chunk)
        index += 1
    return "".join(parts).encode("utf-8")


def synthetic_wheels(dest: Path, report: Reporter) -> tuple[list[Path], list[str]]:
    """SYNTHETIC_COUNT wheels of 50-500 KiB of modules each, made with fixtures.wheelmaker."""
    root = Path(__file__).resolve().parent.parent
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from fixtures.wheelmaker import build_wheel

    rng = random.Random(20261121)
    paths: list[Path] = []
    requirements: list[str] = []
    for number in range(SYNTHETIC_COUNT):
        name = f"benchpkg{number:02d}"
        target = rng.randrange(SYNTHETIC_MIN_BYTES, SYNTHETIC_MAX_BYTES + 1)
        modules = max(1, target // (64 * 1024))
        files = {
            f"{name}/mod_{m}.py": synthetic_module(rng, target // modules, f"{name}.{m}")
            for m in range(modules)
        }
        files[f"{name}/__init__.py"] = b'__version__ = "1.0"\n'
        paths.append(build_wheel(dest, name, "1.0", files=files))
        requirements.append(f"{name}==1.0")
    size = sum(p.stat().st_size for p in paths)
    report.line(f"built {len(paths)} synthetic wheels ({size / 1024 / 1024:.1f} MiB) in {dest}")
    return paths, requirements


# -- projects ----------------------------------------------------------------------------------


@dataclass
class Project:
    """A lockkeys project over one wheelhouse, locked, with the matching REQS file."""

    name: str
    folder: Path
    wheelhouse: Path
    reqs: Path
    packages: int


class Bench:
    def __init__(self, root: Path, wheels: Sequence[Path], requirements: Sequence[str]) -> None:
        self.root = root
        self.wheels = list(wheels)
        self.requirements = list(requirements)
        self.cache_home = root / "xdg-cache"
        self.cache_home.mkdir(parents=True)
        self.env = clean_env(self.cache_home)
        lockkeys = beside_python("lockkeys")
        self.lockkeys = [lockkeys] if lockkeys else [sys.executable, "-m", "lockkeys"]
        uv = beside_python("uv")
        if uv is None:
            raise BenchError("uv not found: pip install uv")
        self.uv = [uv]
        self._venvs = 0

    def project(self, name: str, *, signatures: bool) -> Project:
        folder = self.root / name
        wheelhouse = folder / "wheelhouse"
        wheelhouse.mkdir(parents=True)
        for wheel in self.wheels:
            shutil.copyfile(wheel, wheelhouse / wheel.name)
        (folder / "requirements.in").write_text("\n".join(self.requirements) + "\n", "utf-8")
        config = [
            'requirements = ["requirements.in"]',
            "",
            "[[sources]]",
            'name = "wheelhouse"',
            'path = "wheelhouse"',
        ]
        if signatures:
            keys = folder / "keys"
            run(
                [
                    *self.lockkeys,
                    "key",
                    "generate",
                    "bench",
                    "--out-dir",
                    str(keys),
                    "--uid",
                    "Bench Signer <bench@example.invalid>",
                ],
                "lockkeys key generate",
                cwd=folder,
                env=self.env,
            )
            files = [str(p) for p in sorted(wheelhouse.glob("*.whl"))]
            run(
                [*self.lockkeys, "sign", *files, "--key", str(keys / "bench.secret.asc")],
                "lockkeys sign",
                cwd=folder,
                env=self.env,
            )
            config += [
                "",
                "[signers]",
                'bench = "keys/bench.asc"',
                "",
                "[default]",
                'verify = "signatures"',
                'signers = ["bench"]',
                "threshold = 1",
            ]
        (folder / "lockkeys.toml").write_text("\n".join(config) + "\n", "utf-8")
        run([*self.lockkeys, "-q", "lock"], "lockkeys lock", cwd=folder, env=self.env)
        _, exported = run(
            [*self.lockkeys, "export", "--format", "requirements"],
            "lockkeys export",
            cwd=folder,
            env=self.env,
        )
        reqs, count = self.requirements_with_paths(exported, wheelhouse)
        path = folder / "reqs-with-paths.txt"
        path.write_text(reqs, "utf-8")
        return Project(name, folder, wheelhouse, path, count)

    @staticmethod
    def requirements_with_paths(exported: str, wheelhouse: Path) -> tuple[str, int]:
        """The exported requirements with ``name==version`` replaced by the wheel's path."""
        by_hash = {sha256_of(p): p for p in wheelhouse.glob("*.whl")}
        lines: list[str] = []
        count = 0
        for entry in exported.replace("\\\n", " ").splitlines():
            match = _ENTRY.match(entry.strip())
            if not match:
                continue
            paths = {by_hash[h] for h in _HASH.findall(entry) if h in by_hash}
            if len(paths) != 1:
                raise BenchError(f"cannot map {match.group(0)} to one wheel in {wheelhouse}")
            path = paths.pop()
            lines.append(f"{path} --hash=sha256:{sha256_of(path)}")
            count += 1
        return "\n".join(lines) + "\n", count

    def venv(self) -> Path:
        """A fresh empty virtual environment (not timed); its python."""
        self._venvs += 1
        folder = self.root / "venvs" / f"v{self._venvs}"
        run(
            [sys.executable, "-m", "venv", "--without-pip", str(folder)],
            "python -m venv",
            env=self.env,
        )
        return folder / "bin" / "python"

    def measure(self, kind: str, project: Project, python: Path) -> float:
        lk = [*self.lockkeys, "-q"]
        target = ["--python", str(python)]
        uv_sync = [
            *self.uv,
            "pip",
            "sync",
            "--python",
            str(python),
            "--no-config",
            "--no-index",
            "--require-hashes",
            "--quiet",
            str(project.reqs),
        ]
        commands: dict[str, list[str]] = {
            "lockkeys install": [*lk, "install", *target],
            "pip install": [
                sys.executable,
                "-m",
                "pip",
                "--python",
                str(python),
                "install",
                "--no-index",
                "--no-deps",
                "--require-hashes",
                "--quiet",
                "-r",
                str(project.reqs),
            ],
            "lockkeys install --installer uv": [*lk, "install", "--installer", "uv", *target],
            "uv pip sync": uv_sync,
            "lockkeys sync (no-op)": [*lk, "sync", *target],
            "uv pip sync (no-op)": uv_sync,
            "lockkeys verify": [*lk, "verify", *target],
            "lockkeys --version": [*self.lockkeys, "--version"],
        }
        elapsed, _ = run(commands[kind], kind, cwd=project.folder, env=self.env)
        return elapsed


KINDS = (
    "lockkeys install",
    "pip install",
    "lockkeys install --installer uv",
    "uv pip sync",
    "lockkeys sync (no-op)",
    "uv pip sync (no-op)",
    "lockkeys verify",
    "lockkeys --version",
)
NEEDS_VENV = frozenset(KINDS[:4])  # fresh installs: a new empty venv each time
NOOP = frozenset(KINDS[4:6])  # a venv that already holds the lock


def installed(python: Path) -> list[tuple[str, str]]:
    code = (
        "import importlib.metadata as m, json; "
        "print(json.dumps(sorted((d.metadata['Name'].lower(), d.version) "
        "for d in m.distributions())))"
    )
    proc = subprocess.run(
        [str(python), "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=clean_env(),
        cwd=python.parent,  # not a folder holding some *.egg-info
    )
    return [(str(n), str(v)) for n, v in json.loads(proc.stdout)]


def bench_project(
    bench: Bench, project: Project, repeat: int, report: Reporter
) -> tuple[dict[str, Timing], bool]:
    """Time every kind on ``project``; also check both installers install the same set."""
    timings = {kind: Timing() for kind in KINDS}
    # Untimed warm-up: page cache, uv's and lockkeys' caches, compiled lockkeys bytecode; the
    # no-op venvs are synced once here; and a sanity check of what each side installed.
    sets: dict[str, list[tuple[str, str]]] = {}
    synced: dict[str, Path] = {}
    for kind in KINDS:
        python = bench.venv() if kind in NEEDS_VENV | NOOP else Path(sys.executable)
        bench.measure(kind, project, python)
        if kind in NOOP:
            synced[kind] = python
        if kind in NEEDS_VENV | NOOP:
            sets[kind] = installed(python)
    same = all(s == sets["pip install"] for s in sets.values())
    if not same or len(sets["pip install"]) != project.packages:
        report.line(f"  WARNING: installed sets differ: { {k: len(v) for k, v in sets.items()} }")
    for round_no in range(1, repeat + 1):
        order = KINDS if round_no % 2 else tuple(reversed(KINDS))
        for kind in order:
            fresh = kind in NEEDS_VENV
            python = bench.venv() if fresh else synced.get(kind, Path(sys.executable))
            timings[kind].runs.append(bench.measure(kind, project, python))
        report.line(
            f"  round {round_no}/{repeat}: "
            + ", ".join(f"{k} {timings[k].runs[-1]:.2f} s" for k in KINDS)
        )
    return timings, same


def run_bench(args: argparse.Namespace, report: Reporter) -> dict[str, Any]:
    scratch = args.workdir or Path(tempfile.mkdtemp(prefix="lockkeys-install-bench-"))
    scratch.mkdir(parents=True, exist_ok=True)
    root = scratch / f"run-{os.getpid()}"
    root.mkdir()
    try:
        if args.synthetic:
            wheels, requirements = synthetic_wheels(root / "synthetic-wheels", report)
            source = "synthetic (fixtures.wheelmaker)"
        else:
            wheels, requirements = real_wheels(args.wheel_cache, report)
            source = f"real PyPI wheels from {args.wheel_cache}"
        total = sum(p.stat().st_size for p in wheels)
        bench = Bench(root, wheels, requirements)
        meta = {
            "date": dt.date.today().isoformat(),
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "platform": platform.platform(),
            "versions": {
                "python": platform.python_version(),
                "lockkeys": version_of(bench.lockkeys),
                "pip": version_of([sys.executable, "-m", "pip"]),
                "uv": version_of(bench.uv),
            },
            "wheels": len(wheels),
            "wheel_bytes": total,
            "source": source,
            "repeat": args.repeat,
        }
        report.line(f"install_bench {meta['date']}  {meta['cpu']} ({meta['cores']} cores)")
        report.line("  " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()))
        report.line(f"  {len(wheels)} wheels, {total / 1024 / 1024:.1f} MiB: {source}")
        report.line(f"  {compile_lockkeys()}")
        variants = [("hashes", False)] + ([("signatures", True)] if args.signatures else [])
        out: dict[str, Any] = {"meta": meta, "variants": {}}
        for name, signed in variants:
            report.line(f"setup: project verify={name} (lock once, not timed) ...")
            project = bench.project(f"project-{name}", signatures=signed)
            timings, same = bench_project(bench, project, args.repeat, report)
            out["variants"][name] = summarize(name, project, timings, same, report)
        return out
    finally:
        if args.workdir is None:
            shutil.rmtree(scratch, ignore_errors=True)


def summarize(
    name: str, project: Project, timings: dict[str, Timing], same: bool, report: Reporter
) -> dict[str, Any]:
    med = {kind: t.median for kind, t in timings.items()}
    report.line()
    report.line(f"verify = {name}: {project.packages} packages, medians (whole command):")
    for kind in KINDS:
        report.line(f"  {kind:<26} {med[kind]:7.3f} s")
    targets = [
        Target(
            f"[{name}] (a) fresh: lockkeys install / pip install",
            med["lockkeys install"] / med["pip install"],
            TARGET_PIP_RATIO,
        ),
        Target(
            f"[{name}] (b) fresh: lockkeys install --installer uv / uv pip sync",
            med["lockkeys install --installer uv"] / med["uv pip sync"],
            TARGET_UV_RATIO,
        ),
        Target(
            f"[{name}] (c) no-op redeploy: lockkeys sync",
            med["lockkeys sync (no-op)"],
            TARGET_NOOP_S,
            unit=" s",
        ),
        Target(
            f"[{name}] (d) no-op redeploy / fresh pip install",
            med["lockkeys sync (no-op)"] / med["pip install"],
            TARGET_NOOP_SHARE,
            unit="%",
        ),
    ]
    overhead_pip = med["lockkeys install"] - med["pip install"]
    overhead_uv = med["lockkeys install --installer uv"] - med["uv pip sync"]
    report.line(
        f"  lockkeys minus the peer: fresh {overhead_pip:+.3f} s, with uv {overhead_uv:+.3f} s; "
        f"no-op: lockkeys sync {med['lockkeys sync (no-op)']:.3f} s vs uv pip sync "
        f"{med['uv pip sync (no-op)']:.3f} s; lockkeys verify alone "
        f"{med['lockkeys verify']:.3f} s, of which start-up (lockkeys --version) "
        f"{med['lockkeys --version']:.3f} s"
    )
    report.line(f"  installed sets equal: {'yes' if same else 'NO'}")
    for target in targets:
        report.line("  " + target.describe())
    return {
        "packages": project.packages,
        "runs_s": {kind: t.runs for kind, t in timings.items()},
        "median_s": med,
        "overhead_s": {"pip": overhead_pip, "uv": overhead_uv},
        "installed_sets_equal": same,
        "targets": [
            {"name": t.name, "value": round(t.value, 3), "limit": t.limit, "passed": t.passed}
            for t in targets
        ],
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time lockkeys install against pip and uv hash-checked installs.",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument(
        "--wheel-cache",
        type=Path,
        default=DEFAULT_WHEEL_CACHE,
        help=f"where the real wheels are downloaded once (default {DEFAULT_WHEEL_CACHE})",
    )
    parser.add_argument(
        "--synthetic", action="store_true", help="use generated wheels (no network at all)"
    )
    parser.add_argument(
        "--signatures",
        action="store_true",
        help='also measure a project whose policy is verify = "signatures"',
    )
    parser.add_argument("--workdir", type=Path, help="keep the projects and venvs here")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report = Reporter(sys.stderr if args.json else sys.stdout)
    try:
        result = run_bench(args, report)
    except BenchError as exc:
        print(f"install_bench: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
