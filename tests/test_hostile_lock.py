"""Issue 12, items 1 and 6: a lock nobody can weaken quietly, and lock fields as strict as the
configuration's."""

from __future__ import annotations

import copy
import logging
from typing import Any

import pytest
import tomli_w

from lockkeys._internal.lockmodel.io import parse_lock
from lockkeys.errors import InputError
from tests.support.lockdocs import sample_doc

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
    doc = copy.deepcopy(sample_doc())
    edit(doc)
    with pytest.raises(InputError, match=message):
        parse_lock(tomli_w.dumps(doc), "pylock.toml")


def test_item6_same_file_name_twice_in_one_package_is_an_error() -> None:
    doc = copy.deepcopy(sample_doc())
    wheel = copy.deepcopy(doc["packages"][0]["wheels"][0])
    wheel["hashes"] = {"sha256": "f" * 64}  # same name, different hash: which one is it?
    doc["packages"][0]["wheels"].append(wheel)
    with pytest.raises(InputError, match=r"packages\[0\]\.wheels\[1\]\.name: .* listed twice"):
        parse_lock(tomli_w.dumps(doc), "pylock.toml")


def test_item6_newer_pep751_minor_version_warned_once_with_prefix(
    caplog: pytest.LogCaptureFixture,
) -> None:
    doc = copy.deepcopy(sample_doc())
    doc["lock-version"] = "1.9"
    text = tomli_w.dumps(doc)
    with caplog.at_level(logging.WARNING):
        parse_lock(text, "newer.toml")
        parse_lock(text, "newer.toml")
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1, messages
    assert messages[0].startswith("lockkeys: warning: newer.toml:")
    assert "1.9" in messages[0]


# --- item 1: lock --check compares the lock's trust content ------------------------------------

CONFIG = """\
requirements = ["requirements.in"]
[[sources]]
name = "pub"
path = "pub"
[signers]
alice = "keys/alice.asc"
bob = "keys/bob.asc"
[packages.util]
signers = ["alice", "bob"]
threshold = 2
verify = "signatures"
"""


@pytest.fixture
def locked_scene(fixture_data: Any, tmp_path: Any) -> Any:
    import shutil

    from lockkeys._internal.locking.locker import lock as lock_config

    scene = tmp_path / "scene"
    shutil.copytree(fixture_data / "public", scene / "pub")
    shutil.copytree(fixture_data / "keys", scene / "keys")
    (scene / "requirements.in").write_text("util==2.1\nbar==1.1\n", encoding="utf-8")
    (scene / "lockkeys.toml").write_text(CONFIG, encoding="utf-8")
    lock_config(scene / "lockkeys.toml")
    return scene


def check(scene: Any, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from lockkeys._internal.cli import main

    capsys.readouterr()
    code = main(["--config", str(scene / "lockkeys.toml"), "lock", "--check"])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def edit_lock(scene: Any, edit: Any) -> None:
    import tomllib

    path = scene / "pylock.toml"
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    edit(document)
    path.write_text(tomli_w.dumps(document), encoding="utf-8")


def package(document: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(p for p in document["packages"] if p["name"] == name)
    return found


def test_item1_lock_check_catches_a_hand_weakened_lock(
    locked_scene: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = check(locked_scene, capsys)
    assert code == 0, output
    assert "up to date" in output

    def weaken(document: dict[str, Any]) -> None:
        util = package(document, "util")["tool"]["lockkeys"]
        util["signers"] = util["signers"][:1]  # 2-of-2 -> 1-of-1
        util["threshold"] = 1
        bar = package(document, "bar")["tool"]["lockkeys"]
        bar["verify"] = "none"  # hashes -> none

    edit_lock(locked_scene, weaken)
    code, output = check(locked_scene, capsys)
    assert code == 1, output
    # The policy comparison (lockkeys._internal.locktrust.relock) names each field; the sources,
    # stores and files are compared by lockkeys._internal.locking.drift (next test).
    assert "trust differs" in output or "trust content differs" in output
    assert "packages.util.threshold: the lock says 1" in output
    assert "packages.util.signers" in output
    assert "packages.bar.verify: the lock says 'none'" in output


@pytest.mark.parametrize("what", ["hash", "certificate", "source", "store"])
def test_item1_lock_check_catches_swapped_hashes_certificates_and_sources(
    locked_scene: Any, capsys: pytest.CaptureFixture[str], what: str
) -> None:
    carol = (locked_scene / "keys" / "carol.asc").read_text(encoding="utf-8")

    def tamper(document: dict[str, Any]) -> None:
        tool = document["tool"]["lockkeys"]
        if what == "hash":
            package(document, "bar")["wheels"][0]["hashes"]["sha256"] = "0" * 64
        elif what == "certificate":
            tool["signers"]["bob"]["certificate"] = carol
        elif what == "source":
            tool["sources"][0]["path"] = "elsewhere"
        else:
            tool["signature-stores"] = ["https://attacker.example/sigs/"]

    edit_lock(locked_scene, tamper)
    code, output = check(locked_scene, capsys)
    assert code == 1, output
    expected = {
        "hash": "packages.bar.files",
        # caught first by the certificate-file comparison (lockkeys._internal.locktrust.relock)
        "certificate": "signer bob",
        "source": "sources",
        "store": "signature-stores",
    }[what]
    assert expected in output, output
