"""A universal lock may pin one name to several versions, each under its own marker (uv's
"forks", common when the lock covers old Pythons): they are locked, checked and installed for
the target they apply to."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from packaging.pylock import Pylock

from fixtures.wheelmaker import build_wheel
from tests.support.cli import Cli
from tests.support.targets import fake_python, markers
from tests.support.venvs import installed, make_venv

pytestmark = pytest.mark.slow


def test_two_versions_of_one_package_for_two_pythons(tmp_path: Path, cli: Cli) -> None:
    wheels = tmp_path / "app" / "wheels"
    build_wheel(
        wheels,
        "app",
        "1.0",
        requires_dist=['lib<2 ; python_version < "3.11"', 'lib>=2 ; python_version >= "3.11"'],
    )
    for version in ("1.0", "2.0"):
        build_wheel(wheels, "lib", version)
    (tmp_path / "app" / "requirements.in").write_text("app\n")
    config = tmp_path / "app" / "lockkeys.toml"
    config.write_text(
        'requirements = ["requirements.in"]\nresolver = "uv"\nrequires-python = ">=3.9"\n'
        '[[sources]]\nname = "wheels"\npath = "wheels"\n'
    )
    code, _out, err = cli("--config", config, "lock")
    assert code == 0, err
    lock = config.parent / "pylock.toml"
    text = lock.read_bytes()
    doc = tomllib.loads(text.decode())
    Pylock.from_dict(doc)
    libs = [(p["version"], p.get("marker")) for p in doc["packages"] if p["name"] == "lib"]
    assert libs == [
        ("1.0", 'python_full_version < "3.11"'),
        ("2.0", 'python_full_version >= "3.11"'),
    ]
    # `why` names both entries, each with its marker.
    code, out, err = cli("--config", config, "why", "lib")
    assert code == 0, err
    assert out.splitlines()[0] == 'lib 1.0 ; python_full_version < "3.11"'
    assert 'also locked: lib 2.0 ; python_full_version >= "3.11"' in out
    code, out, err = cli("--config", config, "why", "lib", "--json")
    assert json.loads(out)["forks"] == [
        {"version": "2.0", "marker": 'python_full_version >= "3.11"'}
    ]
    # Re-locking keeps both pins: the same bytes.
    code, out, err = cli("--config", config, "lock")
    assert code == 0, err
    assert "unchanged" in out and lock.read_bytes() == text

    venv = make_venv(tmp_path / "venv")  # this Python: 3.11 or newer
    code, out, err = cli("--lock", lock, "install", "--python", venv, "--json")
    assert code == 0, err
    assert installed(venv) == [["app", "1.0"], ["lib", "2.0"]]

    env = {"markers": markers(os_name="posix", sys_platform="linux", platform_system="Linux",
                              platform_machine="x86_64")
           | {"python_full_version": "3.10.4", "python_version": "3.10"},
           "tags": []}  # fmt: skip
    old = fake_python(tmp_path, "py310", env)
    code, out, err = cli("--lock", lock, "verify", "--python", old, "--json")
    assert code == 0, err
    files = [p["file"] for p in json.loads(out)["packages"] if p["name"] == "lib"]
    assert "lib-1.0-py3-none-any.whl" in files and "lib-2.0-py3-none-any.whl" not in files


def test_the_lock_model_accepts_forks_only_with_a_marker_each() -> None:
    import copy

    from lockkeys._internal.lockmodel.io import dumps_lock, parse_lock
    from lockkeys.errors import InputError
    from tests.support.lockdocs import dump_doc, sample_doc

    doc = sample_doc()
    bar = doc["packages"][0]
    newer = copy.deepcopy(bar)
    newer["version"] = "2.0"
    newer["wheels"][0]["name"] = "bar-2.0-py3-none-any.whl"
    bar["marker"] = 'python_version < "3.11"'
    newer["marker"] = 'python_version >= "3.11"'
    doc["packages"].insert(1, newer)
    lock = parse_lock(dump_doc(doc), "pylock.toml")
    assert [(p.name, p.version) for p in lock.entries("bar")] == [("bar", "1.0"), ("bar", "2.0")]
    assert parse_lock(dumps_lock(lock), "pylock.toml") == lock  # written back the same
    del newer["marker"]
    with pytest.raises(InputError, match=r"packages\[1\]\.name: 'bar' is locked twice"):
        parse_lock(dump_doc(doc), "pylock.toml")
