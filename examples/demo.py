"""The main lockkeys scenario, offline, on the bundled fixtures (run: `make demo`).

`foo` depends on `bar`, `bar` depends on `broken`, and `broken 1.0` crashes. The application's
publisher builds `broken 1.0+corp.1` with a fix, signs it with the company key and serves it from
a private source. Nobody edits `foo` or `bar`. This script:

1. generates the company signing key and signs the patched build;
2. locks the application (`foo` from the public source, `broken` substituted from the private
   one), then shows `lockkeys why broken`;
3. installs the lock into a fresh virtual environment and runs the patched code;
4. installs a *rebuild* signed by the company key without re-locking;
5. shows a tampered rebuild (signed by a key not pinned for `broken`) being refused, with the
   environment left as it was.

Both sources are local folders here, so nothing is served and nothing leaves the machine.
Every step runs the real `lockkeys` command and prints it.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fixtures.wheelmaker import build_wheel  # noqa: E402

FIXTURES = ROOT / "fixtures" / "data"
LOCKKEYS = [sys.executable, "-m", "lockkeys"]


def step(title: str) -> None:
    print(f"\n=== {title}", flush=True)


def run(*args: str | Path, cwd: Path, expect: int = 0) -> subprocess.CompletedProcess[str]:
    shown = " ".join(shlex.quote(str(a)) for a in args)
    print(f"$ lockkeys {shown}", flush=True)
    # One stream, unbuffered: the output reads in the order lockkeys wrote it (progress on
    # stderr, then results on stdout), as in a terminal.
    env = {**os.environ, "COLUMNS": "110", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [*LOCKKEYS, *map(str, args)],
        cwd=cwd,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    if proc.stdout.strip():
        print("  " + proc.stdout.rstrip().replace("\n", "\n  "), flush=True)
    if proc.returncode != expect:
        print(f"demo failed: exit {proc.returncode}, expected {expect}", file=sys.stderr)
        sys.exit(1)
    print(f"  (exit {proc.returncode})", flush=True)
    return proc


def installed(python: Path) -> str:
    code = "import broken; print(broken.__version__, '|', broken.BUILD)"
    return subprocess.run(
        [str(python), "-c", code], text=True, capture_output=True, check=True
    ).stdout.strip()


def rebuild(folder: Path, marker: str) -> Path:
    """Another build of broken 1.0+corp.1: same name and version, different bytes."""
    out = Path(tempfile.mkdtemp(prefix="rebuild-"))
    wheel = build_wheel(
        out,
        "broken",
        "1.0+corp.1",
        files={
            "broken/__init__.py": (f"__version__ = '1.0+corp.1'\nBUILD = {marker!r}\n").encode()
        },
    )
    target = folder / wheel.name
    shutil.copyfile(wheel, target)
    shutil.rmtree(out)
    return target


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="lockkeys-demo-"))
    try:
        app = work / "app"
        shutil.copytree(FIXTURES / "public", app / "public", ignore=shutil.ignore_patterns("*.asc"))
        shutil.copytree(
            FIXTURES / "private", app / "private", ignore=shutil.ignore_patterns("*.asc")
        )
        (app / "requirements.in").write_text("foo\n")
        (app / "lockkeys.toml").write_text(
            'requirements = ["requirements.in"]\n'
            'lockfile = "pylock.toml"\n\n'
            '[[sources]]\nname = "public"\npath = "public"\n\n'
            '[[sources]]\nname = "private"\npath = "private"\n\n'
            '[signers]\ncorp = "keys/corp.asc"\n\n'
            "[packages.broken]\n"
            'substitute = "1.0+corp.1"\nsource = "private"\nsigners = ["corp"]\n'
            'verify = "signatures"\n'
            'reason = "backported crash fix, until upstream releases 1.1"\n'
        )
        print(f"working in {app}")
        print((app / "lockkeys.toml").read_text())

        step("1. The company key signs its patched build of broken")
        run(
            "key",
            "generate",
            "corp",
            "--uid",
            "Corp Release (TEST ONLY) <release@corp.invalid>",
            cwd=app,
        )
        run(
            "sign",
            "private/broken-1.0+corp.1-py3-none-any.whl",
            "--key",
            "keys/corp.secret.asc",
            cwd=app,
        )

        step("2. Lock: foo and bar from public, broken substituted from private")
        run("lock", cwd=app)
        run("why", "broken", cwd=app)
        run("lock", "--check", cwd=app)

        step("3. Install into a fresh virtual environment")
        env_dir = work / "venv"
        venv.EnvBuilder(with_pip=False).create(env_dir)
        python = env_dir / "bin" / "python"
        run("install", "--python", python, cwd=app)
        print(f"  broken in the environment: {installed(python)}")

        step("4. A rebuild signed by the corp key installs without re-locking")
        fresh = rebuild(app / "private", "corp rebuild #2 (signed)")
        Path(f"{fresh}.asc").unlink()
        run("sign", fresh.relative_to(app), "--key", "keys/corp.secret.asc", cwd=app)
        run("install", "--python", python, cwd=app)
        print(f"  broken in the environment: {installed(python)}")

        step("5. A tampered rebuild, signed by a key not pinned for broken, is refused")
        run("key", "generate", "mallory", "--uid", "Mallory (TEST ONLY)", cwd=app)
        evil = rebuild(app / "private", "TAMPERED")
        Path(f"{evil}.asc").unlink()
        run("sign", evil.relative_to(app), "--key", "keys/mallory.secret.asc", cwd=app)
        run("install", "--python", python, cwd=app, expect=1)
        print(f"  broken in the environment (unchanged): {installed(python)}")
        print(
            "\ndemo complete: the patched build was installed because corp signed it, "
            "and a tampered one was refused"
        )
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
