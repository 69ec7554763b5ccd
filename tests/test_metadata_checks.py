"""The file's own metadata must match the lock: wheels (METADATA) and allowed sdists (PKG-INFO)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from fixtures.wheelmaker import build_sdist, build_wheel
from lockkeys._internal.install.environment import TargetEnvironment, probe
from lockkeys._internal.install.metadata import check_metadata
from lockkeys.errors import VerificationError


@pytest.fixture(scope="module")
def env() -> TargetEnvironment:
    return probe()


def check(path: Path, env: TargetEnvironment, name: str = "foo", version: str = "1.0") -> None:
    check_metadata(path, name=name, version=version, locked={"foo", "bar"}, env=env)


@pytest.mark.parametrize("builder", [build_wheel, build_sdist])
def test_matching_file_passes(builder, tmp_path: Path, env: TargetEnvironment) -> None:  # type: ignore[no-untyped-def]
    check(builder(tmp_path, "foo", "1.0", requires_dist=["bar>=1"]), env)


@pytest.mark.parametrize("builder", [build_wheel, build_sdist])
def test_older_release_under_the_new_name_refused(
    builder, tmp_path: Path, env: TargetEnvironment
) -> None:  # type: ignore[no-untyped-def]
    forged = builder(tmp_path, "foo", "1.0", metadata_version="0.9")
    with pytest.raises(VerificationError, match="another version"):
        check(forged, env)


@pytest.mark.parametrize("builder", [build_wheel, build_sdist])
def test_other_project_under_the_name_refused(
    builder, tmp_path: Path, env: TargetEnvironment
) -> None:  # type: ignore[no-untyped-def]
    forged = builder(tmp_path, "foo", "1.0", metadata_name="bar")
    with pytest.raises(VerificationError, match="another project"):
        check(forged, env)


def test_wheel_with_unlocked_dependency_refused(tmp_path: Path, env: TargetEnvironment) -> None:
    with pytest.raises(VerificationError, match="'evil', which is not in the lock"):
        check(build_wheel(tmp_path, "foo", "1.0", requires_dist=["evil"]), env)


def test_wheel_dependency_for_another_platform_is_fine(
    tmp_path: Path, env: TargetEnvironment
) -> None:
    check(build_wheel(tmp_path, "foo", "1.0", requires_dist=['evil; sys_platform == "nope"']), env)


def test_unevaluable_requires_dist_marker_refused(tmp_path: Path, env: TargetEnvironment) -> None:
    wheel = build_wheel(tmp_path, "foo", "1.0", requires_dist=['bar; "x" in extras'])
    with pytest.raises(VerificationError, match="cannot be evaluated"):
        check(wheel, env)


def test_sdist_with_member_outside_itself_refused(tmp_path: Path, env: TargetEnvironment) -> None:
    sdist = tmp_path / "foo-1.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as archive:
        for name, data in (
            ("foo-1.0/PKG-INFO", b"Metadata-Version: 2.1\nName: foo\nVersion: 1.0\n"),
            ("foo-1.0/../../escape.txt", b"x"),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    with pytest.raises(VerificationError, match="outside itself"):
        check(sdist, env)
