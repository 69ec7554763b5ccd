"""Issue 19, rule 3: an environment is what is on disk, not what RECORD says.

`verify --installed` and the `sync` plan see every file of the environment's import and
command paths: files of wheels whose RECORD uses sha384 or sha512, console-script launchers,
files no distribution owns (a `.pth`, an injected `entry_points.txt`, a stray module, a second
`.dist-info`), byte-code, and the entry of a forked lock that applies to the target. Real
virtual environments, real installs with `lockkeys install` / `sync` (builtin, pip, uv).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from fixtures.wheelmaker import build_wheel
from lockkeys._internal.install import plan as plan_module
from lockkeys._internal.locking.locker import lock as lock_config
from tests.support.cli import Cli
from tests.support.venvs import installed, make_venv, site_packages

pytestmark = pytest.mark.slow


GUN_MODULE = (
    b'"""gun: a test fixture with a console script."""\n\n\ndef main():\n    print("gun")\n'
)
ENTRY_POINTS = b"[console_scripts]\ngun = gun:main\n\n[gui_scripts]\ngun-gui = gun.gui:run\n"
GUI_MODULE = b'def run():\n    print("gui")\n'
TOOL_SCRIPT = b'#!python\nprint("tool")\n'


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def _lock(folder: Path, requirements: str, extra_config: str = "") -> Path:
    _write(folder / "requirements.in", requirements)
    _write(
        folder / "lockkeys.toml",
        'requirements = ["requirements.in"]\n'
        + extra_config
        + '[[sources]]\nname = "wheels"\npath = "wheels"\n',
    )
    return lock_config(folder / "lockkeys.toml").path


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """gun (a console script, a gui script, a `#!python` data script), and two packages
    whose RECORD uses sha384 and sha512; locked from a folder."""
    base = tmp_path_factory.mktemp("audit")
    wheels = base / "wheels"
    build_wheel(
        wheels,
        "gun",
        "1.0",
        files={
            "gun/__init__.py": GUN_MODULE,
            "gun/gui.py": GUI_MODULE,
            "gun-1.0.dist-info/entry_points.txt": ENTRY_POINTS,
            "gun-1.0.data/scripts/gun-tool": TOOL_SCRIPT,
        },
    )
    for name, algorithm in (("three", "sha384"), ("five", "sha512")):
        build_wheel(
            wheels,
            name,
            "1.0",
            files={f"{name}/__init__.py": f"VALUE = {name!r}\n".encode()},
            record_hash=algorithm,
        )
    return _lock(base, "gun\nthree\nfive\n")


def _audit(cli: Cli, lock: Path, python: Path) -> tuple[int, list[str]]:
    code, out, _err = cli("--lock", lock, "verify", "--installed", "--python", python)
    return code, [line for line in out.splitlines() if line.startswith(("drift: ", "ok: "))]


def _install(cli: Cli, lock: Path, python: Path, *more: str) -> str:
    code, out, err = cli("--lock", lock, "install", "--python", python, *more)
    assert code == 0, err
    return out


def _run(python: Path, code: str) -> str:
    """Run ``code`` in the target as an application would (writing byte-code on import)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    return subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout.strip()


# -- a lock with forks ------------------------------------------------------------------------


def _fork_lock(base: Path, target_gets_lower: bool) -> Path:
    """lib 1.0 and lib 2.0 under two markers, as uv writes them; this Python (3.11 or newer)
    gets lib 1.0 when ``target_gets_lower``, else lib 2.0."""
    lower, upper = ('python_version >= "3.11"', 'python_version < "3.11"')
    if not target_gets_lower:
        lower, upper = upper, lower
    wheels = base / "wheels"
    build_wheel(wheels, "app", "1.0", requires_dist=[f"lib<2 ; {lower}", f"lib>=2 ; {upper}"])
    for version in ("1.0", "2.0"):
        build_wheel(wheels, "lib", version)
    return _lock(base, "app\n", 'resolver = "uv"\nrequires-python = ">=3.9"\n')


def test_fork_lock_whose_lower_version_is_the_targets_installs_instead_of_exit_70(
    tmp_path: Path, cli: Cli
) -> None:
    lock = _fork_lock(tmp_path / "fork", target_gets_lower=True)
    python = make_venv(tmp_path / "venv")
    _install(cli, lock, python)
    assert installed(python) == [["app", "1.0"], ["lib", "1.0"]]
    code, lines = _audit(cli, lock, python)
    assert code == 0 and lines == [f"ok: {python} holds exactly the lock (2 packages)"]
    code, out, err = cli("--lock", lock, "sync", "--python", python)
    assert code == 0, err
    assert "plan: 2 keep" in out


def test_fork_lock_audit_checks_the_entry_for_the_target_not_the_skipped_one(
    tmp_path: Path, cli: Cli
) -> None:
    lock = _fork_lock(tmp_path / "fork", target_gets_lower=False)
    python = make_venv(tmp_path / "venv")
    _install(cli, lock, python)
    assert installed(python) == [["app", "1.0"], ["lib", "2.0"]]
    (site_packages(python) / "lib" / "__init__.py").write_text("evil = True\n")
    code, lines = _audit(cli, lock, python)
    assert code == 1
    assert lines == ["drift: file: lib: lib/__init__.py: differs from the locked wheel's RECORD"]
    code, out, err = cli("--lock", lock, "sync", "--python", python)
    assert code == 0, err
    assert "reinstall  lib 2.0" in out
    assert _audit(cli, lock, python)[0] == 0


# -- files of wheels whose RECORD uses sha384 or sha512 ---------------------------------------


@pytest.mark.parametrize("name", ["three", "five"])  # sha384, sha512
def test_tampered_file_of_a_sha384_or_sha512_record_wheel_fails_audit_and_sync_repairs_it(
    scene: Path, tmp_path: Path, cli: Cli, name: str
) -> None:
    python = make_venv(tmp_path / "venv")
    _install(cli, scene, python)
    assert _audit(cli, scene, python)[0] == 0
    module = site_packages(python) / name / "__init__.py"
    good = module.read_bytes()
    module.write_bytes(b"VALUE = 'evil'\n")
    code, lines = _audit(cli, scene, python)
    assert code == 1
    assert lines == [
        f"drift: file: {name}: {name}/__init__.py: differs from the locked wheel's RECORD"
    ]
    code, out, err = cli("--lock", scene, "sync", "--python", python)
    assert code == 0, err
    assert f"reinstall  {name} 1.0 (installed copy differs from the locked wheel: " in out
    assert module.read_bytes() == good
    assert _audit(cli, scene, python)[0] == 0


# -- console-script launchers ------------------------------------------------------------------


def test_edited_console_script_launcher_fails_the_audit_and_sync_restores_it(
    scene: Path, tmp_path: Path, cli: Cli
) -> None:
    python = make_venv(tmp_path / "venv")
    _install(cli, scene, python)
    _run(python, "import gun, gun.gui")  # its byte-code stays proven: its sources are intact
    launcher = python.parent / "gun"
    good = launcher.read_bytes()
    assert subprocess.run([str(launcher)], capture_output=True, text=True).stdout == "gun\n"
    # the header kept as it was, one line added: runs the attacker's code, then the real one
    header, body = good.split(b"\n", 1)
    launcher.write_bytes(header + b"\nimport os; os.system('echo owned')\n" + body)
    tool = python.parent / "gun-tool"
    tool.write_bytes(tool.read_bytes().replace(b'"tool"', b'"evil"'))
    code, lines = _audit(cli, scene, python)
    assert code == 1
    assert lines == [
        "drift: file: gun: scripts/gun-tool: differs from the locked wheel's RECORD",
        "drift: file: gun: scripts/gun: launcher differs from what an installer writes for "
        "gun = gun:main",
    ]
    # a launcher that runs another interpreter, and a deleted one
    launcher.write_bytes(b'#!/bin/sh\nexec /tmp/evil "$@"\n')
    (python.parent / "gun-gui").unlink()
    code, lines = _audit(cli, scene, python)
    assert code == 1
    assert "drift: file: gun: scripts/gun-gui: missing" in lines
    assert (
        "drift: file: gun: scripts/gun: launcher for gun = gun:main does not run this "
        "environment's interpreter" in lines
    )
    code, out, err = cli("--lock", scene, "sync", "--python", python)
    assert code == 0, err
    assert "reinstall  gun 1.0" in out
    assert launcher.read_bytes() == good
    assert _audit(cli, scene, python)[0] == 0


@pytest.mark.parametrize("installer", ["builtin", "pip", "uv"])
@pytest.mark.parametrize("where", ["short", "long"])  # a long path: the /bin/sh header form
def test_launchers_and_scripts_every_installer_writes_pass_the_audit(
    scene: Path, tmp_path: Path, cli: Cli, installer: str, where: str
) -> None:
    folder = tmp_path / ("v" if where == "short" else "d" * 120)
    python = make_venv(folder / "venv")
    _install(cli, scene, python, "--installer", installer)
    header = (python.parent / "gun").read_bytes().split(b"\n", 1)[0]
    assert (header == b"#!/bin/sh") is (where == "long")
    assert subprocess.run([str(python.parent / "gun")], capture_output=True, text=True).stdout
    code, lines = _audit(cli, scene, python)
    assert (code, lines) == (0, [f"ok: {python} holds exactly the lock (3 packages)"])


# -- files no distribution owns ----------------------------------------------------------------


def _pip_install(python: Path, *wheels: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-index",
         "--no-deps", "--no-compile", *map(str, wheels)],
        check=True, capture_output=True,
    )  # fmt: skip


def test_unowned_pth_module_entry_points_and_second_dist_info_fail_audit_and_sync_moves_them(
    scene: Path, tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    python = make_venv(tmp_path / "venv")
    wheels = tmp_path / "w"
    # pip and (in lockkeys' own environment) its dependencies are never touched
    _pip_install(python, build_wheel(wheels, "pip", "99.0"), build_wheel(wheels, "pydantic", "0.1"))
    monkeypatch.setattr(plan_module, "is_own_environment", lambda _env: True)
    _install(cli, scene, python)
    site = site_packages(python)
    planted = {
        "evil.pth": "import sys; sys.stderr.write('PTH RAN\\n')\n",
        "stray.py": "print('stray')\n",
        "__pycache__/stray.cpython-311.pyc": "not byte-code",
        "five-1.0.dist-info/entry_points.txt": "[console_scripts]\nevil = os:system\n",
        "Gun-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: gun\nVersion: 1.0\n",
        "Gun-1.0.dist-info/entry_points.txt": "[console_scripts]\ngun = os:system\n",
        "gun/extra.py": "import os\n",
    }
    for name, text in planted.items():
        _write(site / name, text)
    (python.parent / "evil-tool").write_text("#!/bin/sh\necho evil\n")
    started = subprocess.run([str(python), "-c", "pass"], capture_output=True, text=True)
    assert "PTH RAN" in started.stderr  # a .pth runs at every interpreter start
    pip_files = sorted(p for p in site.rglob("*") if "pip" in p.parts[len(site.parts)])
    assert pip_files

    code, lines = _audit(cli, scene, python)
    assert code == 1
    rel = site.relative_to(python.parent.parent)
    expected = ["drift: unowned: bin/evil-tool: no distribution owns it"] + [
        f"drift: unowned: {rel}/{name}: no distribution owns it" for name in sorted(planted)
    ]
    assert lines == sorted(expected)

    code, out, err = cli("--lock", scene, "sync", "--python", python, "--dry-run")
    assert code == 0, err
    assert (
        f"quarantine  {rel}/evil.pth (no distribution owns it; moved to lockkeys-quarantine/" in out
    )
    assert (site / "evil.pth").exists()

    code, out, err = cli("--lock", scene, "sync", "--python", python)
    assert code == 0, err
    assert "untouched  pip 99.0 (not in the lock: the installer itself)" in out
    assert out.count("quarantine  ") == len(expected)
    (moved_to,) = (python.parent.parent / "lockkeys-quarantine").iterdir()
    for name, text in planted.items():
        assert not (site / name).exists()
        assert (moved_to / rel / name).read_text() == text  # nothing is lost
    assert not (site / "Gun-1.0.dist-info").exists()  # no empty metadata folder left behind
    assert (moved_to / "bin" / "evil-tool").read_text() == "#!/bin/sh\necho evil\n"
    assert "PTH RAN" not in subprocess.run([str(python), "-c", "pass"], capture_output=True,
                                           text=True).stderr  # fmt: skip
    assert sorted(p for p in site.rglob("*") if "pip" in p.parts[len(site.parts)]) == pip_files
    assert (site / "pydantic" / "__init__.py").exists()
    assert (python.parent / "activate").exists() and (python.parent / "python").exists()
    code, lines = _audit(cli, scene, python)
    assert (code, lines) == (0, [f"ok: {python} holds exactly the lock (3 packages)"])


# -- byte-code ---------------------------------------------------------------------------------


def _poisoned_pyc(genuine: Path, source: str) -> bytes:
    """Byte-code of ``source`` behind the genuine file's header (its source size and mtime)."""
    import marshal

    code = compile(source, "x.py", "exec")
    return genuine.read_bytes()[:16] + marshal.dumps(code)


def test_poisoned_pyc_with_a_copied_header_fails_the_audit_and_install_drops_it(
    scene: Path, tmp_path: Path, cli: Cli
) -> None:
    python = make_venv(tmp_path / "venv")
    _install(cli, scene, python)
    assert _run(python, "import five, gun, gun.gui; print(five.VALUE)") == "five"
    code, lines = _audit(cli, scene, python)  # the interpreter's own byte-code is proven
    assert (code, lines) == (0, [f"ok: {python} holds exactly the lock (3 packages)"])

    tag = sys.implementation.cache_tag
    cache = site_packages(python) / "five" / "__pycache__"
    genuine = cache / f"__init__.{tag}.pyc"
    assert genuine.read_bytes()[:4] == importlib.util.MAGIC_NUMBER
    genuine.write_bytes(_poisoned_pyc(genuine, "VALUE = 'evil'\n"))
    assert _run(python, "import five; print(five.VALUE)") == "evil"  # it runs on import
    other = cache / "__init__.cpython-39.pyc"
    other.write_bytes(b"\0" * 20)
    optimized = cache / f"__init__.{tag}.opt-1.pyc"
    optimized.write_bytes(_poisoned_pyc(genuine, "VALUE = 'evil too'\n"))

    code, lines = _audit(cli, scene, python)
    assert code == 1
    rel = cache.relative_to(python.parent.parent)
    assert sorted(lines) == sorted(
        [
            f"drift: bytecode: five: {rel}/__init__.cpython-39.pyc: byte-code for another "
            f"interpreter (cpython-39, this one is {tag})",
            f"drift: bytecode: five: {rel}/__init__.{tag}.opt-1.pyc: not the byte-code of the "
            "verified source",
            f"drift: bytecode: five: {rel}/__init__.{tag}.pyc: not the byte-code of the verified "
            "source",
        ]
    )
    code, out, err = cli("--lock", scene, "install", "--python", python)
    assert code == 0, err
    assert f"drop-pyc   five: {rel}/__init__.{tag}.pyc (not the byte-code" in out
    assert "keep       five 1.0 (installed and intact)" in out
    assert not genuine.exists() and not other.exists() and not optimized.exists()
    assert _run(python, "import five; print(five.VALUE)") == "five"
    assert _audit(cli, scene, python)[0] == 0

    # the source edited too, and its row dropped from the installed RECORD (so uninstalling
    # would leave its byte-code): sync reinstalls it and drops the byte-code all the same
    assert _run(python, "import five; print(five.VALUE)") == "five"
    source = site_packages(python) / "five" / "__init__.py"
    source.write_text("VALUE = 'evil'\n")
    genuine.write_bytes(_poisoned_pyc(genuine, "VALUE = 'evil'\n"))
    record = next(site_packages(python).glob("five-1.0.dist-info")) / "RECORD"
    rows = [r for r in record.read_text().splitlines() if not r.startswith("five/__init__.py,")]
    record.write_text("\n".join(rows) + "\n")
    code, lines = _audit(cli, scene, python)
    assert code == 1
    assert lines == [
        "drift: file: five: five/__init__.py: differs from the locked wheel's RECORD",
        f"drift: bytecode: five: {rel}/__init__.{tag}.pyc: cannot be proven: its source "
        "differs from the locked wheel",
    ]
    code, out, err = cli("--lock", scene, "sync", "--python", python)
    assert code == 0, err
    assert not genuine.exists()
    assert _run(python, "import five; print(five.VALUE)") == "five"
    assert _audit(cli, scene, python)[0] == 0


def test_audit_of_a_large_environment_stays_fast(tmp_path: Path, cli: Cli) -> None:
    """One walk, one hash per file, one interpreter run for all byte-code: 40 packages of
    50 modules each, all imported once (2040 .pyc files to prove)."""
    wheels = tmp_path / "big" / "wheels"
    names = [f"pkg{i:02d}" for i in range(40)]
    for name in names:
        files = {f"{name}/__init__.py": b""}
        files |= {f"{name}/m{j}.py": f"def f{j}(x):\n    return x + {j}\n".encode() * 20
                  for j in range(50)}  # fmt: skip
        build_wheel(wheels, name, "1.0", files=files)
    lock = _lock(tmp_path / "big", "".join(f"{n}\n" for n in names))
    python = make_venv(tmp_path / "venv")
    _install(cli, lock, python)
    imports = "; ".join(f"import {n}.m{j}" for n in names for j in range(50))
    _run(python, imports)
    assert len(list(site_packages(python).glob("pkg*/__pycache__/*.pyc"))) == 40 * 51
    started = time.monotonic()
    code, lines = _audit(cli, lock, python)
    elapsed = time.monotonic() - started
    assert (code, lines) == (0, [f"ok: {python} holds exactly the lock (40 packages)"])
    assert elapsed < 30, elapsed
    print(f"audit of 2040 modules: {elapsed:.1f}s")


def test_audit_and_sync_never_run_a_pth_file_of_the_target(
    scene: Path, tmp_path: Path, cli: Cli
) -> None:
    """The audit looks at the environment; it must not run it (a .pth line starting with
    `import` is code that `site` runs at every interpreter start)."""
    python = make_venv(tmp_path / "venv")
    _install(cli, scene, python)
    _run(python, "import five, gun")  # byte-code to prove: the checker runs the target too
    marker = tmp_path / "the .pth ran"
    pth = site_packages(python) / "zz-evil.pth"
    pth.write_text(f"import pathlib; pathlib.Path({str(marker)!r}).touch()\n")
    code, lines = _audit(cli, scene, python)
    assert code == 1 and len(lines) == 1 and "zz-evil.pth: no distribution owns it" in lines[0]
    assert not marker.exists()
    code, _out, err = cli("--lock", scene, "sync", "--python", python)
    assert code == 0, err
    assert not marker.exists() and not pth.exists()
