"""The re-lock workflow pip-tools and uv users expect (issue 11, item 8): `lock --upgrade`,
`-P NAME` refusing unknown names, `lock --dry-run`, and every re-lock saying what changed.
Also `export` (item 7): markers, the sources a plain pip needs, a missing -o folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.wheelmaker import build_wheel
from lockkeys._internal.lockmodel.io import read_lock
from tests.support.cli import Cli
from tests.support.venvs import installed, make_venv

pytestmark = pytest.mark.slow


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """app -> lib; a folder source; uv (universal). Returns the config file."""
    wheels = tmp_path / "app" / "wheels"
    build_wheel(wheels, "app", "1.0", requires_dist=["lib>=1", 'winonly ; sys_platform == "win32"'])
    build_wheel(wheels, "lib", "1.0")
    build_wheel(wheels, "tool", "1.0")
    build_wheel(wheels, "winonly", "1.0")
    (tmp_path / "app" / "requirements.in").write_text("app\n")
    config = tmp_path / "app" / "lockkeys.toml"
    config.write_text(
        'requirements = ["requirements.in"]\nresolver = "uv"\n'
        '[[sources]]\nname = "wheels"\npath = "wheels"\n'
    )
    return config


def versions(config: Path) -> dict[str, str]:
    return {p.name: p.version for p in read_lock(config.parent / "pylock.toml").packages}


def test_relock_prints_upgrades_additions_and_removals(app: Path, cli: Cli) -> None:
    code, out, err = cli("--config", app, "lock")
    assert code == 0, err
    assert versions(app) == {"app": "1.0", "lib": "1.0", "winonly": "1.0"}
    build_wheel(app.parent / "wheels", "lib", "1.1")  # a new release appears

    code, out, _ = cli("--config", app, "lock")  # existing pins are kept ...
    assert "unchanged" in out and "no package changes" in out, out

    lock_bytes = (app.parent / "pylock.toml").read_bytes()
    code, out, err = cli("--config", app, "lock", "--dry-run", "-P", "lib")
    assert code == 0, err
    assert "would write" in out and "lib 1.0 -> 1.1" in out, out
    assert (app.parent / "pylock.toml").read_bytes() == lock_bytes  # nothing written

    code, out, err = cli("--config", app, "lock", "-P", "lib")  # ... until asked
    assert code == 0, err
    assert "  lib 1.0 -> 1.1" in out, out
    assert versions(app)["lib"] == "1.1"

    (app.parent / "requirements.in").write_text("app\ntool\n")
    code, out, err = cli("--config", app, "lock")
    assert code == 0, err
    assert "  added tool 1.0" in out, out
    (app.parent / "requirements.in").write_text("app\n")
    code, out, err = cli("--config", app, "lock")
    assert code == 0, err
    assert "  removed tool 1.0" in out, out


def test_upgrade_moves_every_package(app: Path, cli: Cli) -> None:
    assert cli("--config", app, "lock")[0] == 0
    build_wheel(app.parent / "wheels", "lib", "2.0")
    build_wheel(app.parent / "wheels", "app", "1.1", requires_dist=["lib>=1"])
    code, out, err = cli("--config", app, "lock", "--upgrade")
    assert code == 0, err
    assert "  app 1.0 -> 1.1" in out and "  lib 1.0 -> 2.0" in out, out
    assert "  removed winonly 1.0" in out, out  # app 1.1 no longer needs it
    assert versions(app) == {"app": "1.1", "lib": "2.0"}


def test_upgrade_package_refuses_a_name_not_in_the_requirements_or_the_lock(
    app: Path, cli: Cli
) -> None:
    assert cli("--config", app, "lock")[0] == 0
    before = (app.parent / "pylock.toml").read_bytes()
    code, _out, err = cli("--config", app, "lock", "-P", "lbi")
    assert code == 2, err
    assert "--upgrade-package lbi: not in the requirements or the lock" in err, err
    assert "app, lib, winonly" in err, err
    assert (app.parent / "pylock.toml").read_bytes() == before
    code, _out, err = cli("--config", app, "lock", "--check", "--upgrade")
    assert code == 2, err


# -- export ------------------------------------------------------------------------------------


def test_export_carries_markers_and_the_sources_pip_needs(
    app: Path, cli: Cli, tmp_path: Path
) -> None:
    assert cli("--config", app, "lock")[0] == 0
    out_dir = tmp_path / "deploy"
    out_dir.mkdir()
    exported = out_dir / "requirements.txt"
    code, _out, err = cli("--config", app, "export", "-o", exported)
    assert code == 0, err
    text = exported.read_text()
    assert "--no-index\n" in text  # the only source is a folder: never the public index
    assert "--find-links ../app/wheels\n" in text, text
    assert 'winonly==1.0 ; sys_platform == "win32"' in text, text
    python = make_venv(tmp_path / "venv")
    pip = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "--python", str(python), "install", "--isolated"),
            *("--no-deps", "--require-hashes", "-r", str(exported)),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert pip.returncode == 0, pip.stdout + pip.stderr
    assert installed(python) == [["app", "1.0"], ["lib", "1.0"]]


def test_export_into_a_missing_folder_is_exit_2(app: Path, cli: Cli, tmp_path: Path) -> None:
    assert cli("--config", app, "lock")[0] == 0
    target = tmp_path / "missing" / "requirements.txt"
    code, _out, err = cli("--config", app, "export", "-o", target)
    assert code == 2, err
    assert "does not exist" in err, err
    assert not target.exists()


def test_long_lists_of_file_names_are_summarized() -> None:
    from lockkeys._internal.install.acquire import choose_file
    from lockkeys._internal.install.environment import TargetEnvironment
    from lockkeys._internal.lockmodel.lock import LockedFile, LockedPackage, PackageTool
    from lockkeys.errors import VerificationError

    wheels = tuple(
        LockedFile(filename=f"big-1.0-cp3{i}-cp3{i}-win_amd64.whl", size=1, hashes={"sha256": "0"})
        for i in range(10, 22)
    )
    package = LockedPackage(
        name="big", version="1.0", tool=PackageTool(verify="hashes", source="s"), wheels=wheels
    )
    env = TargetEnvironment(python="/fake/python", tags=(), markers={})
    with pytest.raises(VerificationError) as info:
        choose_file(package, env)
    assert info.value.found is not None
    assert info.value.found.endswith("and 7 more wheels"), info.value.found
    assert info.value.found.count(".whl") == 5
