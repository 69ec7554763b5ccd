"""The fixture wheel maker: reproducible bytes, correct METADATA/WHEEL/RECORD, installable."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from packaging.utils import parse_wheel_filename

from fixtures.wheelmaker import build_sdist, build_wheel


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _headers(text: bytes) -> list[tuple[str, str]]:
    pairs = []
    for line in text.decode("utf-8").splitlines():
        key, _, value = line.partition(": ")
        pairs.append((key, value))
    return pairs


def test_same_inputs_give_same_bytes(tmp_path: Path) -> None:
    requires = ["bar>=1.0", "util>=2"]
    first = build_wheel(tmp_path / "a", "foo", "1.0", requires_dist=requires)
    second = build_wheel(tmp_path / "b", "foo", "1.0", requires_dist=requires)
    assert first.name == second.name == "foo-1.0-py3-none-any.whl"
    assert first.read_bytes() == second.read_bytes()
    other = build_wheel(tmp_path / "c", "foo", "1.0", requires_dist=["bar>=1.1"])
    assert other.read_bytes() != first.read_bytes()


def test_zip_entries_are_fixed_and_sorted(tmp_path: Path) -> None:
    files = {"foo/z.py": b"z = 1\n", "foo/__init__.py": b"", "foo/a.py": b"a = 1\n"}
    wheel = build_wheel(tmp_path, "foo", "1.0", files=files)
    with zipfile.ZipFile(wheel) as archive:
        infos = archive.infolist()
    names = [i.filename for i in infos]
    assert names == [
        "foo/__init__.py",
        "foo/a.py",
        "foo/z.py",
        "foo-1.0.dist-info/METADATA",
        "foo-1.0.dist-info/WHEEL",
        "foo-1.0.dist-info/RECORD",
    ]
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}


def test_metadata_wheel_and_record_are_correct(tmp_path: Path) -> None:
    wheel = build_wheel(
        tmp_path, "Foo.Bar", "2.0", requires_dist=["util>=2"], tag="py3-none-manylinux_2_17_x86_64"
    )
    assert wheel.name == "foo_bar-2.0-py3-none-manylinux_2_17_x86_64.whl"
    name, version, _, _tags = parse_wheel_filename(wheel.name)
    assert (name, str(version)) == ("foo-bar", "2.0")
    members = _members(wheel)
    metadata = _headers(members["foo_bar-2.0.dist-info/METADATA"])
    assert metadata[:3] == [("Metadata-Version", "2.1"), ("Name", "Foo.Bar"), ("Version", "2.0")]
    assert ("Requires-Dist", "util>=2") in metadata
    wheel_file = dict(_headers(members["foo_bar-2.0.dist-info/WHEEL"]))
    assert wheel_file["Root-Is-Purelib"] == "false"
    assert wheel_file["Tag"] == "py3-none-manylinux_2_17_x86_64"
    assert b"__version__ = '2.0'" in members["foo_bar/__init__.py"]

    rows = list(csv.reader(io.StringIO(members["foo_bar-2.0.dist-info/RECORD"].decode())))
    assert {row[0] for row in rows} == set(members)
    for path, digest, size in rows:
        if path.endswith("/RECORD"):
            assert (digest, size) == ("", "")
            continue
        expected = base64.urlsafe_b64encode(hashlib.sha256(members[path]).digest()).rstrip(b"=")
        assert digest == f"sha256={expected.decode()}"
        assert int(size) == len(members[path])


def test_forged_wheel_metadata_disagrees_with_file_name(tmp_path: Path) -> None:
    swapped = build_wheel(tmp_path, "foo", "2.0", metadata_version="1.0")
    assert swapped.name == "foo-2.0-py3-none-any.whl"
    assert ("Version", "1.0") in _headers(_members(swapped)["foo-1.0.dist-info/METADATA"])

    wrong = build_wheel(tmp_path, "foo", "1.0", metadata_name="bar")
    assert wrong.name == "foo-1.0-py3-none-any.whl"
    members = _members(wrong)
    assert ("Name", "bar") in _headers(members["bar-1.0.dist-info/METADATA"])
    assert "bar/__init__.py" in members

    named = build_wheel(tmp_path, "foo", "1.0", filename="anything-9.9-py3-none-any.whl")
    assert named.name == "anything-9.9-py3-none-any.whl"


def test_unsafe_or_reserved_paths_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="safe relative path"):
        build_wheel(tmp_path, "foo", "1.0", files={"../evil.py": b""})
    with pytest.raises(ValueError, match="generated"):
        build_wheel(tmp_path, "foo", "1.0", files={"foo-1.0.dist-info/RECORD": b""})
    with pytest.raises(ValueError, match="plain file name"):
        build_wheel(tmp_path, "foo", "1.0", filename="../foo-1.0-py3-none-any.whl")


def test_sdist_is_reproducible_and_minimal(tmp_path: Path) -> None:
    first = build_sdist(tmp_path / "a", "foo", "1.0", requires_dist=["bar>=1.0"])
    second = build_sdist(tmp_path / "b", "foo", "1.0", requires_dist=["bar>=1.0"])
    assert first.name == "foo-1.0.tar.gz"
    assert first.read_bytes() == second.read_bytes()
    with tarfile.open(first) as archive:
        members = {m.name: m for m in archive.getmembers()}
        assert set(members) == {
            "foo-1.0",
            "foo-1.0/PKG-INFO",
            "foo-1.0/pyproject.toml",
            "foo-1.0/foo",
            "foo-1.0/foo/__init__.py",
        }
        assert {m.mtime for m in members.values()} == {315532800}
        pkg_info = archive.extractfile("foo-1.0/PKG-INFO")
        assert pkg_info is not None
        assert b"Requires-Dist: bar>=1.0" in pkg_info.read()
        pyproject = archive.extractfile("foo-1.0/pyproject.toml")
        assert pyproject is not None
        assert b'dependencies = ["bar>=1.0"]' in pyproject.read()


@pytest.mark.slow
def test_pip_installs_a_built_wheel(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "dist", "foo", "1.0", requires_dist=["bar>=1.0"])
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-index", "--no-deps", str(wheel)],
        check=True,
        env=env,
    )
    shown = subprocess.run(
        [str(python), "-c", "import foo; print(foo.__version__)"],
        check=True,
        capture_output=True,
        text=True,
    )
    assert shown.stdout.strip() == "1.0"
    check = subprocess.run(
        [str(python), "-m", "pip", "show", "-f", "foo"], capture_output=True, text=True, env=env
    )
    assert "Requires: bar" in check.stdout
