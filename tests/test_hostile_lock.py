"""Issue 12, items 1 and 6: a lock nobody can weaken quietly, and lock fields as strict as the
configuration's."""

from __future__ import annotations

import copy
import logging
from typing import Any

import pytest
import tomli_w

from lockkeys.errors import InputError
from lockkeys.lockfile.io import parse_lock
from tests.test_lock_model import _doc

# --- item 6: strict lock fields ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["packages"][1]["tool"]["lockkeys"].update(threshold=True), "threshold"),
        (lambda d: d["packages"][1]["tool"]["lockkeys"].update(threshold="2"), "threshold"),
        (lambda d: d["packages"][1]["tool"]["lockkeys"].update(threshold=2.0), "threshold"),
        (lambda d: d["packages"][0]["tool"]["lockkeys"].update(override="yes"), "override"),
        (lambda d: d["packages"][0]["tool"]["lockkeys"].update({"allow-sdist": 1}), "allow-sdist"),
        (lambda d: d["packages"][0]["tool"]["lockkeys"].update(source=7), "source"),
        (
            lambda d: d["tool"]["lockkeys"]["sources"][0].update(path="wheelhouse"),
            "exactly one of url",
        ),
        (lambda d: d["tool"]["lockkeys"]["sources"][0].pop("url"), "exactly one of url"),
    ],
    ids=[
        "threshold-true",
        "threshold-str",
        "threshold-float",
        "override-str",
        "allow-sdist-int",
        "source-int",
        "source-url-and-path",
        "source-neither",
    ],
)
def test_item6_lax_lock_values_are_errors(edit: Any, message: str) -> None:
    doc = copy.deepcopy(_doc())
    edit(doc)
    with pytest.raises(InputError, match=message):
        parse_lock(tomli_w.dumps(doc), "pylock.toml")


def test_item6_same_file_name_twice_in_one_package_is_an_error() -> None:
    doc = copy.deepcopy(_doc())
    wheel = copy.deepcopy(doc["packages"][0]["wheels"][0])
    wheel["hashes"] = {"sha256": "f" * 64}  # same name, different hash: which one is it?
    doc["packages"][0]["wheels"].append(wheel)
    with pytest.raises(InputError, match=r"packages\[0\]\.wheels\[1\]\.name: .* listed twice"):
        parse_lock(tomli_w.dumps(doc), "pylock.toml")


def test_item6_newer_pep751_minor_version_warned_once_with_prefix(
    caplog: pytest.LogCaptureFixture,
) -> None:
    doc = copy.deepcopy(_doc())
    doc["lock-version"] = "1.9"
    text = tomli_w.dumps(doc)
    with caplog.at_level(logging.WARNING):
        parse_lock(text, "newer.toml")
        parse_lock(text, "newer.toml")
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1, messages
    assert messages[0].startswith("lockkeys: warning: newer.toml:")
    assert "1.9" in messages[0]
