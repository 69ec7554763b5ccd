"""lockkeys._internal.markers: what environments a lock covers, and markers with extras and
groups."""

from __future__ import annotations

import pytest
from packaging.markers import Marker, default_environment
from packaging.specifiers import SpecifierSet

from lockkeys._internal.markers import (
    covers,
    lowest_python,
    requires_python_marker,
    resolve_selection,
    running_environment,
    selection_marker,
    with_selection,
)

HERE = {k: str(v) for k, v in default_environment().items()}


def test_running_environment_is_true_here_and_names_platform_and_python() -> None:
    marker = running_environment()
    assert Marker(marker).evaluate()
    for key in ("sys_platform", "platform_machine", "implementation_name", "python_version"):
        assert key in marker
    other = HERE | {"python_version": "3.10", "python_full_version": "3.10.1"}
    assert not Marker(marker).evaluate(other)


@pytest.mark.parametrize(
    ("spec", "floor"),
    [(">=3.9", "3.9"), (">3.8", "3.8"), ("~=3.10", "3.10"), ("==3.12.*", "3.12"), ("<2", None)],
)
def test_lowest_python(spec: str, floor: str | None) -> None:
    assert lowest_python(SpecifierSet(spec)) == floor


def test_requires_python_as_marker_terms() -> None:
    marker = Marker(requires_python_marker(SpecifierSet(">=3.9,<3.13")))
    assert marker.evaluate(HERE | {"python_full_version": "3.12.4"})
    assert not marker.evaluate(HERE | {"python_full_version": "3.13.0"})
    assert not marker.evaluate(HERE | {"python_full_version": "3.8.10"})


def test_covers_names_what_is_outside() -> None:
    assert covers(HERE, environments=None, requires_python=None) == []
    win = HERE | {"sys_platform": "win32"}
    problems = covers(win, environments=['sys_platform == "linux"'], requires_python=">=3.0")
    assert problems == ["it matches none of the lock's environments"]
    old = HERE | {"python_full_version": "3.10.2"}
    assert covers(old, environments=None, requires_python=">=3.11") == [
        "Python 3.10.2 is outside requires-python >=3.11"
    ]


def test_selection_markers_resolve_for_a_requirements_file() -> None:
    needed = with_selection('sys_platform == "win32"', selection_marker(["security"], ["dev"]))
    assert resolve_selection(needed, {"security"}, set()) == 'sys_platform == "win32"'
    assert resolve_selection(needed, set(), {"dev"}) == 'sys_platform == "win32"'
    assert resolve_selection(needed, set(), set()) is False
    only = selection_marker(["security"], [])
    assert resolve_selection(only, {"security"}, set()) is True
    assert resolve_selection(None, set(), set()) is True
    either = 'python_version < "3.11" or "dev" in dependency_groups'
    assert resolve_selection(either, set(), {"dev"}) is True
    assert resolve_selection(either, set(), set()) == 'python_version < "3.11"'
