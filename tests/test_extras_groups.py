"""Extras and dependency groups of the application (issue 11, item 5): locked together with
the base requirements, recorded as PEP 751 `extras`, `dependency-groups`, `default-groups`
and package markers, installed by name (`install --extra`, `--group`)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.pylock import Pylock

from fixtures.wheelmaker import build_wheel
from tests.support.cli import Cli
from tests.support.venvs import installed, make_venv

pytestmark = pytest.mark.slow


PYPROJECT = """\
[project]
name = "myapp"
version = "0.1"
requires-python = ">=3.11"
dependencies = ["app"]

[project.optional-dependencies]
security = ["secext"]

[dependency-groups]
dev = ["devtool", {{include-group = "lint"}}]
lint = ["linter"]

[tool.lockkeys]
resolver = "{resolver}"
{extra}
[[tool.lockkeys.sources]]
name = "wheels"
path = "wheels"
"""


def make_app(root: Path, resolver: str = "uv", extra: str = "") -> Path:
    wheels = root / "wheels"
    build_wheel(wheels, "app", "1.0")
    build_wheel(wheels, "secext", "1.0", requires_dist=["helper"])
    for name in ("helper", "devtool", "linter"):
        build_wheel(wheels, name, "1.0")
    config = root / "pyproject.toml"
    config.write_text(PYPROJECT.format(resolver=resolver, extra=extra))
    return config


def doc_of(config: Path) -> dict[str, Any]:
    return tomllib.loads((config.parent / "pylock.toml").read_text())


@pytest.mark.parametrize("resolver", ["uv", "pip-tools"])
def test_extras_and_groups_are_locked_with_their_markers(
    tmp_path: Path, cli: Cli, resolver: str
) -> None:
    config = make_app(tmp_path / "app", resolver)
    code, _out, err = cli("--config", config, "lock")
    assert code == 0, err
    doc = doc_of(config)
    Pylock.from_dict(doc)
    assert doc["extras"] == ["security"]
    assert doc["dependency-groups"] == ["dev", "lint"]
    assert "default-groups" not in doc
    markers = {p["name"]: p.get("marker") for p in doc["packages"]}
    assert markers == {
        "app": None,
        "devtool": '"dev" in dependency_groups',
        "helper": '"security" in extras',
        "linter": '"dev" in dependency_groups or "lint" in dependency_groups',
        "secext": '"security" in extras',
    }


def test_install_by_extra_and_group_name(tmp_path: Path, cli: Cli) -> None:
    config = make_app(tmp_path / "app")
    assert cli("--config", config, "lock")[0] == 0
    lock = config.parent / "pylock.toml"

    plain = make_venv(tmp_path / "plain")
    code, _out, err = cli("--lock", lock, "install", "--python", plain)
    assert code == 0, err
    assert installed(plain) == [["app", "1.0"]]

    full = make_venv(tmp_path / "full")
    code, _out, err = cli(
        "--lock", lock, "install", "--python", full, "--extra", "security", "--group", "dev"
    )
    assert code == 0, err
    assert [n for n, _ in installed(full)] == ["app", "devtool", "helper", "linter", "secext"]

    code, _out, err = cli("--lock", lock, "install", "--python", plain, "--extra", "secure")
    assert code == 2, err
    assert "--extra secure: not an extra of this lock" in err and "security" in err, err
    code, _out, err = cli("--lock", lock, "verify", "--python", plain, "--group", "docs")
    assert code == 2, err
    assert "not a dependency group of this lock" in err, err


def test_default_groups_install_without_asking(tmp_path: Path, cli: Cli) -> None:
    config = make_app(tmp_path / "app", extra='default-groups = ["lint"]')
    assert cli("--config", config, "lock")[0] == 0
    assert doc_of(config)["default-groups"] == ["lint"]
    venv = make_venv(tmp_path / "venv")
    code, _out, err = cli("--lock", config.parent / "pylock.toml", "install", "--python", venv)
    assert code == 0, err
    assert [n for n, _ in installed(venv)] == ["app", "linter"]


def test_export_puts_the_chosen_extras_and_groups_into_the_markers(
    tmp_path: Path, cli: Cli
) -> None:
    config = make_app(tmp_path / "app")
    assert cli("--config", config, "lock")[0] == 0
    code, out, err = cli("--config", config, "export", "--extra", "security")
    assert code == 0, err
    lines = [line.split(" ")[0] for line in out.splitlines() if "==" in line]
    assert lines == ["app==1.0", "helper==1.0", "secext==1.0"], out
    assert "extras" not in out and "dependency_groups" not in out


def test_unknown_default_group_is_a_config_error(tmp_path: Path, cli: Cli) -> None:
    config = make_app(tmp_path / "app", extra='default-groups = ["docs"]')
    code, _out, err = cli("--config", config, "lock")
    assert code == 2, err
    assert "tool.lockkeys.default-groups[0]: unknown dependency group 'docs'" in err, err
