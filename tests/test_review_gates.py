"""Issue 19, rule 2: the review gates compare everything; one regression test per finding.

Each test edits a real lock (made by `lockkeys lock` with uv from two pypiserver indexes on
127.0.0.1, see :mod:`tests.support.fullscene`) the way an attacker with a pull request would,
and runs the real commands in-process: `lockkeys diff OLD NEW --fail-on weakening` must name
the change, and `lockkeys lock --check` must exit 1 naming what differs.
"""

from __future__ import annotations

import copy
import datetime
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from lockkeys._internal.cli import main
from lockkeys._internal.resolve.uv import find_uv
from tests.support.fullscene import TOKEN_ENV, Scene, make_scene

pytestmark = pytest.mark.skipif(find_uv() is None, reason="uv is not installed")

Edit = Callable[[dict[str, Any]], None]


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory, fixture_data: Path) -> Iterator[Scene]:
    monkey = pytest.MonkeyPatch()
    monkey.setenv(TOKEN_ENV, "test-only-token")
    monkey.setenv("LOCKKEYS_CACHE_DIR", str(tmp_path_factory.mktemp("gates-cache")))
    base = tmp_path_factory.mktemp("gates")
    try:
        yield from make_scene(base / "project", fixture_data, base / "public", base / "private")
    finally:
        monkey.undo()


def edited(scene: Scene, edit: Edit) -> str:
    document = tomllib.loads(scene.text)
    edit(document)
    return tomli_w.dumps(document, multiline_strings=True)


def entry(document: dict[str, Any], name: str, version: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = next(
        p
        for p in document["packages"]
        if p["name"] == name and (version is None or p["version"] == version)
    )
    return found


def run_diff(
    scene: Scene, text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    old, new = tmp_path / "old.toml", tmp_path / "new.toml"
    old.write_text(scene.text)
    new.write_text(text)
    capsys.readouterr()
    code = main(["diff", str(old), str(new), "--fail-on", "weakening"])
    return code, capsys.readouterr().out


def run_check(scene: Scene, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    scene.lock.write_text(text)
    try:
        capsys.readouterr()
        code = main(["--config", str(scene.config), "lock", "--check"])
        captured = capsys.readouterr()
    finally:
        scene.lock.write_text(scene.text)
    return code, captured.out + captured.err


def test_the_honest_lock_passes_both_gates(
    scene: Scene, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run_diff(scene, scene.text, tmp_path, capsys)
    assert code == 0 and out == "", out
    code, out = run_check(scene, scene.text, capsys)
    assert code == 0 and "up to date" in out, out


def test_substitute_marker_set_false_is_a_weakening_and_fails_check(
    scene: Scene, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The patched build's marker made never-true: the installer would skip it."""

    def never(document: dict[str, Any]) -> None:
        entry(document, "broken")["marker"] = 'sys_platform == "never"'

    text = edited(scene, never)
    code, out = run_diff(scene, text, tmp_path, capsys)
    assert code == 1, out
    assert any(
        line.startswith("weakening") and "broken  marker:" in line and "never" in line
        for line in out.splitlines()
    ), out
    code, out = run_check(scene, text, capsys)
    assert code == 1, out
    assert "packages[broken==1.0+corp.1" in out and ".marker" in out, out


def test_fork_entry_with_verify_none_is_a_weakening_and_fails_check(
    scene: Scene, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second entry of `util` (another version, for Windows, unverified) placed before the
    real one, whose marker is narrowed to Linux: keyed by name, diff saw only the last."""

    def fork(document: dict[str, Any]) -> None:
        real = entry(document, "util")
        evil = copy.deepcopy(real)
        evil["version"] = "2.0"
        evil["marker"] = 'sys_platform == "win32"'
        evil["wheels"][0]["name"] = "util-2.0-py3-none-any.whl"
        evil["wheels"][0]["url"] = real["wheels"][0]["url"].replace("2.1", "2.0")
        evil["wheels"][0]["hashes"] = {"sha256": "0" * 64}
        evil["tool"]["lockkeys"] = {"verify": "none", "source": "public"}
        real["marker"] = 'sys_platform == "linux"'
        document["packages"].insert(document["packages"].index(real), evil)

    text = edited(scene, fork)
    code, out = run_diff(scene, text, tmp_path, capsys)
    assert code == 1, out
    assert "weakening     util==2.0  verify: - -> none  (new package, unverified)" in out, out
    assert "weakening     util==2.1  marker:" in out, out
    code, out = run_check(scene, text, capsys)
    assert code == 1, out
    assert "util==2.0" in out, out


@pytest.mark.parametrize("how", ["deleted", "emptied"])
def test_revocations_removed_from_the_lock_fails_check(
    scene: Scene, tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    def drop(document: dict[str, Any]) -> None:
        tool = document["tool"]["lockkeys"]
        if how == "deleted":
            del tool["revocations"]
        else:
            tool["revocations"] = []

    text = edited(scene, drop)
    code, out = run_diff(scene, text, tmp_path, capsys)
    assert code == 1 and "revocations" in out, out
    code, out = run_check(scene, text, capsys)
    assert code == 1, out
    assert "tool.lockkeys.revocations" in out, out


def test_check_fails_with_a_whole_package_deleted(
    scene: Scene, capsys: pytest.CaptureFixture[str]
) -> None:
    def delete(document: dict[str, Any]) -> None:
        document["packages"].remove(entry(document, "bar"))

    code, out = run_check(scene, edited(scene, delete), capsys)
    assert code == 1, out
    assert "packages.bar: missing from the lock" in out, out


def test_check_fails_with_every_index_and_file_url_pointed_elsewhere(
    scene: Scene, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = "http://127.0.0.1:9/attacker/"

    def point(document: dict[str, Any]) -> None:
        for package in document["packages"]:
            package["index"] = elsewhere + "simple/"
            for wheel in package["wheels"]:
                wheel["url"] = elsewhere + wheel["name"]

    code, out = run_check(scene, edited(scene, point), capsys)
    assert code == 1, out
    assert ".index: the lock says 'http://127.0.0.1:9/attacker/simple/'" in out, out
    assert ".url: the lock says 'http://127.0.0.1:9/attacker/" in out, out


def test_check_fails_with_the_recorded_requirements_edited(
    scene: Scene, capsys: pytest.CaptureFixture[str]
) -> None:
    def edit(document: dict[str, Any]) -> None:
        document["tool"]["lockkeys"]["requirements"] = ["foo", "plat"]

    code, out = run_check(scene, edited(scene, edit), capsys)
    assert code == 1, out
    assert "tool.lockkeys.requirements: the lock says ['foo', 'plat']" in out, out


DIFF_FINDINGS: dict[str, tuple[Edit, str, str]] = {
    "file size": (
        lambda d: entry(d, "foo")["wheels"][0].update(size=10**9),
        "weakening     foo  files.foo-1.0-py3-none-any.whl.size: 1056 -> 1000000000",
        "file size changed",
    ),
    "requirements": (
        lambda d: d["tool"]["lockkeys"].update(requirements=["foo"]),
        "neutral       *  requirements:",
        "recorded requirements changed",
    ),
    "signature-stores": (
        lambda d: d["tool"]["lockkeys"].update({"signature-stores": ["https://evil.invalid/"]}),
        "weakening     *  signature-stores:",
        "signature store added",
    ),
    "required-by": (
        lambda d: entry(d, "util")["tool"]["lockkeys"].update({"required-by": ["app"]}),
        "neutral       util  required-by: ['foo'] -> ['app']",
        "provenance changed",
    ),
    "reason": (
        lambda d: entry(d, "broken")["tool"]["lockkeys"].update(reason="nothing to see"),
        "neutral       broken  reason:",
        "reason changed",
    ),
    "created-by": (
        lambda d: d.update({"created-by": "someone"}),
        "neutral       *  created-by: lockkeys -> someone",
        "created-by changed",
    ),
}


@pytest.mark.parametrize("finding", sorted(DIFF_FINDINGS))
def test_diff_reports_sizes_requirements_stores_required_by_reason_created_by(
    scene: Scene, tmp_path: Path, capsys: pytest.CaptureFixture[str], finding: str
) -> None:
    edit, line, what = DIFF_FINDINGS[finding]
    text = edited(scene, edit)
    code, out = run_diff(scene, text, tmp_path, capsys)
    assert code == (1 if line.startswith("weakening") else 0), out
    assert line in out and what in out, out
    code, out = run_check(scene, text, capsys)
    assert code == 1, out


def test_an_unknown_key_is_a_weakening_for_diff_and_fails_check(
    scene: Scene, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A PEP 751 key lockkeys does not read (kept by packaging, ignored by the installer):
    fail closed."""

    def add(document: dict[str, Any]) -> None:
        when = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
        entry(document, "foo")["wheels"][0]["upload-time"] = when

    text = edited(scene, add)
    code, out = run_diff(scene, text, tmp_path, capsys)
    assert code == 1, out
    assert "weakening     foo  files.foo-1.0-py3-none-any.whl.upload-time:" in out, out
    code, out = run_check(scene, text, capsys)
    assert code == 1 and "upload-time" in out, out


def test_relock_output_names_a_fork_marker_and_a_moved_file(scene: Scene) -> None:
    """`lockkeys lock` prints what a re-lock changed: a fork's marker and a file's URL are
    changes too (forks used to be merged with no marker, files compared by hash only)."""
    from lockkeys._internal.lockmodel.changes import version_changes
    from lockkeys._internal.lockmodel.io import parse_lock

    def edit(document: dict[str, Any]) -> None:
        entry(document, "lib", "2.0")["marker"] = 'sys_platform == "linux"'
        foo = entry(document, "foo")["wheels"][0]
        foo["url"] = foo["url"].replace("/packages/", "/elsewhere/")

    old = parse_lock(scene.text, "old.toml")
    new = parse_lock(edited(scene, edit), "new.toml")
    lines = [c.line() for c in version_changes(old, new)]
    assert any(line.startswith("lib: marker ") and "linux" in line for line in lines), lines
    assert "foo 1.0: 1 file(s) with another URL, path or size" in lines, lines


def test_new_fork_with_a_weaker_policy_beside_a_narrowed_entry_is_a_weakening(
    scene: Scene, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The fork finding without `verify = "none"`: the added entry of `util` keeps hashes
    but drops the 2-of-2 signatures; "package added" alone would hide that."""

    def fork(document: dict[str, Any]) -> None:
        real = entry(document, "util")
        evil = copy.deepcopy(real)
        evil["version"] = "2.0"
        evil["marker"] = 'sys_platform == "win32"'
        evil["wheels"][0]["name"] = "util-2.0-py3-none-any.whl"
        evil["wheels"][0]["url"] = real["wheels"][0]["url"].replace("2.1", "2.0")
        evil["tool"]["lockkeys"] = {"verify": "hashes", "source": "public"}
        real["marker"] = 'sys_platform == "linux"'
        document["packages"].append(evil)

    text = edited(scene, fork)
    code, out = run_diff(scene, text, tmp_path, capsys)
    assert code == 1, out
    assert "weakening     util==2.0  policy: hashes+signatures 2-of-2 from public" in out, out
    assert "-> hashes from public" in out, out
    code, out = run_check(scene, text, capsys)
    assert code == 1 and "packages.util==2.0.verify" in out, out


def test_reordered_package_entries_are_reported_and_fail_check(
    scene: Scene, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not a weakening (entries are found by name, version and marker), but not what
    `lockkeys lock` writes either: diff lists it, check fails."""

    def reverse(document: dict[str, Any]) -> None:
        document["packages"].reverse()

    text = edited(scene, reverse)
    code, out = run_diff(scene, text, tmp_path, capsys)
    assert code == 0 and "neutral       *  packages (order):" in out, out
    code, out = run_check(scene, text, capsys)
    assert code == 1 and "packages (order)" in out, out
