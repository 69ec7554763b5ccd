"""Issue 12, item 5: local input can only end in exit 0 or lockkeys' own error (exit 2).

Devices, FIFOs, folders and oversized files where a file is expected; deeply nested TOML and
JSON; options out of range. Each case used to crash (exit 70), exhaust memory (137) or hang.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from lockkeys._internal.cli import main
from lockkeys._internal.config import load_config
from lockkeys._internal.limits import MAX_NESTING, load_json
from lockkeys._internal.lockmodel.io import parse_lock, read_lock
from lockkeys._internal.sources.index import PageError, parse_json_page
from lockkeys._internal.trust.signatures import load_signatures
from lockkeys.errors import InputError

KEYS = Path(__file__).resolve().parent.parent / "fixtures" / "data" / "keys"


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(b"data\n")
    return path


# --- every local read: a regular file, with a size cap ---------------------------------------


@pytest.mark.parametrize("special", ["/dev/zero", "fifo", "folder"])
def test_item5_lock_that_is_not_a_regular_file_exit_2(
    special: str, fifo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = {"/dev/zero": Path("/dev/zero"), "fifo": fifo, "folder": tmp_path}[special]
    with pytest.raises(InputError, match="not a lock file"):
        read_lock(target)
    code, _, err = run(capsys, "--lock", target, "verify", "--python", sys.executable)
    assert code == 2, err
    assert "not a lock file" in err


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_item5_key_show_and_signature_not_regular_files_exit_2(
    special: str, fifo: Path, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = Path("/dev/zero") if special == "/dev/zero" else fifo
    code, _, err = run(capsys, "key", "show", target)
    assert code == 2 and "not a key file" in err, err
    code, _, err = run(
        capsys, "verify-signature", data, "--signer", KEYS / "alice.asc", "--signature", target
    )
    assert code == 2 and "not a signature file" in err, err
    code, _, err = run(capsys, "verify-signature", data, "--signer", target)
    assert code == 2 and "not a certificate file" in err, err


def test_item5_oversized_signature_file_refused_before_reading(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    big = tmp_path / "big.asc"
    with open(big, "wb") as handle:
        handle.truncate(400 * 1024 * 1024)  # sparse: 400 MB that cost no disk
    with pytest.raises(InputError, match="too large"):
        load_signatures(big)
    code, _, err = run(
        capsys, "verify-signature", data, "--signer", KEYS / "alice.asc", "--signature", big
    )
    assert code == 2 and "too large" in err, err


def test_item5_requirements_device_and_config_fifo_exit_2(
    tmp_path: Path, fifo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "lockkeys.toml"
    config.write_text('requirements = ["/dev/zero"]\n', encoding="utf-8")
    code, _, err = run(capsys, "--config", config, "lock")
    assert code == 2 and "not a requirement file" in err, err
    code, _, err = run(capsys, "--config", fifo, "lock")
    assert code == 2 and "not a configuration file" in err, err


# --- nesting limits ------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 100_000])
def test_item5_deeply_nested_toml_in_config_and_lock_exit_2(
    depth: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nested = "x = " + "[" * depth + "]" * depth + "\n"
    config = tmp_path / "lockkeys.toml"
    config.write_text(nested, encoding="utf-8")
    with pytest.raises(InputError, match="nested too deeply"):
        load_config(config)
    with pytest.raises(InputError, match="nested too deeply"):
        parse_lock(nested, "pylock.toml")
    lock = tmp_path / "pylock.toml"
    lock.write_text(nested, encoding="utf-8")
    code, _, err = run(capsys, "--lock", lock, "verify", "--python", sys.executable)
    assert code == 2 and "nested too deeply" in err, err


def test_item5_deeply_nested_json_index_page_is_a_page_error() -> None:
    deep = b'{"meta": {"api-version": "1.0"}, "files": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(PageError, match="nested more than"):
        parse_json_page(deep, "https://index.invalid/simple/x/")
    with pytest.raises(ValueError, match="nested more than"):
        load_json("[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1))
    assert load_json("[" * MAX_NESTING + "]" * MAX_NESTING) is not None


# --- options are range-checked ---------------------------------------------------------------


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0", "-inf", "1e300"])
def test_item5_timeout_out_of_range_exit_2(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "verify", "--timeout", value)
    assert code == 2, err
    assert "--timeout" in err


def test_item5_python_that_is_not_an_interpreter_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lockkeys._internal.install.environment import probe
    from lockkeys.errors import UsageError

    with pytest.raises(UsageError, match="did not report its environment"):
        probe("/bin/true")


def test_item5_download_dest_naming_a_file_and_wheelhouse_not_a_folder_exit_2(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "download", "--dest", data)
    assert code == 2 and "not a folder" in err, err
    code, _, err = run(capsys, "verify", "--wheelhouse", data)
    assert code == 2 and "not a folder" in err, err


@pytest.mark.parametrize("expires", ["99999999y", "9999-12-31", "137y"])
def test_item5_key_generate_expiry_beyond_openpgp_range_exit_2(
    expires: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "key", "generate", "k", "--out-dir", tmp_path, "--expires", expires)
    assert code == 2 and "too far away" in err, err
    assert not list(tmp_path.iterdir())


def test_fuzz_finding_index_link_that_is_not_a_valid_url_is_ignored() -> None:
    """benchmarks/fuzz.py (index-html): an href such as "http://[::1" made urljoin raise
    ValueError (exit 70). Such a link is ignored; a broken <base href> is a page error."""
    from lockkeys._internal.sources.index import parse_html_page

    page = b'<a href="http://[::1/x-1.0-py3-none-any.whl">x</a><a href="y-1.0.tar.gz">y</a>'
    files = parse_html_page(page, "https://index.example/simple/y/")
    assert [f.filename for f in files] == ["y-1.0.tar.gz"]
    with pytest.raises(PageError, match="base href"):
        parse_html_page(b'<base href="http://[::1/"><a href="y.whl">y</a>', "https://i.example/")
