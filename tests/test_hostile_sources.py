"""Issue 12, item 7: a signature file or store that answers 5xx or cannot be reached is a
source problem (exit 3, naming the URL), unless the threshold is met without it."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from lockkeys._internal.locking.locker import lock as lock_config
from tests.support.cli import Cli
from tests.support.hostile import HostileServer, Serve, hostile_server

UTIL_ASC = "util-2.1-py3-none-any.whl.asc"


@pytest.fixture
def scene(fixture_data: Path, tmp_path: Path) -> Iterator[tuple[Path, HostileServer]]:
    """An honest index over a copy of public/; `util` needs alice and bob (2 of 2); a
    signature store on the same server (empty until a test fills it)."""
    import shutil

    scene = tmp_path / "scene"
    for folder in ("public", "keys"):
        shutil.copytree(fixture_data / folder, scene / folder)
    with hostile_server() as server:
        server.serve_folder(scene / "public")
        server.set(f"/store/{UTIL_ASC}", Serve(b"", status=404))
        (scene / "requirements.in").write_text("util==2.1\n", encoding="utf-8")
        (scene / "lockkeys.toml").write_text(
            textwrap.dedent(
                f"""
                requirements = ["requirements.in"]
                signature-stores = ["{server.base}/store/", "http://127.0.0.1:9/unreachable/"]
                [[sources]]
                name = "idx"
                url = "{server.index_url}"
                [signers]
                alice = "keys/alice.asc"
                bob = "keys/bob.asc"
                [packages.util]
                signers = ["alice", "bob"]
                threshold = 2
                verify = "signatures"
                """
            ),
            encoding="utf-8",
        )
        outcome = lock_config(scene / "lockkeys.toml")
        assert outcome.written
        yield outcome.path, server


def test_item7_signature_file_answering_5xx_is_exit_3_naming_the_url(
    scene: tuple[Path, HostileServer], cli: Cli
) -> None:
    lock, server = scene
    server.set_file(UTIL_ASC, Serve(b"overloaded", status=503))
    code, _, err = cli("--lock", lock, "verify", "--python", sys.executable, "--timeout", "5")
    assert code == 3, err
    assert server.file_url(UTIL_ASC) in err
    assert "threshold is not met without it" in err


def test_item7_unreachable_store_does_not_matter_when_threshold_is_met(
    scene: tuple[Path, HostileServer], cli: Cli
) -> None:
    lock, server = scene
    server.set(f"/store/{UTIL_ASC}", Serve(b"down", status=500))  # and 127.0.0.1:9 is closed
    code, out, err = cli("--lock", lock, "verify", "--python", sys.executable, "--timeout", "5")
    assert code == 0, err
    assert "util" in out


def only_alice(server: HostileServer, tmp_path: Path) -> None:
    """Serve util's signature file with alice's signature only (bob's is missing)."""
    from lockkeys._internal.trust.signatures import armor_signatures, load_signatures

    original = load_signatures(Path(server.folder or ".") / UTIL_ASC)
    server.set_file(UTIL_ASC, Serve(armor_signatures([original[0].packet]).encode()))


def test_item7_threshold_short_while_a_store_is_unreachable_is_exit_3(
    scene: tuple[Path, HostileServer], cli: Cli, tmp_path: Path
) -> None:
    lock, server = scene
    only_alice(server, tmp_path)
    code, _, err = cli("--lock", lock, "verify", "--python", sys.executable, "--timeout", "5")
    assert code == 3, err  # the closed store (127.0.0.1:9) might hold bob's signature
    assert "http://127.0.0.1:9/unreachable/" + UTIL_ASC in err


def test_item7_threshold_short_with_every_source_answering_stays_a_refusal(
    scene: tuple[Path, HostileServer], cli: Cli, tmp_path: Path
) -> None:
    lock, server = scene
    only_alice(server, tmp_path)
    import tomllib

    import tomli_w

    document = tomllib.loads(lock.read_text(encoding="utf-8"))
    stores = document["tool"]["lockkeys"]["signature-stores"]
    assert "http://127.0.0.1:9/unreachable/" in stores
    stores.remove("http://127.0.0.1:9/unreachable/")
    lock.write_text(tomli_w.dumps(document), encoding="utf-8")
    code, _, err = cli("--lock", lock, "verify", "--python", sys.executable, "--timeout", "5")
    assert code == 1, err
    assert "signature threshold not met" in err
