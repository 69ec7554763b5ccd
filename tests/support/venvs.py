"""Target environments for installer tests: make one, list what it holds, snapshot its files."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

INSTALLED = (
    "import importlib.metadata as m, json; "
    "print(json.dumps(sorted((d.metadata['Name'], d.version) for d in m.distributions())))"
)

Snapshot = tuple[list[list[str]], dict[str, str]]


def make_venv(path: Path) -> Path:
    """A fresh virtual environment without pip (lockkeys runs its own pip with --python)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return path / "bin" / "python"


def site_packages(python: Path) -> Path:
    return next(python.parent.parent.glob("lib/python*/site-packages"))


def installed(python: Path) -> list[list[str]]:
    """[name, version] of every installed distribution, sorted."""
    out = subprocess.run(
        [str(python), "-I", "-c", INSTALLED], capture_output=True, text=True, check=True
    ).stdout  # -I: not the current folder, which may hold an .egg-info
    return list(json.loads(out))


def snapshot(python: Path) -> Snapshot:
    """The installed distributions, and the sha256 of every file in site-packages."""
    site = site_packages(python)
    files = {
        str(p.relative_to(site)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(site.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }
    return installed(python), files


def wheel_member(wheel: Path, name: str) -> bytes:
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(name)
