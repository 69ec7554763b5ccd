"""`verify`/`download`/`install` command-line behaviour not tied to one threat-model row."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lockkeys._internal.cli import main

CONFIG = """requirements = ["requirements.in"]
[[sources]]
name = "public"
path = "public"
"""


@pytest.fixture
def project(tmp_path: Path, fixture_data: Path) -> Path:
    shutil.copytree(fixture_data / "public", tmp_path / "public")
    (tmp_path / "requirements.in").write_text("foo\n")
    (tmp_path / "lockkeys.toml").write_text(CONFIG)
    assert main(["--config", str(tmp_path / "lockkeys.toml"), "lock"]) == 0
    return tmp_path


def test_json_report_when_all_verified(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    code = main(["--lock", str(project / "pylock.toml"), "verify", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["ok"] is True
    assert sorted(p["name"] for p in report["packages"]) == ["bar", "broken", "foo", "util"]
    assert {p["status"] for p in report["packages"]} == {"verified-by-hash"}


def test_json_document_even_when_a_source_fails(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "public" / "util-2.1-py3-none-any.whl").unlink()
    capsys.readouterr()
    code = main(["--lock", str(project / "pylock.toml"), "verify", "--json"])
    captured = capsys.readouterr()
    assert code == 3
    document = json.loads(captured.out)  # still exactly one JSON document on stdout
    assert document["ok"] is False
    assert document["error"]["kind"] == "source"
    assert "util" in json.dumps(document["error"])


def test_quiet_prints_results_and_errors_only(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["-q", "--lock", str(project / "pylock.toml"), "verify"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""  # no progress
    lines = captured.out.splitlines()  # the results
    assert lines[0].split() == ["package", "version", "policy", "status", "detail"]
    assert [line.split()[0] for line in lines[1:]] == ["bar", "broken", "foo", "util"]
