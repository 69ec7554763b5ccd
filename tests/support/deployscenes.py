"""Install and sync scenes: projects locked from copies of the public fixtures, a lock pair
for an upgrade, a lock whose wheel every installer rejects, and a lockkeys run stopped in its
install step. Shared by the deploy tests and the never-lose-a-file tests."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

from lockkeys._internal.locking.locker import lock as lock_config

REPO = Path(__file__).resolve().parents[2]


def write(path: Path, text: str) -> Path:
    """Write ``text`` (dedented) to ``path``, making its folder; returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def make_scene(fixture_data: Path, dest: Path, source: str, requirements: str) -> Path:
    """A copy of the public fixtures, a config with ``source``, locked; returns the lock."""
    if not (dest / "public").exists():
        shutil.copytree(fixture_data / "public", dest / "public")
    write(
        dest / "lockkeys.toml",
        f"""
        requirements = ["requirements.in"]
        [[sources]]
        name = "pub"
        {source}
        """,
    )
    write(dest / "requirements.in", requirements)
    outcome = lock_config(dest / "lockkeys.toml")
    return outcome.path


def pip_install(python: Path, *wheels: Path) -> None:
    """Install ``wheels`` into ``python``'s environment with pip, offline and without deps."""
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "--python", str(python), "install", "-q"),
            *("--no-index", "--no-deps", *map(str, wheels)),
        ],
        check=True,
        capture_output=True,
    )


def upgrade_scene(fixture_data: Path, dest: Path) -> tuple[Path, Path]:
    """Lock A (bar 1.0, util 2.0) and lock B (bar 1.1, util 2.1), each in its own folder."""
    old = make_scene(fixture_data, dest / "a", 'path = "public"', "bar==1.0\nutil==2.0\n")
    new = make_scene(fixture_data, dest / "b", 'path = "public"', "bar==1.1\nutil==2.1\n")
    return old, new


def _record_with(record: bytes, changed: dict[str, bytes]) -> bytes:
    """RECORD with the hash and size of each changed member updated."""
    lines = []
    for line in record.decode().splitlines():
        path = line.split(",")[0]
        if path in changed:
            digest = base64.urlsafe_b64encode(hashlib.sha256(changed[path]).digest())
            line = f"{path},sha256={digest.decode().rstrip('=')},{len(changed[path])}"
        lines.append(line)
    return ("\n".join(lines) + "\n").encode()


def break_util(lock: Path) -> None:
    """util 2.1 rebuilt with a wheel format no installer supports, and the lock edited to
    pin it (as if locked from it): it passes every verification, then installers reject it."""
    wheel = lock.parent / "public" / "util-2.1-py3-none-any.whl"
    old = wheel.read_bytes()
    with zipfile.ZipFile(wheel) as archive:
        members = [(i.filename, archive.read(i)) for i in archive.infolist()]
    changed: dict[str, bytes] = {}
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in members:
            if name.endswith(".dist-info/WHEEL"):
                data = data.replace(b"Wheel-Version: 1.0", b"Wheel-Version: 9.0")
                changed[name] = data
            elif name.endswith(".dist-info/RECORD"):  # keep RECORD honest (threat row 22)
                data = _record_with(data, changed)
            archive.writestr(name, data)
    new = wheel.read_bytes()
    text = lock.read_text(encoding="utf-8")
    old_sha, new_sha = hashlib.sha256(old).hexdigest(), hashlib.sha256(new).hexdigest()
    assert old_sha in text
    text = text.replace(old_sha, new_sha).replace(f"size = {len(old)}", f"size = {len(new)}")
    lock.write_text(text, encoding="utf-8")


# A lockkeys run that stops in its install step: after two wheels (builtin installer), or
# once the installer command has run (pip, uv); it writes TEST_MARKER when it gets there.
WRAPPER = """
import os, signal, sys, time
from pathlib import Path

marker = Path(os.environ["TEST_MARKER"])
how = os.environ["TEST_HOW"]
if how == "builtin":
    import installer
    real = installer.install
    calls = []

    def install(*args, **kwargs):
        real(*args, **kwargs)
        calls.append(1)
        if len(calls) == 2:  # two wheels written, more to come
            marker.write_text("installing")
            time.sleep(60)

    installer.install = install
else:
    import lockkeys._internal.install.installer as inst
    real_command = inst.installer_command

    def command(*args, **kwargs):
        cmd = real_command(*args, **kwargs)
        script = 'echo $$ > "$0.pid" && "$@" && touch "$0" && exec sleep 60'
        return ["sh", "-c", script, str(marker), *cmd]

    inst.installer_command = command
from lockkeys._internal.cli import main
sys.exit(main(sys.argv[1:]))
"""


def run_until_installing(
    args: list[str], how: str, marker: Path, tmp: Path
) -> subprocess.Popen[str]:
    """Start ``lockkeys ARGS`` under :data:`WRAPPER` and return once the ``how`` installer
    (builtin, or an installer command) is in its install step."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(TEST_MARKER=str(marker), TEST_HOW=how, PYTHONPATH=str(REPO), TMPDIR=str(tmp))
    proc = subprocess.Popen(
        [sys.executable, "-c", WRAPPER, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the install step was never reached"
        time.sleep(0.05)
    return proc
