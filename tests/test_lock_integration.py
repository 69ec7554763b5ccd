"""`lockkeys lock` end to end: a pypiserver source and a folder source, through the command line.

Acceptance of the "lock" issue (contract sections 1-5): the lock is a valid PEP 751 file that
``packaging.pylock`` accepts and ``uv pip install`` installs; every file of each release with
size and sha256; signer pins with embedded certificates; deterministic bytes with either
resolver; ``--check``; existing pins kept; signature thresholds enforced at lock time; config
errors with key paths; exit codes 3 and 4; ``export`` and ``why``.

Everything talks only to 127.0.0.1. The public fixtures are copied and served once per module;
each test works in its own project folder (copies of the private fixtures and the certificates).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from packaging.pylock import Pylock
from pysequoia import Cert

from fixtures.wheelmaker import build_wheel
from lockkeys._internal.cli import main
from tests.support.pypiserver import free_port, serve_index

BROKEN_REASON = "backported fix for a crash, until upstream releases 1.1"
UTIL_REASON = "util ships code run at import: two maintainers co-sign every release"
EXPECTED_SET = [
    ["bar", "1.1"],
    ["broken", "1.0+corp.1"],
    ["foo", "1.0"],
    ["plat", "1.0"],
    ["util", "2.1"],
]
CLI_TIMEOUT = 240

# -- helpers ---------------------------------------------------------------------------------


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def base_config(public_url: str | None) -> dict[str, Any]:
    """foo (public) -> bar -> broken (private only, corp-signed); foo -> util (alice + bob)."""
    sources: list[dict[str, str]] = []
    if public_url is not None:
        sources.append({"name": "public", "url": public_url})
    sources.append({"name": "private", "path": "private"})
    return {
        "requirements": ["requirements.in"],
        "sources": sources,
        "signers": {
            "corp": "keys/corp.asc",
            "alice": "keys/alice.asc",
            "bob": "keys/bob.asc",
            "carol": "keys/carol.asc",
        },
        "packages": {
            "broken": {
                "signers": ["corp"],
                "threshold": 1,
                "verify": "signatures",
                "source": "private",
                "reason": BROKEN_REASON,
            },
            "util": {"signers": ["alice", "bob"], "threshold": 2, "reason": UTIL_REASON},
        },
    }


def render_config(config: dict[str, Any], *, pyproject: bool = False) -> str:
    """TOML text of ``config``: top-level keys for lockkeys.toml, [tool.lockkeys] for pyproject."""
    prefix = "tool.lockkeys." if pyproject else ""

    def pairs(table: dict[str, Any]) -> list[str]:
        # JSON strings, integers, booleans and arrays of strings are valid TOML values.
        return [f"{key} = {json.dumps(value)}" for key, value in table.items()]

    lines: list[str] = []
    if pyproject:
        lines += ["[project]", 'name = "app"', 'version = "0.1"', "", "[tool.lockkeys]"]
    lines += pairs({k: v for k, v in config.items() if k not in ("sources", "signers", "packages")})
    for source in config.get("sources", []):
        lines += ["", f"[[{prefix}sources]]", *pairs(source)]
    if "signers" in config:
        lines += ["", f"[{prefix}signers]", *pairs(config["signers"])]
    for name, table in config.get("packages", {}).items():
        lines += ["", f"[{prefix}packages.{name}]", *pairs(table)]
    return "\n".join(lines) + "\n"


def clean_env(tmp: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "UV_")) and k not in ("VIRTUAL_ENV",)
    }
    env.update(
        {
            "NO_COLOR": "1",
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_INPUT": "1",
            "UV_NO_CONFIG": "1",
            "UV_CACHE_DIR": str(tmp / "uv-cache"),
            "NO_PROXY": "127.0.0.1",
        }
    )
    return env


@dataclass
class Project:
    """A project folder: config, requirements.in, private/ and keys/ copied from the fixtures."""

    root: Path
    public_url: str | None
    public_dir: Path | None
    fixture_data: Path

    @property
    def lock_path(self) -> Path:
        return self.root / "pylock.toml"

    def config(self) -> dict[str, Any]:
        return base_config(self.public_url)

    def write_config(self, config: dict[str, Any], *, pyproject: bool = False) -> Path:
        for name in ("lockkeys.toml", "pyproject.toml"):
            (self.root / name).unlink(missing_ok=True)
        path = self.root / ("pyproject.toml" if pyproject else "lockkeys.toml")
        path.write_text(render_config(config, pyproject=pyproject), encoding="utf-8")
        return path

    def requirements(self, *lines: str) -> None:
        (self.root / "requirements.in").write_text("".join(f"{line}\n" for line in lines))

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``python -m lockkeys ARGS`` in the project folder."""
        return subprocess.run(
            [sys.executable, "-m", "lockkeys", *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            env=clean_env(self.root.parent),
            check=False,
        )

    def lock(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = self.run("lock", *args)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def doc(self, path: Path | None = None) -> dict[str, Any]:
        return tomllib.loads((path or self.lock_path).read_text(encoding="utf-8"))

    def versions(self, path: Path | None = None) -> dict[str, str]:
        return {p["name"]: p["version"] for p in self.doc(path)["packages"]}


def make_project(root: Path, fixture_data: Path, public: tuple[str, Path] | None) -> Project:
    root.mkdir(parents=True)
    shutil.copytree(fixture_data / "private", root / "private")
    (root / "keys").mkdir()
    for cert in sorted((fixture_data / "keys").glob("*.asc")):
        if not cert.name.endswith((".secret.asc", ".revocation.asc")):
            shutil.copy2(cert, root / "keys" / cert.name)
    project = Project(
        root=root,
        public_url=public[0] if public else None,
        public_dir=public[1] if public else None,
        fixture_data=fixture_data,
    )
    project.write_config(project.config())
    project.requirements("foo", "plat")
    return project


def package(doc: dict[str, Any], name: str) -> dict[str, Any]:
    matches = [p for p in doc["packages"] if p["name"] == name]
    assert len(matches) == 1, f"{name} locked {len(matches)} times"
    return matches[0]


def make_venv(path: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120
    )
    return path / "bin" / "python"


def installed(python: Path) -> list[list[str]]:
    code = (
        "import importlib.metadata as m, json; "
        "print(json.dumps(sorted((d.metadata['Name'], d.version) for d in m.distributions())))"
    )
    out = subprocess.run(
        [str(python), "-c", code],
        cwd=python.parent,  # not a folder holding *.egg-info / *.dist-info
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(out.stdout)


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def public_index(
    tmp_path_factory: pytest.TempPathFactory, fixture_data: Path
) -> Iterator[tuple[str, Path]]:
    """A copy of the public fixtures, served by pypiserver: ``(simple URL, folder)``."""
    folder = tmp_path_factory.mktemp("public-index") / "public"
    shutil.copytree(fixture_data / "public", folder)
    with serve_index(folder) as url:
        yield url, folder


@pytest.fixture
def project(tmp_path: Path, fixture_data: Path, public_index: tuple[str, Path]) -> Project:
    return make_project(tmp_path / "app", fixture_data, public_index)


@pytest.fixture(scope="module")
def locked(
    tmp_path_factory: pytest.TempPathFactory, fixture_data: Path, public_index: tuple[str, Path]
) -> Project:
    """One project locked once (pip-tools): read-only for the tests that use it."""
    project = make_project(tmp_path_factory.mktemp("locked") / "app", fixture_data, public_index)
    result = project.lock()
    assert "wrote" in result.stdout
    return project


# -- 1. the lock: valid PEP 751, every file, sources, signers, reasons -----------------------


@pytest.mark.slow
def test_lock_is_valid_pep751_with_every_file_source_and_signer(locked: Project) -> None:
    text = locked.lock_path.read_text(encoding="utf-8")
    doc = tomllib.loads(text)
    pylock = Pylock.from_dict(doc)
    assert sorted([p.name, str(p.version)] for p in pylock.packages) == EXPECTED_SET

    assert locked.public_dir is not None
    folders = {"public": locked.public_dir, "private": locked.root / "private"}
    expected_sources = {
        "bar": "public",
        "broken": "private",
        "foo": "public",
        "plat": "public",
        "util": "public",
    }
    for pkg in doc["packages"]:
        name, version = pkg["name"], pkg["version"]
        tool = pkg["tool"]["lockkeys"]
        assert tool["source"] == expected_sources[name], name
        folder = folders[tool["source"]]
        offered = {f.name: f for f in folder.glob(f"{name}-{version}-*.whl")}
        recorded = {w["name"]: w for w in pkg["wheels"]}
        # every file of the release that the source offers, all platforms
        assert sorted(recorded) == sorted(offered), name
        for filename, wheel in recorded.items():
            real = offered[filename]
            assert wheel["size"] == real.stat().st_size, filename
            assert wheel["hashes"] == {"sha256": sha256(real)}, filename
            if tool["source"] == "public":
                assert wheel["url"].startswith(locked.public_url.removesuffix("simple/"))
                assert wheel["url"].endswith("/" + filename)
                assert "path" not in wheel
            else:
                assert wheel["path"] == f"private/{filename}"
                assert "url" not in wheel
                assert sha256(locked.root / wheel["path"]) == sha256(real)
        if tool["source"] == "public":
            assert pkg["index"] == locked.public_url, name
        else:
            assert "index" not in pkg, name
        assert "sdist" not in pkg

    plat = package(doc, "plat")
    assert len(plat["wheels"]) == 3
    assert {w["name"].split("-")[-1] for w in plat["wheels"]} == {
        "macosx_11_0_arm64.whl",
        "manylinux_2_17_x86_64.whl",
        "win_amd64.whl",
    }


@pytest.mark.slow
def test_lock_pins_signers_embeds_certificates_and_carries_reasons(
    locked: Project, fixture_data: Path
) -> None:
    doc = locked.doc()
    fpr = {
        name: Cert.from_file(str(fixture_data / "keys" / f"{name}.asc")).fingerprint.upper()
        for name in ("alice", "bob", "carol", "corp")
    }
    embedded = doc["tool"]["lockkeys"]["signers"]
    assert {"alice", "bob", "corp"} <= set(embedded)
    for name, entry in embedded.items():
        assert entry["fingerprint"] == fpr[name], name
        cert = Cert.from_bytes(entry["certificate"].encode("ascii"))
        assert cert.fingerprint.upper() == entry["fingerprint"], name
        assert "PRIVATE KEY" not in entry["certificate"]

    util = package(doc, "util")["tool"]["lockkeys"]
    assert util["verify"] == "hashes+signatures"
    assert sorted(util["signers"]) == sorted([fpr["alice"], fpr["bob"]])
    assert util["threshold"] == 2
    assert util["reason"] == UTIL_REASON
    assert util["required-by"] == ["foo"]

    broken = package(doc, "broken")["tool"]["lockkeys"]
    assert broken["verify"] == "signatures"
    assert broken["signers"] == [fpr["corp"]]
    assert broken["threshold"] == 1
    assert broken["source"] == "private"
    assert broken["reason"] == BROKEN_REASON
    assert broken["required-by"] == ["bar"]

    for name in ("bar", "foo", "plat"):
        tool = package(doc, name)["tool"]["lockkeys"]
        assert tool["verify"] == "hashes", name
        assert "signers" not in tool and "reason" not in tool, name
    # self-contained: every pinned fingerprint has its certificate in the lock
    pinned = {f for p in doc["packages"] for f in p["tool"]["lockkeys"].get("signers", [])}
    assert pinned <= {e["fingerprint"] for e in embedded.values()}
    assert doc["tool"]["lockkeys"]["inputs-digest"].startswith("sha256:")


@pytest.mark.slow
def test_uv_installs_the_lock(locked: Project, tmp_path: Path) -> None:
    python = make_venv(tmp_path / "venv")
    result = subprocess.run(
        # uv beside this interpreter (the venv's), not whatever is first on PATH
        [
            *(sys.executable, "-m", "uv", "pip", "install"),
            *("--python", str(python), "-r", str(locked.lock_path)),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        env=clean_env(tmp_path),
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert installed(python) == EXPECTED_SET


@pytest.mark.slow
def test_source_pin_ignores_a_higher_version_on_another_source(
    tmp_path: Path,
    fixture_data: Path,
    pypiserver_factory: Callable[[Path], str],
) -> None:
    """broken has source = "private": public's broken 1.9 must not win over 1.0+corp.1."""
    public = tmp_path / "public"
    shutil.copytree(fixture_data / "public", public)
    build_wheel(public, "broken", "1.9")
    url = pypiserver_factory(public)
    with urllib.request.urlopen(f"{url}broken/", timeout=10) as response:
        assert "broken-1.9-py3-none-any.whl" in response.read().decode()
    project = make_project(tmp_path / "app", fixture_data, (url, public))
    project.requirements("bar")

    result = project.run("lock")

    assert result.returncode == 0, result.stdout + result.stderr
    broken = package(project.doc(), "broken")
    assert broken["version"] == "1.0+corp.1"
    assert broken["tool"]["lockkeys"]["source"] == "private"
    assert [w["path"] for w in broken["wheels"]] == ["private/broken-1.0+corp.1-py3-none-any.whl"]


# -- 2. same inputs, same bytes ---------------------------------------------------------------


@pytest.mark.slow
def test_lock_twice_gives_the_same_bytes_and_reports_unchanged(project: Project) -> None:
    first = project.run("lock")
    assert first.returncode == 0, first.stderr
    assert "wrote" in first.stdout
    before = project.lock_path.read_bytes()
    os.utime(project.lock_path, ns=(1_000_000_000, 1_000_000_000))

    second = project.run("lock")

    assert second.returncode == 0, second.stderr
    assert "unchanged" in second.stdout
    assert project.lock_path.read_bytes() == before
    assert project.lock_path.stat().st_mtime_ns == 1_000_000_000

    # The same project in another folder: no absolute path or machine detail leaks in.
    elsewhere = project.root.parent / "elsewhere" / "checkout"
    shutil.copytree(project.root, elsewhere, ignore=shutil.ignore_patterns("pylock.toml"))
    moved = Project(elsewhere, project.public_url, project.public_dir, project.fixture_data)
    moved.lock()
    assert moved.lock_path.read_bytes() == before


@pytest.mark.slow
def test_pip_tools_and_uv_give_the_same_packages(project: Project) -> None:
    """Same pins, files, hashes and policies; only what the lock covers differs: pip-tools
    records its one environment, uv locks universally (no marker is needed here)."""
    project.lock("--resolver", "pip-tools")
    via_pip_tools = project.doc()
    project.lock_path.unlink()

    project.lock("--resolver", "uv")
    via_uv = project.doc()

    assert via_uv["packages"] == via_pip_tools["packages"]
    assert "environments" not in via_uv and len(via_pip_tools["environments"]) == 1
    assert via_uv["requires-python"] == ">=" + ".".join(map(str, sys.version_info[:2]))
    for doc in (via_uv, via_pip_tools):
        del doc["tool"]["lockkeys"]["inputs-digest"]  # the resolver is an input
    assert via_uv["tool"] == via_pip_tools["tool"]


# -- 3. lock --check ---------------------------------------------------------------------------


def _snapshot(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


@pytest.mark.slow
def test_check_missing_fresh_and_stale(project: Project) -> None:
    missing = project.run("lock", "--check")
    assert missing.returncode == 1, missing.stdout + missing.stderr
    assert not project.lock_path.exists()

    project.lock()
    os.utime(project.lock_path, ns=(1_000_000_000, 1_000_000_000))
    snapshot = _snapshot(project.lock_path)

    fresh = project.run("lock", "--check")
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert _snapshot(project.lock_path) == snapshot

    project.requirements("foo", "plat", "util<2.1")
    stale = project.run("lock", "--check")
    assert stale.returncode == 1, stale.stdout + stale.stderr
    assert _snapshot(project.lock_path) == snapshot
    assert sorted(p.name for p in project.root.iterdir()) == [
        "keys",
        "lockkeys.toml",
        "private",
        "pylock.toml",
        "requirements.in",
    ]


# -- 4. existing pins are kept -----------------------------------------------------------------


@pytest.mark.slow
def test_relaxed_requirement_keeps_the_existing_pin(project: Project) -> None:
    """Like pip-compile: a pin that still satisfies the requirements stays."""
    project.requirements("util<2.1")
    project.lock()
    assert project.versions()["util"] == "2.0"

    project.requirements("util>=2")
    project.lock()

    assert project.versions()["util"] == "2.0"


@pytest.mark.slow
def test_upgrade_package_moves_the_pin(project: Project) -> None:
    project.requirements("util<2.1")
    project.lock()
    assert project.versions()["util"] == "2.0"

    project.requirements("util>=2")
    project.lock("--upgrade-package", "util")

    assert project.versions()["util"] == "2.1"


def test_new_release_keeps_pins_until_upgrade_package(tmp_path: Path, fixture_data: Path) -> None:
    """Newer versions appear in the source: pins stay; --upgrade-package moves only that one."""
    project = make_project(tmp_path / "app", fixture_data, None)
    wheels = project.root / "wheels"
    wheels.mkdir()
    public = fixture_data / "public"
    for name in ("bar-1.0", "broken-1.0", "util-2.0"):
        shutil.copy2(public / f"{name}-py3-none-any.whl", wheels)
    project.write_config(
        {"requirements": ["requirements.in"], "sources": [{"name": "wheels", "path": "wheels"}]}
    )
    project.requirements("bar", "util")
    project.lock()
    assert project.versions() == {"bar": "1.0", "broken": "1.0", "util": "2.0"}

    for name in ("bar-1.1", "util-2.1"):
        shutil.copy2(public / f"{name}-py3-none-any.whl", wheels)
    again = project.lock()
    assert "unchanged" in again.stdout
    assert project.versions() == {"bar": "1.0", "broken": "1.0", "util": "2.0"}

    project.lock("--upgrade-package", "util")
    assert project.versions() == {"bar": "1.0", "broken": "1.0", "util": "2.1"}


# -- 5. signature thresholds at lock time ------------------------------------------------------


def _three_of_three(config: dict[str, Any]) -> dict[str, Any]:
    config["packages"]["util"].update({"signers": ["alice", "bob", "carol"], "threshold": 3})
    return config


@pytest.mark.slow
def test_threshold_not_met_refuses_to_lock_and_writes_nothing(project: Project) -> None:
    project.lock()
    snapshot = _snapshot(project.lock_path)
    project.write_config(_three_of_three(project.config()))

    result = project.run("lock")

    assert result.returncode == 1, result.stdout + result.stderr
    err = result.stderr
    assert "util-2.1-py3-none-any.whl" in err
    assert "2 of 3" in err
    signed = [line for line in err.splitlines() if "signed by" in line]
    assert any("alice" in line for line in signed), err
    assert any("bob" in line for line in signed), err
    missing = [line for line in err.splitlines() if "missing" in line]
    assert missing, err
    assert all("carol" in line for line in missing), err
    assert not any("alice" in line or "bob" in line for line in missing), err
    assert _snapshot(project.lock_path) == snapshot


@pytest.mark.slow
def test_threshold_not_met_without_a_lock_creates_none(project: Project) -> None:
    project.write_config(_three_of_three(project.config()))
    result = project.run("lock")
    assert result.returncode == 1, result.stdout + result.stderr
    assert not project.lock_path.exists()


@pytest.mark.slow
def test_signature_store_supplies_the_missing_signature(
    project: Project, tmp_path: Path, fixture_data: Path
) -> None:
    assert project.public_dir is not None
    copy = tmp_path / "copy" / "util-2.1-py3-none-any.whl"
    copy.parent.mkdir()
    shutil.copy2(project.public_dir / copy.name, copy)
    store = project.root / "sigs"
    signed = project.run(
        "sign",
        str(copy),
        "--key",
        str(fixture_data / "keys" / "carol.secret.asc"),
        "--out-dir",
        str(store),
    )
    assert signed.returncode == 0, signed.stdout + signed.stderr
    assert (store / f"{copy.name}.asc").is_file()
    config = _three_of_three(project.config())
    config["signature-stores"] = ["sigs"]
    project.write_config(config)

    project.lock()

    doc = project.doc()
    util = package(doc, "util")
    assert util["version"] == "2.1"
    assert util["tool"]["lockkeys"]["threshold"] == 3
    carol = Cert.from_file(str(fixture_data / "keys" / "carol.asc")).fingerprint.upper()
    assert carol in util["tool"]["lockkeys"]["signers"]
    assert len(util["tool"]["lockkeys"]["signers"]) == 3
    assert doc["tool"]["lockkeys"]["signers"]["carol"]["fingerprint"] == carol
    assert doc["tool"]["lockkeys"]["signature-stores"] == ["sigs"]


# -- 6. bad configurations: exit 2, the key path and the file --------------------------------


def _unknown_signer(c: dict[str, Any], _: Path) -> None:
    c["packages"]["util"]["signers"] = ["alice", "dave"]


def _threshold_too_high(c: dict[str, Any], _: Path) -> None:
    c["packages"]["util"]["threshold"] = 3


def _threshold_zero(c: dict[str, Any], _: Path) -> None:
    c["packages"]["util"]["threshold"] = 0


def _unknown_policy(c: dict[str, Any], _: Path) -> None:
    c["packages"]["util"]["verify"] = "sigs"


def _same_file_twice(c: dict[str, Any], _: Path) -> None:
    c["signers"]["carol"] = "keys/alice.asc"


def _same_key_other_file(c: dict[str, Any], root: Path) -> None:
    text = (root / "keys" / "alice.asc").read_text()
    begin = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n"
    assert text.startswith(begin)
    (root / "keys" / "alice-again.asc").write_text(
        begin + "Comment: exported again\n" + text[len(begin) :]
    )
    c["signers"]["carol"] = "keys/alice-again.asc"


BAD_CONFIGS: dict[str, tuple[Callable[[dict[str, Any], Path], None], str]] = {
    "unknown-signer": (_unknown_signer, r"packages\.util\.signers(\[1\])?: .*'dave'"),
    "threshold-too-high": (
        _threshold_too_high,
        r"packages\.util\.threshold: 3 exceeds the 2 signers listed",
    ),
    "threshold-zero": (_threshold_zero, r"packages\.util\.threshold: 0 "),
    "unknown-policy": (_unknown_policy, r"packages\.util\.verify: .*'sigs'"),
    "same-file-twice": (_same_file_twice, r"signers\.(alice|carol): .*duplicate"),
    "same-key-other-file": (_same_key_other_file, r"signers\.(alice|carol): .*duplicate"),
}


@pytest.mark.parametrize("form", ["lockkeys.toml", "pyproject.toml"])
@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_configuration_exits_2_naming_key_path_and_file(
    case: str,
    form: str,
    tmp_path: Path,
    fixture_data: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    closed = f"http://127.0.0.1:{free_port()}/simple/"  # never contacted: refused at load time
    project = make_project(tmp_path / "app", fixture_data, (closed, tmp_path))
    config = project.config()
    mutate, pattern = BAD_CONFIGS[case]
    mutate(config, project.root)
    pyproject = form == "pyproject.toml"
    project.write_config(config, pyproject=pyproject)
    monkeypatch.chdir(project.root)
    capsys.readouterr()

    code = main(["lock"])

    err = capsys.readouterr().err
    assert code == 2, err
    assert form in err
    prefix = r"tool\.lockkeys\." if pyproject else r"(?<![\w.])"
    assert re.search(prefix + pattern, err), err
    if not pyproject:
        assert "tool.lockkeys." not in err
    assert not project.lock_path.exists()


def test_both_certificate_files_really_hold_the_same_key(
    tmp_path: Path, fixture_data: Path
) -> None:
    """The premise of "same-key-other-file": different bytes, same primary fingerprint."""
    root = tmp_path / "app"
    (root / "keys").mkdir(parents=True)
    shutil.copy2(fixture_data / "keys" / "alice.asc", root / "keys" / "alice.asc")
    config = base_config(None)
    _same_key_other_file(config, root)
    again = root / "keys" / "alice-again.asc"
    original = root / "keys" / "alice.asc"
    assert again.read_bytes() != original.read_bytes()
    assert Cert.from_file(str(again)).fingerprint == Cert.from_file(str(original)).fingerprint


# -- 7. sources unreachable, requirements unresolvable ------------------------------------------


def test_unreachable_source_exits_3(tmp_path: Path, fixture_data: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}/simple/"
    project = make_project(tmp_path / "app", fixture_data, (closed, tmp_path))
    result = project.run("lock")
    assert result.returncode == 3, result.stdout + result.stderr
    assert closed.rstrip("/") in result.stderr
    assert not project.lock_path.exists()


@pytest.mark.slow
def test_unresolvable_requirement_exits_4(project: Project) -> None:
    project.requirements("foo", "nothere")
    result = project.run("lock")
    assert result.returncode == 4, result.stdout + result.stderr
    assert "nothere" in result.stderr
    assert not project.lock_path.exists()


# -- 8. export and why -------------------------------------------------------------------------


@pytest.mark.slow
def test_export_requirements_installs_with_pip_require_hashes(
    locked: Project, tmp_path: Path
) -> None:
    exported = tmp_path / "requirements.txt"
    result = locked.run("export", "--format", "requirements", "-o", str(exported))
    assert result.returncode == 0, result.stderr
    text = exported.read_text()
    for pkg in locked.doc()["packages"]:
        assert f"{pkg['name']}=={pkg['version']}" in text
        for wheel in pkg["wheels"]:
            assert f"--hash=sha256:{wheel['hashes']['sha256']}" in text, wheel["name"]
    assert text.count("--hash=sha256:") == sum(len(p["wheels"]) for p in locked.doc()["packages"])

    assert locked.public_dir is not None
    python = make_venv(tmp_path / "venv")
    pip = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-index",
            "--find-links",
            str(locked.public_dir),
            "--find-links",
            str(locked.root / "private"),
            "--no-deps",
            "--require-hashes",
            "-r",
            str(exported),
        ],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        env=clean_env(tmp_path),
        check=False,
    )
    assert pip.returncode == 0, pip.stdout + pip.stderr
    assert installed(python) == EXPECTED_SET


@pytest.mark.slow
def test_export_pylock_drops_lockkeys_tables_and_stays_valid(
    locked: Project, tmp_path: Path
) -> None:
    plain = tmp_path / "pylock.plain.toml"
    result = locked.run("export", "--format", "pylock", "-o", str(plain))
    assert result.returncode == 0, result.stderr
    doc = tomllib.loads(plain.read_text(encoding="utf-8"))
    assert "tool" not in doc
    assert all("tool" not in pkg for pkg in doc["packages"])
    Pylock.from_dict(doc)
    full = locked.doc()
    for pkg in full["packages"]:
        del pkg["tool"]
    assert doc["packages"] == full["packages"]

    stdout = locked.run("export", "--format", "pylock")
    assert stdout.returncode == 0, stdout.stderr
    assert tomllib.loads(stdout.stdout) == doc


@pytest.mark.slow
def test_why_explains_source_signers_threshold_and_reason(
    locked: Project, fixture_data: Path
) -> None:
    fpr = {
        name: Cert.from_file(str(fixture_data / "keys" / f"{name}.asc")).fingerprint.upper()
        for name in ("alice", "bob", "corp")
    }
    util = locked.run("why", "util")
    assert util.returncode == 0, util.stderr
    text = util.stdout
    assert "util 2.1" in text
    assert "public" in text and locked.public_url in text
    assert "2 of 2" in text
    for name in ("alice", "bob"):
        assert re.search(rf"{name}\s+{fpr[name]}", text), text
    assert "foo -> util" in text
    assert UTIL_REASON in text

    broken = locked.run("why", "broken", "--json")
    assert broken.returncode == 0, broken.stderr
    answer = json.loads(broken.stdout)
    assert answer["name"] == "broken"
    assert answer["version"] == "1.0+corp.1"
    assert answer["source"] == "private"
    assert answer["verify"] == "signatures"
    assert answer["threshold"] == 1
    assert answer["signers"] == [{"name": "corp", "fingerprint": fpr["corp"]}]
    assert answer["required-by-chains"] == [["foo", "bar", "broken"]]
    assert answer["reason"] == BROKEN_REASON

    unknown = locked.run("why", "nothere")
    assert unknown.returncode == 2, unknown.stdout + unknown.stderr
