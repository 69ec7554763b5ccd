"""The lock format: round trip, determinism, and strict parsing with field paths (row 17)."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.pylock import Pylock

from lockkeys._internal.lockmodel.io import dumps_lock, parse_lock, read_lock, write_lock
from lockkeys.errors import InputError
from tests.support.lockdocs import FPR_A, dump_doc, sample_doc, sample_lock


def test_round_trip_and_pep751_valid(tmp_path: Path) -> None:
    lock = sample_lock()
    text = dumps_lock(lock)
    Pylock.from_dict(tomllib.loads(text))  # a valid PEP 751 document
    again = parse_lock(text, "pylock.toml")
    assert dumps_lock(again) == text
    assert [p.name for p in again.packages] == ["bar", "foo"]  # sorted
    path = tmp_path / "pylock.toml"
    assert write_lock(path, lock) is True
    assert write_lock(path, again) is False  # same bytes: nothing written
    assert read_lock(path) == again


def _mutate(path: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(sample_doc())
    target: Any = doc
    parts = path.split("/")
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target[part]
    last = parts[-1]
    if value is _DELETE:
        del target[last]
    elif last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return doc


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            "packages/1/tool/lockkeys/threshold",
            3,
            "packages[1].tool.lockkeys.threshold: 3 is out of range",
        ),
        (
            "packages/1/tool/lockkeys/threshold",
            0,
            "packages[1].tool.lockkeys.threshold: 0 is out of range",
        ),
        ("packages/1/tool/lockkeys/signers", [FPR_A, FPR_A], "packages[1].tool.lockkeys.signers"),
        (
            "packages/1/tool/lockkeys/signers",
            [FPR_A, "C" * 40],
            "packages[1].tool.lockkeys.signers[1]",
        ),
        (
            "packages/1/tool/lockkeys/signers",
            [FPR_A, "ABCD1234"],
            "packages[1].tool.lockkeys.signers",
        ),
        ("packages/1/tool/lockkeys/verify", "maybe", "packages[1].tool.lockkeys.verify"),
        ("packages/1/tool/lockkeys/source", "elsewhere", "packages[1].tool.lockkeys.source"),
        ("packages/1/tool/lockkeys/thresold", 1, "packages[1].tool.lockkeys.thresold: unknown key"),
        ("packages/0/tool/lockkeys/signers", [FPR_A], "packages[0].tool.lockkeys"),
        (
            "packages/0/wheels/0/hashes",
            {"md5": "ab" * 16},
            "packages[0].wheels[0].hashes.md5: md5 is not accepted",
        ),
        ("packages/0/wheels/0/hashes", {"sha1": "ab" * 20}, "packages[0].wheels[0].hashes.sha1"),
        ("packages/0/wheels/0/size", _DELETE, "packages[0].wheels[0].size"),
        ("packages/0/wheels/0/name", "../evil.whl", "packages[0].wheels[0]"),
        ("tool/lockkeys/lock-version", "2", "tool.lockkeys.lock-version: unknown lock version"),
        ("tool/lockkeys/inputs-digest", "md5:00", "tool.lockkeys.inputs-digest"),
        (
            "tool/lockkeys/signers/bob/fingerprint",
            FPR_A,
            "tool.lockkeys.signers.bob.fingerprint: duplicate",
        ),
        ("tool/lockkeys/signers/bob/fingerprint", "abc", "tool.lockkeys.signers.bob.fingerprint"),
        ("tool/lockkeys", _DELETE, "tool.lockkeys: missing"),
        ("lock-version", "2.0", "lock-version"),
    ],
)
def test_ambiguous_or_weak_lock_rejected_with_path(path: str, value: Any, message: str) -> None:
    doc = _mutate(path, value)
    with pytest.raises(InputError) as info:
        parse_lock(dump_doc(doc), "pylock.toml")
    assert message in str(info.value), str(info.value)
    assert info.value.file == "pylock.toml"


def test_duplicate_package_rejected() -> None:
    doc = sample_doc()
    doc["packages"].append(copy.deepcopy(doc["packages"][0]))
    with pytest.raises(InputError, match=r"packages\[2\]\.name: 'bar' is locked twice"):
        parse_lock(dump_doc(doc), "pylock.toml")


def test_garbage_lock(tmp_path: Path) -> None:
    bad = tmp_path / "pylock.toml"
    bad.write_text("this is [not toml")
    with pytest.raises(InputError, match="not valid TOML"):
        read_lock(bad)
    with pytest.raises(InputError, match="not found"):
        read_lock(tmp_path / "missing.toml")


def test_same_key_in_two_encodings_is_the_same_key_material() -> None:
    """Legacy EdDSA (22) and native Ed25519 (27) packets of one key: two fingerprints, one key
    (threshold inflation by re-encoding, threat-model row 9)."""
    import os

    from lockkeys._internal.openpgp.keypacket import parse_key_packet

    raw = os.urandom(32)
    created = (1_600_000_000).to_bytes(4, "big")
    oid = bytes.fromhex("2b06010401da470f01")
    legacy = bytes([4]) + created + bytes([22, len(oid)]) + oid + (263).to_bytes(2, "big")
    legacy += b"\x40" + raw
    native = bytes([4]) + created + bytes([27]) + raw
    a, b = parse_key_packet(legacy), parse_key_packet(native)
    assert a.fingerprint != b.fingerprint
    assert a.material == b.material
