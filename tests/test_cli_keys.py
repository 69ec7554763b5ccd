"""`lockkeys key generate|show`, `sign`, `verify-signature`: behaviour and exit codes."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from lockkeys._internal.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two Ed25519 keys and one RSA-3072 key made by `lockkeys key generate`."""
    folder = tmp_path_factory.mktemp("keys")
    for name, algo in (("alice", "ed25519"), ("bob", "ed25519"), ("carol", "rsa3072")):
        assert (
            main(
                [
                    "key",
                    "generate",
                    name,
                    "--out-dir",
                    str(folder),
                    "--algorithm",
                    algo,
                    "--uid",
                    f"{name} (TEST ONLY) <{name}@test.invalid>",
                ]
            )
            == 0
        )
    return folder


def test_generate_writes_three_files_secret_0600(keys: Path) -> None:
    for name in ("alice", "bob", "carol"):
        assert (keys / f"{name}.asc").read_text().startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
        secret = keys / f"{name}.secret.asc"
        assert secret.read_text().startswith("-----BEGIN PGP PRIVATE KEY BLOCK-----")
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        assert "-----BEGIN PGP SIGNATURE-----" in (keys / f"{name}.revocation.asc").read_text()


def test_generate_refuses_to_overwrite(keys: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = (keys / "alice.secret.asc").read_bytes()
    code, _, err = run(capsys, "key", "generate", "alice", "--out-dir", keys)
    assert code == 2
    assert "refusing to overwrite" in err and "alice" in err
    assert (keys / "alice.secret.asc").read_bytes() == before


def test_generate_expires_and_show_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "key", "generate", "exp", "--out-dir", tmp_path, "--expires", "2y")
    assert code == 0
    fpr = out.strip()
    code, out, _ = run(capsys, "key", "show", "--json", tmp_path / "exp.asc")
    assert code == 0
    shown = json.loads(out)[0]
    assert shown["fingerprint"] == fpr and len(fpr) == 40
    assert shown["expires"] is not None and shown["expires"].startswith(("2028", "2029"))
    assert shown["primary"]["capabilities"] == ["certify"]
    assert any(k["capabilities"] == ["sign"] for k in shown["subkeys"])
    assert shown["revoked"] is False and shown["secret"] is False


def test_passphrase_protected_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pw = tmp_path / "pw"
    pw.write_text("correct horse\n")
    assert (
        run(capsys, "key", "generate", "p", "--out-dir", tmp_path, "--passphrase-file", pw)[0] == 0
    )
    data = tmp_path / "data.bin"
    data.write_bytes(b"payload")
    code, _, err = run(capsys, "sign", data, "--key", tmp_path / "p.secret.asc")
    assert code == 2 and "passphrase" in err
    wrong = tmp_path / "wrong"
    wrong.write_text("nope\n")
    code, _, err = run(
        capsys, "sign", data, "--key", tmp_path / "p.secret.asc", "--passphrase-file", wrong
    )
    assert code == 2 and "passphrase" in err
    code, _, _ = run(
        capsys, "sign", data, "--key", tmp_path / "p.secret.asc", "--passphrase-file", pw
    )
    assert code == 0
    assert run(capsys, "verify-signature", data, "--signer", tmp_path / "p.asc")[0] == 0


def test_sign_appends_and_threshold(
    keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "pkg-1.0-py3-none-any.whl"
    data.write_bytes(b"wheel bytes" * 1000)
    for name in ("alice", "bob"):
        assert run(capsys, "sign", data, "--key", keys / f"{name}.secret.asc")[0] == 0
    asc = Path(f"{data}.asc").read_text()
    assert asc.count("-----BEGIN PGP SIGNATURE-----") == 1  # one block, two packets
    signers = [
        "--signer",
        keys / "alice.asc",
        "--signer",
        keys / "bob.asc",
        "--signer",
        keys / "carol.asc",
    ]
    code, out, _ = run(capsys, "verify-signature", data, *signers, "--threshold", "2")
    assert code == 0 and out.startswith("OK:") and "2 of 2" in out
    code, out, err = run(capsys, "verify-signature", data, *signers, "--threshold", "3")
    assert code == 1 and out.startswith("REFUSED:")
    assert "carol" in err and "missing" in err
    code, out, _ = run(capsys, "verify-signature", data, *signers, "--threshold", "3", "--json")
    assert code == 1
    report = json.loads(out)
    assert report["met"] is False and len(report["counted"]) == 2 and len(report["missing"]) == 1


def test_threshold_out_of_range_is_usage_error(
    keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "f"
    data.write_bytes(b"x")
    assert run(capsys, "sign", data, "--key", keys / "alice.secret.asc")[0] == 0
    for n in ("0", "2"):
        code, _, err = run(
            capsys, "verify-signature", data, "--signer", keys / "alice.asc", "--threshold", n
        )
        assert code == 2 and "out of range" in err


def test_tampered_file_refused(
    keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "f"
    data.write_bytes(b"original")
    assert run(capsys, "sign", data, "--key", keys / "alice.secret.asc")[0] == 0
    data.write_bytes(b"tampered")
    code, _, err = run(capsys, "verify-signature", data, "--signer", keys / "alice.asc")
    assert code == 1 and "bad-signature" in err


def test_same_certificate_twice_is_an_error(
    keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "f"
    data.write_bytes(b"x")
    assert run(capsys, "sign", data, "--key", keys / "alice.secret.asc")[0] == 0
    copy = tmp_path / "alice-copy.asc"
    copy.write_bytes((keys / "alice.asc").read_bytes())
    code, _, err = run(
        capsys,
        "verify-signature",
        data,
        "--signer",
        keys / "alice.asc",
        "--signer",
        copy,
        "--threshold",
        "2",
    )
    assert code == 2 and "duplicate certificate" in err


def _malformed(keys: Path, tmp: Path) -> dict[str, tuple[str, bytes]]:
    """name -> (role, bytes): role is where the bytes are passed (signature or signer)."""
    sig_text = ""
    data = tmp / "signed"
    data.write_bytes(b"x")
    main(["sign", str(data), "--key", str(keys / "alice.secret.asc")])
    sig_text = Path(f"{data}.asc").read_text()
    lines = sig_text.splitlines()
    body = "".join(lines[2:-2])
    raw = base64.b64decode(body)
    cert_text = (keys / "alice.asc").read_text()
    return {
        "empty": ("signature", b""),
        "whitespace": ("signature", b"  \n\n"),
        "garbage-text": ("signature", b"hello, this is not a signature\n"),
        "binary-garbage": ("signature", bytes(range(0x80, 0x100)) * 4),
        "non-utf8": ("signature", b"\x00\xff\xfe not utf-8"),
        "truncated-armor": ("signature", "\n".join(lines[:3]).encode()),
        "trailing-junk": ("signature", (sig_text + "junk after the block\n").encode()),
        "bad-crc": ("signature", sig_text.replace(lines[-2], "=AAAA").encode()),
        "truncated-binary": ("signature", raw[:-5]),
        "key-as-signature": ("signature", cert_text.encode()),
        "secret-as-signature": ("signature", (keys / "alice.secret.asc").read_bytes()),
        "secret-as-cert": ("signer", (keys / "alice.secret.asc").read_bytes()),
        "signature-as-cert": ("signer", sig_text.encode()),
        "empty-cert": ("signer", b""),
        "garbage-cert": (
            "signer",
            b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n!!!!\n-----END PGP PUBLIC KEY BLOCK-----\n",
        ),
        "non-utf8-cert": ("signer", b"\xc3\x28\xa0\xa1"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "empty",
        "whitespace",
        "garbage-text",
        "binary-garbage",
        "non-utf8",
        "truncated-armor",
        "trailing-junk",
        "bad-crc",
        "truncated-binary",
        "key-as-signature",
        "secret-as-signature",
        "secret-as-cert",
        "signature-as-cert",
        "empty-cert",
        "garbage-cert",
        "non-utf8-cert",
    ],
)
def test_malformed_input_exit_2_one_line_naming_file(
    case: str, keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    role, payload = _malformed(keys, tmp_path)[case]
    capsys.readouterr()
    bad = tmp_path / f"{case}.asc"
    bad.write_bytes(payload)
    data = tmp_path / "signed"
    if role == "signature":
        args = ["verify-signature", data, "--signer", keys / "alice.asc", "--signature", bad]
    else:
        args = ["verify-signature", data, "--signer", bad]
    code, _, err = run(capsys, *args)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(bad) in lines[0]
    assert "Traceback" not in err


def test_secret_where_key_expected_for_sign(
    keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "f"
    data.write_bytes(b"x")
    code, _, err = run(capsys, "sign", data, "--key", keys / "alice.asc")
    assert code == 2 and "public certificate where a secret key is expected" in err


def test_existing_garbage_signature_file_is_not_overwritten(
    keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "f"
    data.write_bytes(b"x")
    Path(f"{data}.asc").write_text("not a signature\n")
    code, _, err = run(capsys, "sign", data, "--key", keys / "alice.secret.asc")
    assert code == 2 and "not adding to it" in err
    assert Path(f"{data}.asc").read_text() == "not a signature\n"


def test_console_script_runs(keys: Path) -> None:
    exe = Path(sys.executable).with_name("lockkeys")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "lockkeys"]
    proc = subprocess.run(
        [*cmd, "key", "show", str(keys / "bob.asc")],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "fingerprint" in proc.stdout


@pytest.mark.parametrize("name", ["alice", "carol"])  # Ed25519 and RSA-3072
def test_sign_makes_binary_document_signature_sha256_or_stronger(
    name: str, keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lockkeys._internal.trust.signatures import load_signatures

    data = tmp_path / "f.bin"
    data.write_bytes(b"payload" * 100)
    assert run(capsys, "sign", data, "--key", keys / f"{name}.secret.asc")[0] == 0
    (sig,) = load_signatures(Path(f"{data}.asc"))
    assert sig.facts.type_id == 0x00  # binary document
    assert sig.facts.hash_algorithm in ("SHA256", "SHA384", "SHA512")
    assert sig.facts.issuer_fingerprint is not None
