"""Fake target interpreters: executables that answer lockkeys' environment probe with another
platform's markers and wheel tags, so Windows and macOS targets are tested on Linux."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def markers(**values: str) -> dict[str, str]:
    """A CPython 3.11 marker environment with ``values`` overriding its platform keys."""
    base = {
        "implementation_name": "cpython",
        "implementation_version": "3.11.7",
        "platform_python_implementation": "CPython",
        "python_full_version": "3.11.7",
        "python_version": "3.11",
        "platform_version": "fake",
        "platform_release": "fake",
    }
    return base | values


# the probe answers of a Windows (x86-64) and a macOS (arm64) CPython 3.11
WINDOWS = {
    "markers": markers(
        os_name="nt", sys_platform="win32", platform_system="Windows", platform_machine="AMD64"
    ),
    "tags": ["cp311-cp311-win_amd64", "cp311-none-win_amd64", "py3-none-win_amd64"],
}
MACOS = {
    "markers": markers(
        os_name="posix", sys_platform="darwin", platform_system="Darwin", platform_machine="arm64"
    ),
    "tags": ["cp311-cp311-macosx_11_0_arm64", "py3-none-macosx_11_0_arm64"],
}


def fake_python(folder: Path, name: str, target: dict[str, Any]) -> Path:
    """An executable that answers lockkeys' environment probe as ``target`` would."""
    answer = {
        "tags": [*target["tags"], "py311-none-any", "py3-none-any"],
        "markers": target["markers"],
        "executable": f"/fake/{name}/python",
        "prefix": f"/fake/{name}",
        "installed": [],
    }
    script = folder / f"python-{name}"
    script.write_text("#!/bin/sh\ncat <<'EOF'\n" + json.dumps(answer) + "\nEOF\n")
    script.chmod(0o755)
    return script
