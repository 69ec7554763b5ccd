"""Issue 20: the layer order in pyproject.toml holds, and a back edge breaks it.

`.ci/run` runs ``lint-imports`` on the repository. This test runs it too, and then on a copy
of the package with one import pointing up a layer (the lock model importing the installer),
to show the contract is not one that cannot fail.
"""

from __future__ import annotations

import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sysconfig.get_path("scripts")) / "lint-imports"

pytestmark = pytest.mark.skipif(not LINT.exists(), reason="import-linter is not installed")


def _lint(where: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT), "--no-cache"],
        cwd=where,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(where)},
        check=False,
    )


def test_the_layers_are_kept() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "lockkeys layers point down KEPT" in result.stdout


def test_a_back_edge_breaks_the_contract(tmp_path: Path) -> None:
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "lockkeys", tmp_path / "lockkeys", ignore=skip)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    model = tmp_path / "lockkeys" / "_internal" / "lockmodel" / "lock.py"
    model.write_text(
        model.read_text(encoding="utf-8")
        + "\nfrom lockkeys._internal.install import plan  # noqa: F401\n",
        encoding="utf-8",
    )
    result = _lint(tmp_path)
    assert result.returncode != 0, result.stdout
    assert "lockkeys layers point down BROKEN" in result.stdout
    assert "lockkeys._internal.lockmodel.lock -> lockkeys._internal.install.plan" in result.stdout
