"""Run a real pypiserver on 127.0.0.1 serving one folder, for integration tests.

``serve_index(directory)`` starts ``pypi-server run -p PORT -i 127.0.0.1 --disable-fallback
-a . -P . DIR`` on a free port, waits until its simple index answers, yields the index URL
(``http://127.0.0.1:PORT/simple/``) and always stops the server. Fallback to the public index
is disabled, so tests never leave the machine.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

__all__ = ["PypiserverError", "free_port", "serve_index"]

HOST = "127.0.0.1"
START_DEADLINE = 10.0
PORT_ATTEMPTS = 5


class PypiserverError(RuntimeError):
    """pypiserver did not come up; the message carries its log."""


def free_port() -> int:
    """A port that was free a moment ago (bind port 0, read it, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _command(port: int, directory: Path) -> list[str]:
    exe = shutil.which("pypi-server")
    base = [exe] if exe else [sys.executable, "-m", "pypiserver"]
    return [
        *base,
        "run",
        "-p",
        str(port),
        "-i",
        HOST,
        "--disable-fallback",
        "-a",
        ".",
        "-P",
        ".",
        str(directory),
    ]


def _answers(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=1) as response:
            return int(response.status) == 200
    except urllib.error.HTTPError as exc:
        exc.close()
        return False
    except OSError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextlib.contextmanager
def serve_index(directory: Path) -> Iterator[str]:
    """Serve ``directory`` with pypiserver; yield ``http://127.0.0.1:PORT/simple/``."""
    directory = Path(directory).resolve()
    if not directory.is_dir():
        raise PypiserverError(f"not a folder: {directory}")
    with tempfile.TemporaryFile() as log:
        failures: list[str] = []
        for _ in range(PORT_ATTEMPTS):
            port = free_port()
            url = f"http://{HOST}:{port}/simple/"
            process = subprocess.Popen(
                _command(port, directory),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                deadline = time.monotonic() + START_DEADLINE
                up = False
                while time.monotonic() < deadline and process.poll() is None:
                    if _answers(url):
                        up = True
                        break
                    time.sleep(0.05)
                if not up:
                    # Exited early (most likely someone took the port first) or never answered.
                    failures.append(f"port {port}: exit code {process.poll()}")
                    continue
                yield url
                return
            finally:
                _stop(process)
        log.seek(0)
        output = log.read().decode("utf-8", "replace")
        raise PypiserverError(
            f"pypiserver did not start for {directory}: {'; '.join(failures)}\n{output}"
        )
