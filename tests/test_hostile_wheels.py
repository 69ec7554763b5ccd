"""Issue 12, item 4 (threat-model row 22): a wheel whose RECORD lies is refused before install.

A RECORD naming another package's files, `../../bin/python` or an absolute path, listing a
file twice, leaving a file out, or with hashes or sizes that do not match the members: each is
a refusal (exit 1), so that no installer later deletes those paths while uninstalling it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import sys
import textwrap
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from fixtures.wheelmaker import build_wheel
from lockkeys._internal.cli import main
from lockkeys._internal.locking.locker import lock as lock_config
from lockkeys._internal.trust.signing import sign_files
from lockkeys._internal.wheelrecord import check_wheel_record
from lockkeys.errors import VerificationError

KEYS = Path(__file__).resolve().parent.parent / "fixtures" / "data" / "keys"


def digest(data: bytes, algorithm: str = "sha256") -> str:
    raw = hashlib.new(algorithm, data).digest()
    return f"{algorithm}=" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def rewrite(wheel: Path, edit: Callable[[dict[str, bytes]], None]) -> Path:
    """Rewrite the wheel's members (RECORD included) with ``edit``."""
    with zipfile.ZipFile(wheel) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    edit(members)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    wheel.write_bytes(out.getvalue())
    return wheel


RECORD = "foo-1.0.dist-info/RECORD"


def add_row(row: str) -> Callable[[dict[str, bytes]], None]:
    def edit(members: dict[str, bytes]) -> None:
        members[RECORD] = members[RECORD] + row.encode() + b"\n"

    return edit


@pytest.fixture
def wheel(tmp_path: Path) -> Path:
    return build_wheel(tmp_path, "foo", "1.0")


def test_item4_honest_wheels_pass(fixture_data: Path) -> None:
    paths = sorted(fixture_data.glob("*/*.whl"))
    assert len(paths) >= 8, paths  # the bundled public and private wheels
    for path in paths:
        check_wheel_record(path, package=path.name.split("-")[0])


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("bar/__init__.py,sha256=AAAA,10", "which is not in the wheel"),
        ("../../bin/python,sha256=AAAA,10", "'..'"),
        ("/usr/bin/python,sha256=AAAA,10", "absolute path"),
        ("C:\\\\Windows\\\\x.dll,sha256=AAAA,10", "absolute path"),
        ("foo/../../../etc/passwd,,", "'..'"),
        ("foo/__init__.py,sha256=AAAA,10", "twice"),
        ("not,a,record,row", "path,hash,size"),
    ],
    ids=["other-package", "dotdot", "absolute", "drive", "nested-dotdot", "duplicate", "bad-row"],
)
def test_item4_lying_record_rows_refused(wheel: Path, row: str, message: str) -> None:
    rewrite(wheel, add_row(row))
    with pytest.raises(VerificationError, match="RECORD does not tell the truth") as info:
        check_wheel_record(wheel, package="foo")
    assert message in info.value.message


def test_item4_record_hash_not_matching_member_refused(wheel: Path) -> None:
    def edit(members: dict[str, bytes]) -> None:
        members["foo/__init__.py"] = b"raise SystemExit('changed')\n"  # RECORD left as it was

    rewrite(wheel, edit)
    with pytest.raises(VerificationError, match="does not match its bytes"):
        check_wheel_record(wheel, package="foo")


def test_item4_file_not_listed_and_weak_hash_refused(wheel: Path, tmp_path: Path) -> None:
    def unlisted(members: dict[str, bytes]) -> None:
        members["foo/extra.py"] = b"x = 1\n"

    rewrite(wheel, unlisted)
    with pytest.raises(VerificationError, match="not listed"):
        check_wheel_record(wheel, package="foo")

    weak = build_wheel(tmp_path / "weak", "foo", "1.0")

    def md5(members: dict[str, bytes]) -> None:
        data = members["foo/__init__.py"]
        lines = members[RECORD].decode().splitlines()
        lines = [
            f"foo/__init__.py,{digest(data, 'md5')},{len(data)}"
            if line.startswith("foo/__init__.py,")
            else line
            for line in lines
        ]
        members[RECORD] = ("\n".join(lines) + "\n").encode()

    rewrite(weak, md5)
    with pytest.raises(VerificationError, match="weak or unknown hash"):
        check_wheel_record(weak, package="foo")


def test_item4_signed_wheel_with_lying_record_refused_by_verify(
    fixture_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """End to end: a rebuild signed by the trusted key (policy signatures) whose RECORD names
    `../../bin/python` is refused by `lockkeys verify` (exit 1) before any installer runs."""
    scene = tmp_path / "scene"
    shutil.copytree(fixture_data / "public", scene / "pub")
    shutil.copytree(fixture_data / "keys", scene / "keys")
    (scene / "requirements.in").write_text("util==2.1\n", encoding="utf-8")
    (scene / "lockkeys.toml").write_text(
        textwrap.dedent(
            """
            requirements = ["requirements.in"]
            [[sources]]
            name = "pub"
            path = "pub"
            [signers]
            alice = "keys/alice.asc"
            [packages.util]
            signers = ["alice"]
            verify = "signatures"
            """
        ),
        encoding="utf-8",
    )
    lock = lock_config(scene / "lockkeys.toml").path
    evil = scene / "pub" / "util-2.1-py3-none-any.whl"
    rewrite(
        evil,
        lambda m: m.__setitem__(
            "util-2.1.dist-info/RECORD",
            m["util-2.1.dist-info/RECORD"] + b"../../bin/python,sha256=AAAA,10\n",
        ),
    )
    Path(f"{evil}.asc").unlink()
    sign_files([evil], KEYS / "alice.secret.asc")
    capsys.readouterr()
    code = main(["--lock", str(lock), "verify", "--python", sys.executable])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "RECORD does not tell the truth" in err and "util" in err


def _patch_headers(data: bytes, field_offset: int, value: bytes, signature: bytes) -> bytes:
    out = bytearray(data)
    at = out.find(signature)
    while at != -1:
        out[at + field_offset : at + field_offset + len(value)] = value
        at = out.find(signature, at + 4)
    return bytes(out)


@pytest.mark.parametrize("damage", ["compression-method", "utf8-flag-invalid-name", "zip-version"])
def test_fuzz_finding_hostile_zip_headers_are_refusals_not_crashes(
    wheel: Path, damage: str
) -> None:
    """benchmarks/fuzz.py (wheel) found zipfile raising NotImplementedError (unknown zip version
    or compression method) and UnicodeDecodeError (a name flagged UTF-8 that is not) where the
    metadata and RECORD readers expected only BadZipFile: each escaped as exit 70."""
    from lockkeys._internal.install.metadata import read_wheel_metadata

    data = wheel.read_bytes()
    central = b"PK\x01\x02"
    if damage == "compression-method":
        data = _patch_headers(data, 10, (99).to_bytes(2, "little"), central)
    elif damage == "zip-version":
        data = _patch_headers(data, 6, (84).to_bytes(2, "little"), central)
    else:
        data = _patch_headers(data, 8, (0x800).to_bytes(2, "little"), central)
        data = data.replace(b"foo/__init__.py", b"foo/\xb5_init__.py")
    wheel.write_bytes(data)
    with pytest.raises(VerificationError):
        read_wheel_metadata(wheel, package="foo")
    with pytest.raises(VerificationError):
        check_wheel_record(wheel, package="foo")


def test_fuzz_finding_a_corrupt_deflate_stream_is_a_refusal_not_a_crash(
    wheel: Path, tmp_path: Path
) -> None:
    """tests/test_fuzz.py (wheel) found zlib.error escaping the metadata reader: a member whose
    deflate stream is invalid (not merely a wrong CRC) raised it from zipfile's decompressor,
    which neither reader expected (exit 70)."""
    from lockkeys._internal.install.metadata import read_wheel_metadata

    members: dict[str, bytes] = {}
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            members[info.filename] = archive.read(info)
    broken = tmp_path / wheel.name
    with zipfile.ZipFile(broken, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in members.items():
            archive.writestr(name, body)
    data = bytearray(broken.read_bytes())
    metadata = next(n for n in members if n.endswith(".dist-info/METADATA"))
    header = data.index(b"PK\x03\x04")  # the first local header
    while True:  # find METADATA's local header, then the first byte of its deflate stream
        name_len = int.from_bytes(data[header + 26 : header + 28], "little")
        extra_len = int.from_bytes(data[header + 28 : header + 30], "little")
        if bytes(data[header + 30 : header + 30 + name_len]) == metadata.encode():
            break
        header = data.index(b"PK\x03\x04", header + 4)
    data[header + 30 + name_len + extra_len] = 0xFF  # block type 3: reserved, invalid
    broken.write_bytes(bytes(data))
    with pytest.raises(VerificationError) as refused:
        read_wheel_metadata(broken, package="foo")
    assert "not a readable wheel" in refused.value.message
    with pytest.raises(VerificationError):
        check_wheel_record(broken, package="foo")
