"""Re-locks move only what they must (issue 17): the previous lock's pins are preferences.

When an edited requirement forces one pin to move, every other pin the new resolution allows
stays where it was, as pip-compile and uv do with their previous output kept; ``--upgrade`` and
``--upgrade-package`` remain the only ways to move a pin that still fits. Real pip-compile and
uv against a pypiserver on 127.0.0.1.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from fixtures.wheelmaker import build_wheel
from lockkeys._internal.locking.locker import lock
from lockkeys._internal.resolve.uv import find_uv
from tests.support.pypiserver import serve_index

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(find_uv() is None, reason="uv is not installed"),
]


def _pins(config: Path) -> dict[str, str]:
    doc = tomllib.loads((config.parent / "pylock.toml").read_text())
    return {p["name"]: p["version"] for p in doc["packages"]}


def _project(root: Path, url: str, resolver: str, requirements: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "requirements.in").write_text(requirements)
    config = root / "lockkeys.toml"
    config.write_text(
        f'requirements = ["requirements.in"]\nresolver = "{resolver}"\n\n'
        f'[[sources]]\nname = "index"\nurl = "{url}"\n'
    )
    return config


@pytest.mark.parametrize("resolver", ["pip-tools", "uv"])
def test_relock_after_forced_move_keeps_unrelated_pins(resolver: str, tmp_path: Path) -> None:
    """``kombu<5.6`` forces kombu and vine down; idna, which still fits, keeps 3.10 although
    3.20 appeared on the index since the last lock (today: idna moved to 3.20)."""
    folder = tmp_path / "index"
    folder.mkdir()
    build_wheel(folder, "top", "1.0", requires_dist=["kombu", "idna"])
    build_wheel(folder, "kombu", "5.5", requires_dist=["vine<5.1"])
    build_wheel(folder, "kombu", "5.6", requires_dist=["vine>=5.1"])
    build_wheel(folder, "vine", "5.0")
    build_wheel(folder, "vine", "5.1")
    build_wheel(folder, "idna", "3.10")
    with serve_index(folder) as url:
        config = _project(tmp_path / "app", url, resolver, "top\n")
        lock(config)
        assert _pins(config) == {"top": "1.0", "kombu": "5.6", "vine": "5.1", "idna": "3.10"}

        build_wheel(folder, "idna", "3.20")
        (config.parent / "requirements.in").write_text("top\nkombu<5.6\n")
        lock(config)
        assert _pins(config) == {"top": "1.0", "kombu": "5.5", "vine": "5.0", "idna": "3.10"}

        # --upgrade-package moves exactly the named pin; --upgrade moves everything
        lock(config, upgrade=["idna"])
        assert _pins(config)["idna"] == "3.20"
        assert _pins(config)["kombu"] == "5.5"
