"""One lock for every target (issue 11): universal locks with uv, per-environment pip-tools
locks that say so, and installs that evaluate markers for the TARGET interpreter.

Hand-built wheels whose dependencies carry platform and Python-version markers, served by
pypiserver on 127.0.0.1:

    app 1.0 -> common, plat,
               winonly ; sys_platform == "win32",
               macdep  ; sys_platform == "darwin",
               oldpy   ; python_version < "3.11"
    plat 1.0: one wheel each for manylinux x86_64, win_amd64 and macOS arm64

Windows and macOS targets are proven with fake target interpreters: executables that answer
lockkeys' environment probe with another platform's markers and wheel tags.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import default_environment
from packaging.pylock import Pylock

from fixtures.wheelmaker import build_wheel
from lockkeys._internal.cli import main
from lockkeys._internal.markers import running_environment, running_python
from lockkeys._internal.trust.signing import sign_files
from tests.support.cli import Cli
from tests.support.pypiserver import serve_index
from tests.support.targets import MACOS, WINDOWS, fake_python, markers
from tests.support.venvs import installed, make_venv

pytestmark = pytest.mark.slow

PLAT_TAGS = ("py3-none-manylinux_2_17_x86_64", "py3-none-win_amd64", "py3-none-macosx_11_0_arm64")
LINUX_SET = [["app", "1.0"], ["common", "1.0"], ["plat", "1.0"]]


def build_index(folder: Path) -> Path:
    build_wheel(
        folder,
        "app",
        "1.0",
        requires_dist=[
            "common>=1",
            "plat",
            'winonly ; sys_platform == "win32"',
            'macdep ; sys_platform == "darwin"',
            'oldpy ; python_version < "3.11"',
        ],
    )
    for name in ("common", "winonly", "macdep", "oldpy"):
        build_wheel(folder, name, "1.0")
    for tag in PLAT_TAGS:
        build_wheel(folder, "plat", "1.0", tag=tag)
    return folder


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = build_index(tmp_path_factory.mktemp("universal-index") / "simple")
    with serve_index(folder) as url:
        yield url, folder


def project(root: Path, url: str, *extra: str, resolver: str = "uv") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "requirements.in").write_text("app\n")
    lines = [
        'requirements = ["requirements.in"]',
        f'resolver = "{resolver}"',
        *extra,
        "",
        "[[sources]]",
        'name = "index"',
        f'url = "{url}"',
    ]
    config = root / "lockkeys.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


def lock_doc(config: Path) -> dict[str, Any]:
    return tomllib.loads((config.parent / "pylock.toml").read_text())


def markers_of(doc: dict[str, Any]) -> dict[str, str | None]:
    return {p["name"]: p.get("marker") for p in doc["packages"]}


def report(out: str) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in json.loads(out)["packages"]}


# -- universal locks (uv) ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def universal(tmp_path_factory: pytest.TempPathFactory, index: tuple[str, Path]) -> Path:
    """A universal lock for Python >= 3.9, made once (read-only for the tests using it)."""
    config = project(
        tmp_path_factory.mktemp("universal") / "app", index[0], 'requires-python = ">=3.9"'
    )
    assert main(["--config", str(config), "lock"]) == 0
    return config


def test_universal_lock_lists_other_platforms_and_pythons_with_markers(universal: Path) -> None:
    text = (universal.parent / "pylock.toml").read_text()
    doc = tomllib.loads(text)
    Pylock.from_dict(doc)  # packaging validates it
    assert doc["requires-python"] == ">=3.9"
    assert "environments" not in doc  # universal: every environment
    assert markers_of(doc) == {
        "app": None,
        "common": None,
        "macdep": 'sys_platform == "darwin"',
        "oldpy": 'python_full_version < "3.11"',
        "plat": None,
        "winonly": 'sys_platform == "win32"',
    }
    plat = next(p for p in doc["packages"] if p["name"] == "plat")
    assert sorted(w["name"] for w in plat["wheels"]) == sorted(
        f"plat-1.0-{tag}.whl" for tag in PLAT_TAGS
    )


def test_relock_gives_the_same_bytes(universal: Path, tmp_path: Path, cli: Cli) -> None:
    copy = tmp_path / "app"
    shutil.copytree(universal.parent, copy)
    before = (copy / "pylock.toml").read_bytes()
    code, out, err = cli("--config", copy / "lockkeys.toml", "lock")
    assert code == 0, err
    assert "unchanged" in out
    assert (copy / "pylock.toml").read_bytes() == before


def test_install_on_linux_skips_what_only_other_targets_need(
    universal: Path, tmp_path: Path, cli: Cli
) -> None:
    venv = make_venv(tmp_path / "venv")
    code, out, err = cli(
        "--lock", universal.parent / "pylock.toml", "install", "--python", venv, "--json"
    )
    assert code == 0, err
    packages = report(out)
    for name in ("winonly", "macdep", "oldpy"):
        assert packages[name]["status"] == "not-for-this-environment", packages[name]
        assert "is false for this target" in packages[name]["reason"]
    assert packages["plat"]["file"] == "plat-1.0-py3-none-manylinux_2_17_x86_64.whl"
    assert installed(venv) == LINUX_SET
    # Without --json the skipped packages are named on stderr, with their markers.
    code, _out, err = cli("--lock", universal.parent / "pylock.toml", "verify", "--python", venv)
    assert code == 0, err
    assert "skipped 3 package(s) not needed on this target" in err, err
    assert 'winonly (sys_platform == "win32")' in err, err


def test_uv_installs_the_universal_lock(universal: Path, tmp_path: Path) -> None:
    venv = make_venv(tmp_path / "venv")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_"))}
    env |= {"UV_NO_CONFIG": "1", "UV_CACHE_DIR": str(tmp_path / "uv-cache")}
    subprocess.run(
        [
            sys.executable, "-m", "uv", "pip", "install", "--python", str(venv),
            "-r", str(universal.parent / "pylock.toml"),
        ],
        check=True, capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert installed(venv) == LINUX_SET


@pytest.mark.parametrize(
    ("target", "needed", "skipped", "plat_tag"),
    [
        (WINDOWS, "winonly", {"macdep", "oldpy"}, "win_amd64"),
        (MACOS, "macdep", {"winonly", "oldpy"}, "macosx_11_0_arm64"),
    ],
    ids=["windows", "macos"],
)
def test_markers_are_evaluated_for_the_target_not_for_lockkeys(
    universal: Path,
    tmp_path: Path,
    cli: Cli,
    target: dict[str, Any],
    needed: str,
    skipped: set[str],
    plat_tag: str,
) -> None:
    python = fake_python(tmp_path, needed, target)
    code, out, err = cli(
        "--lock", universal.parent / "pylock.toml", "verify", "--python", python, "--json"
    )
    assert code == 0, err
    packages = report(out)
    assert packages[needed]["status"] == "verified-by-hash"
    assert {n for n, p in packages.items() if p["status"] == "not-for-this-environment"} == skipped
    assert packages["plat"]["file"] == f"plat-1.0-py3-none-{plat_tag}.whl"


def test_lock_for_windows_only_is_refused_on_linux_before_any_download(
    tmp_path: Path, cli: Cli
) -> None:
    folder = build_index(tmp_path / "simple")
    with serve_index(folder) as url:
        config = project(tmp_path / "app", url, "environments = [\"sys_platform == 'win32'\"]")
        code, _out, err = cli("--config", config, "lock")
        assert code == 0, err
    doc = lock_doc(config)
    assert doc["environments"] == ['sys_platform == "win32"']
    assert "macdep" not in markers_of(doc)  # no listed environment needs it
    assert markers_of(doc)["winonly"] == 'sys_platform == "win32"'
    venv = make_venv(tmp_path / "venv")
    # The server is gone: a download attempt would fail with exit 3, not 2.
    code, _out, err = cli("--lock", config.parent / "pylock.toml", "install", "--python", venv)
    assert code == 2, err
    assert "is outside what the lock covers" in err, err
    assert 'sys_platform == "win32"' in err
    assert installed(venv) == []


# -- pip-tools: one environment, and it says so -----------------------------------------------


def test_pip_tools_lock_records_its_one_environment(
    index: tuple[str, Path], tmp_path: Path, cli: Cli
) -> None:
    config = project(tmp_path / "app", index[0], resolver="pip-tools")
    code, _out, err = cli("--config", config, "lock")
    assert code == 0, err
    doc = lock_doc(config)
    Pylock.from_dict(doc)
    assert doc["environments"] == [running_environment()]
    env = default_environment()
    assert f'sys_platform == "{env["sys_platform"]}"' in doc["environments"][0]
    assert f'python_version == "{running_python()}"' in doc["environments"][0]
    assert doc["requires-python"] == f"=={running_python()}.*"
    assert markers_of(doc) == {"app": None, "common": None, "plat": None}
    # A target on another Python gets that message, not "extraneous dependency".
    old = markers(
        os_name="posix",
        sys_platform=env["sys_platform"],
        platform_system=env["platform_system"],
        platform_machine=env["platform_machine"],
    ) | {"python_full_version": "3.10.12", "python_version": "3.10"}
    python = fake_python(tmp_path, "py310", {"markers": old, "tags": []})
    code, _out, err = cli("--lock", config.parent / "pylock.toml", "verify", "--python", python)
    assert code == 2, err
    assert "Python 3.10.12" in err and "is outside what the lock covers" in err, err
    assert "extraneous" not in err


def test_pip_tools_with_two_environments_exits_2_naming_uv(
    index: tuple[str, Path], tmp_path: Path, cli: Cli
) -> None:
    config = project(
        tmp_path / "app",
        index[0],
        "environments = [\"sys_platform == 'linux'\", \"sys_platform == 'win32'\"]",
        resolver="pip-tools",
    )
    code, _out, err = cli("--config", config, "lock")
    assert code == 2, err
    assert "environments" in err and 'resolver = "uv"' in err, err
    assert not (config.parent / "pylock.toml").exists()


# -- signatures for every platform's file -----------------------------------------------------


def test_every_platform_file_of_a_signer_pinned_package_is_checked_at_lock_time(
    tmp_path: Path, cli: Cli, fixture_data: Path
) -> None:
    folder = build_index(tmp_path / "simple")
    keys = fixture_data / "keys"
    sign_files([folder / "plat-1.0-py3-none-manylinux_2_17_x86_64.whl"], keys / "corp.secret.asc")

    def lock_with_signers(*pinned: str) -> tuple[int, str]:
        tables = [line for name in pinned for line in (f"[packages.{name}]", 'signers = ["corp"]')]
        config = project(
            tmp_path / "app",
            url,
            'requires-python = ">=3.9"',
            "[signers]",
            f'corp = "{keys / "corp.asc"}"',
            *tables,
        )
        code, _out, err = cli("--config", config, "lock")
        assert not (config.parent / "pylock.toml").exists()
        return code, err

    with serve_index(folder) as url:
        # The Windows and macOS wheels of plat are checked on this Linux machine ...
        code, err = lock_with_signers("plat")
        assert code == 1, err
        assert "plat 1.0 cannot be locked" in err, err
        assert "plat-1.0-py3-none-win_amd64.whl: 0 of 1" in err, err
        assert "plat-1.0-py3-none-macosx_11_0_arm64.whl: 0 of 1" in err, err
        assert "plat-1.0-py3-none-manylinux_2_17_x86_64.whl: 0 of 1" not in err, err
        # ... and so is winonly, which this machine never installs.
        code, err = lock_with_signers("winonly")
        assert code == 1, err
        assert "winonly 1.0 cannot be locked" in err, err
        assert "winonly-1.0-py3-none-any.whl: 0 of 1" in err, err
