"""A universal lock pins what uv itself pins (needs the public index: `pytest -m network`).

The package set is the one `benchmarks/lock_bench.py` locks. `lockkeys lock --resolver uv`
must give the same names, versions and markers as `uv pip compile --universal` for the same
requirements and the same lowest Python (lockkeys' default requires-python: the locking
Python's minor version and up), including several versions of one package where uv forks.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from benchmarks.lock_bench import DEFAULT_PACKAGES, INDEX_URL
from lockkeys._internal.markers import running_python

pytestmark = pytest.mark.network


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    return env | {"UV_NO_CONFIG": "1", "UV_CACHE_DIR": str(tmp / "uv-cache")}


def _normal(marker: str | None) -> str | None:
    return str(Marker(marker)) if marker else None


@pytest.mark.parametrize(
    "floor", [None, "3.10", "3.9"], ids=["default-floor", "from-3.10", "from-3.9-with-forks"]
)
def test_universal_pins_equal_uv_pip_compile_universal(tmp_path: Path, floor: str | None) -> None:
    (tmp_path / "requirements.in").write_text("\n".join(DEFAULT_PACKAGES.split()) + "\n")
    (tmp_path / "lockkeys.toml").write_text(
        'requirements = ["requirements.in"]\nresolver = "uv"\n'
        + (f'requires-python = ">={floor}"\n' if floor else "")
        + f'\n[[sources]]\nname = "pypi"\nurl = "{INDEX_URL}"\n'
    )
    locked = subprocess.run(
        [sys.executable, "-m", "lockkeys", "lock"],
        cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert locked.returncode == 0, locked.stderr
    doc = tomllib.loads((tmp_path / "pylock.toml").read_text())
    ours = {(p["name"], p["version"], _normal(p.get("marker"))) for p in doc["packages"]}

    out = tmp_path / "uv.txt"
    compiled = subprocess.run(
        [
            sys.executable, "-m", "uv", "pip", "compile", "requirements.in", "--universal",
            "--python-version", floor or running_python(), "--no-config", "--no-header",
            "--python", sys.executable, "--no-python-downloads",
            "--no-annotate", "--index-url", INDEX_URL, "--output-file", str(out),
        ],
        cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert compiled.returncode == 0, compiled.stderr
    theirs: set[tuple[str, str, str | None]] = set()
    for line in out.read_text().splitlines():
        if line.strip() and not line.startswith(("#", " ", "-")):
            req = Requirement(line)
            version = next(iter(req.specifier)).version
            marker = _normal(str(req.marker)) if req.marker else None
            theirs.add((canonicalize_name(req.name), version, marker))
    assert ours == theirs
    forks = len(ours) - len({name for name, _, _ in ours})
    print(f"{len(ours)} pins equal, {sum(1 for p in ours if p[2])} with markers, {forks} forks")
