"""Revocations read at deploy time (item 2), on GnuPG-made keys and revocation certificates."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from gnupg import GnuPG

from lockkeys._internal.locktrust.revocations import apply_revocations
from lockkeys._internal.trust.certs import Keyring, parse_certificate
from lockkeys._internal.trust.keygen import generate_key
from lockkeys._internal.trust.signatures import load_signatures
from lockkeys._internal.trust.threshold import Reason, evaluate_threshold
from lockkeys.errors import SourceError

pytestmark = pytest.mark.skipif(shutil.which("gpg") is None, reason="GnuPG is not installed")


@pytest.fixture
def gpg() -> Iterator[GnuPG]:
    with GnuPG() as g:
        yield g


def _revocation(g: GnuPG, fpr: str, code: int, at: str) -> bytes:
    """A revocation certificate, without importing it (the key stays usable in gpg)."""
    out = g.home / f"rev-{code}.asc"
    answers = f"y\n{code}\n\ny\n".encode()
    g.run(
        "--command-fd", "0", "--output", out, "--gen-revoke", fpr, at=at, stdin=answers, batch=False
    )
    return out.read_bytes()


@pytest.mark.parametrize(("code", "hard"), [(1, True), (0, True), (2, False), (3, False)])
def test_published_revocation_applies_without_relock(
    gpg: GnuPG, tmp_path: Path, code: int, hard: bool
) -> None:
    data = tmp_path / "file.whl"
    data.write_bytes(b"wheel bytes\n")
    fpr = gpg.gen_key("Revocable (TEST ONLY)", at="20240101T000000")
    before = gpg.sign(fpr, data, at="20240201T000000")
    pinned = Keyring([parse_certificate(gpg.export(fpr), "pinned", "alice")])
    folder = tmp_path / "revocations"
    folder.mkdir()
    (folder / "alice.rev.asc").write_bytes(_revocation(gpg, fpr, code, "20240301T000000"))
    after = gpg.sign(fpr, data, at="20240401T000000")
    # Nothing published yet in an empty folder: both count.
    empty = tmp_path / "empty"
    empty.mkdir()
    assert apply_revocations(pinned, [str(empty)], tmp_path).notes == []
    outcome = apply_revocations(pinned, ["revocations"], tmp_path)
    assert outcome.keyring.get(fpr) is not None and outcome.keyring.get(fpr).facts.revoked
    assert any("published revocation of primary key" in n for n in outcome.notes)
    older = evaluate_threshold(data, load_signatures(before), outcome.keyring, 1)
    newer = evaluate_threshold(data, load_signatures(after), outcome.keyring, 1)
    assert not newer.met and [u.reason for u in newer.uncounted] == [Reason.REVOKED]
    assert older.met is (not hard), older.explain()


def test_lockkeys_revocation_file_and_unpinned_material(tmp_path: Path, gpg: GnuPG) -> None:
    """NAME.revocation.asc (text around the armor) works; a stranger's revocation is noted."""
    mine = generate_key("mine", out_dir=tmp_path / "k")
    other = generate_key("other", out_dir=tmp_path / "k")
    pinned = Keyring([parse_certificate(mine.certificate.read_bytes(), "m", "mine")])
    folder = tmp_path / "rev"
    folder.mkdir()
    shutil.copy(mine.revocation, folder / "mine.revocation.asc")
    shutil.copy(other.revocation, folder / "other.revocation.asc")
    outcome = apply_revocations(pinned, [str(folder)], tmp_path)
    assert outcome.keyring.get(mine.fingerprint).facts.revoked
    assert any(other.fingerprint in n and "not a key this lock pins" in n for n in outcome.notes)


def test_unreachable_sources_are_source_errors_and_offline_skips_urls(tmp_path: Path) -> None:
    mine = generate_key("mine", out_dir=tmp_path / "k")
    pinned = Keyring([parse_certificate(mine.certificate.read_bytes(), "m", "mine")])
    with pytest.raises(SourceError, match="not a readable folder"):
        apply_revocations(pinned, ["missing"], tmp_path)
    with pytest.raises(SourceError):
        apply_revocations(pinned, ["http://127.0.0.1:9/revocations.asc"], tmp_path, timeout=2)
    outcome = apply_revocations(
        pinned, ["http://127.0.0.1:9/revocations.asc"], tmp_path, offline=True
    )
    assert outcome.notes == [
        "revocations: http://127.0.0.1:9/revocations.asc was not read (offline)"
    ]
