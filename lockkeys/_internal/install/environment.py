"""What the target interpreter is: its wheel tags and marker environment.

For `--python PATH` the facts come from that interpreter, not from the one running lockkeys:
it runs a short script with only the `packaging` package made importable (isolated mode, a
private folder holding a link to it), so the target needs nothing installed. It runs without
the ``site`` module (``-S``): a ``.pth`` file in the target's site-packages is code that
``site`` would run, and auditing an environment must never run what it audits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import packaging
from packaging.markers import Marker
from packaging.tags import Tag, parse_tag

from lockkeys.errors import UsageError

_PROBE = r"""
import os, sys
# -S: site.main() does not run, so no .pth file of the target runs here. Its site-packages are
# found as site.main() would: a pyvenv.cfg beside the interpreter makes its folder the prefix,
# and the base's site-packages follow when the venv includes system site-packages.
exe_dir = os.path.dirname(os.path.abspath(sys.executable))
venv_prefix = os.path.dirname(exe_dir)
confs = [c for c in (os.path.join(exe_dir, "pyvenv.cfg"), os.path.join(venv_prefix, "pyvenv.cfg"))
         if os.path.isfile(c)]
prefixes = [sys.prefix, sys.exec_prefix]
import site  # only for getsitepackages(); sysconfig reads sys.prefix when first imported
if confs:
    system = "true"
    with open(confs[0], encoding="utf-8") as handle:
        for line in handle:
            key, eq, value = line.partition("=")
            if eq and key.strip().lower() == "include-system-site-packages":
                system = value.strip().lower()
    sys.prefix = sys.exec_prefix = venv_prefix
    prefixes = [venv_prefix] + (prefixes if system == "true" else [])
for folder in site.getsitepackages(prefixes):
    if os.path.isdir(folder) and folder not in sys.path:
        sys.path.append(folder)
import importlib.metadata, json, sysconfig
from packaging import markers, tags
dists = []
for d in importlib.metadata.distributions():
    where = getattr(d, "_path", None)
    parts = where.name[:-10].split("-") if where and where.name.endswith(".dist-info") else []
    if len(parts) == 2 and all(parts):  # name-version.dist-info: no METADATA to parse
        dists.append((parts[0], parts[1], str(where)))
    else:
        dists.append((d.metadata["Name"] or "", d.version, str(where) if where else ""))
print(json.dumps({
    "tags": [str(t) for t in tags.sys_tags()],
    "markers": markers.default_environment(),
    "executable": sys.executable,
    "prefix": sys.prefix,
    "base_prefix": getattr(sys, "base_prefix", sys.prefix),
    "paths": sysconfig.get_paths(),
    "dists": dists,
}))
"""


@dataclass(frozen=True)
class InstalledDist:
    """One distribution the target can import: its metadata folder (``*.dist-info``)."""

    name: str  # normalized
    version: str
    path: Path | None  # the .dist-info (or .egg-info) folder, when importlib says


@dataclass(frozen=True)
class TargetEnvironment:
    """What the probe found out about the target interpreter: tags, marker values, installed
    distributions and install paths."""

    python: str
    tags: tuple[Tag, ...]  # most preferred first
    markers: dict[str, str]
    installed: dict[str, str] = field(default_factory=dict)  # name -> version, when probed
    prefix: str = ""
    paths: dict[str, str] = field(default_factory=dict)  # sysconfig scheme: purelib, scripts...
    dists: tuple[InstalledDist, ...] = ()  # first on sys.path wins, as importlib finds them
    base_prefix: str = ""

    @property
    def site_dirs(self) -> tuple[Path, ...]:
        """The environment's own site-packages folder(s): what install and sync may change."""
        found: list[Path] = []
        for key in ("purelib", "platlib"):
            if key in self.paths and Path(self.paths[key]) not in found:
                found.append(Path(self.paths[key]))
        return tuple(found)

    def dist(self, name: str) -> InstalledDist | None:
        """The distribution importlib finds first under the normalized ``name``."""
        for dist in self.dists:
            if dist.name == name:
                return dist
        return None

    def owns(self, dist: InstalledDist) -> bool:
        """Whether a distribution lives in this environment (not a base or system site)."""
        return dist.path is not None and any(dist.path.parent == site for site in self.site_dirs)

    def tag_rank(self, filename_tags: frozenset[Tag]) -> int | None:
        """The rank of the best supported tag among a wheel's tags (lower is better)."""
        ranks = self.__dict__.get("_ranks")
        if ranks is None:
            ranks = {}
            for rank, tag in enumerate(self.tags):
                ranks.setdefault(tag, rank)
            object.__setattr__(self, "_ranks", ranks)
        found = [ranks[t] for t in filename_tags if t in ranks]
        return min(found) if found else None

    def marker_applies(self, marker: str | None, extra: str = "", *, lock: bool = False) -> bool:
        """Evaluate a marker for the target: a wheel's Requires-Dist marker (no extras
        requested), or with ``lock`` a PEP 751 package marker (no extras or groups chosen).
        A marker that cannot be evaluated raises ValueError for the caller to report."""
        if not marker:
            return True
        env: dict[str, str | frozenset[str]] = dict(self.markers)
        try:
            if lock:
                env["extras"] = frozenset()
                env["dependency_groups"] = frozenset()
                return Marker(marker).evaluate(env, context="lock_file")
            env["extra"] = extra
            return Marker(marker).evaluate(env)
        except Exception as exc:  # packaging raises several types for unusable markers
            raise ValueError(f"cannot evaluate marker {marker!r}: {exc}") from None


_INSTALLED = r"""
import importlib.metadata as m, json
print(json.dumps(sorted({(d.metadata["Name"] or "", d.version) for d in m.distributions()})))
"""


def installed_distributions(python: str | None = None) -> dict[str, str]:
    """Normalized name -> version of what is installed in the target environment."""
    from packaging.utils import canonicalize_name

    executable = python or sys.executable
    proc = subprocess.run(
        [executable, "-I", "-c", _INSTALLED],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if proc.returncode != 0:
        return {}
    return {str(canonicalize_name(n)): v for n, v in json.loads(proc.stdout) if n}


def probe(python: str | None = None) -> TargetEnvironment:
    """Ask the target interpreter for its tags and markers (the current one by default)."""
    executable = python or sys.executable
    if python is not None and not (os.path.isfile(python) and os.access(python, os.X_OK)):
        raise UsageError(
            "--python does not name an executable interpreter",
            file=python,
            fix="pass the path of the target environment's python, e.g. .venv/bin/python",
        )
    with tempfile.TemporaryDirectory(prefix="lockkeys-probe-") as tmp:
        os.symlink(Path(packaging.__file__).parent, Path(tmp) / "packaging")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env["PYTHONPATH"] = tmp
        try:
            proc = subprocess.run(
                [
                    executable,
                    "-I",
                    "-S",
                    "-c",
                    f"import sys; sys.path.insert(0, {tmp!r})\n" + _PROBE,
                ],
                capture_output=True,
                text=True,
                timeout=60,
                env=env,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise UsageError(f"cannot run the target interpreter: {exc}", file=executable) from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise UsageError(
            "the target interpreter could not report its environment",
            file=executable,
            found=last,
            fix="the target must be Python 3.8 or newer",
        )
    try:
        data = json.loads(proc.stdout)
        tags: list[Tag] = []
        for text in data["tags"]:
            tags.extend(parse_tag(text))
    except (ValueError, KeyError, TypeError):
        raise UsageError(
            "the target interpreter did not report its environment",
            file=executable,
            found=(proc.stdout.strip().splitlines() or ["no output"])[0][:80],
            fix="pass the path of the target environment's python, e.g. .venv/bin/python",
        ) from None
    from packaging.utils import canonicalize_name

    dists: list[InstalledDist] = []
    seen: set[str] = set()
    # (an older probe answer may give only "installed": name and version pairs)
    rows = data.get("dists") or [(n, v, "") for n, v in data.get("installed", [])]
    for raw_name, version, where in rows:
        if not raw_name:
            continue
        name = str(canonicalize_name(raw_name))
        dists.append(InstalledDist(name, version, Path(where) if where else None))
    # importlib lists sys.path in order; the first copy of a name is the one imported
    unique: list[InstalledDist] = []
    for dist in dists:
        if dist.name not in seen:
            seen.add(dist.name)
            unique.append(dist)
    installed = {d.name: d.version for d in unique}
    return TargetEnvironment(
        python=data["executable"],
        tags=tuple(tags),
        markers=data["markers"],
        installed=installed,
        prefix=data["prefix"],
        paths=dict(data.get("paths", {})),
        dists=tuple(unique),
        base_prefix=data.get("base_prefix", data["prefix"]),
    )
