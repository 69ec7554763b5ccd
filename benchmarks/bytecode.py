"""Shared by the benchmark scripts: byte-compile lockkeys before anything is timed.

``pip install`` byte-compiles what it installs; an editable install does not, and where
``PYTHONDONTWRITEBYTECODE=1`` is set (some machines and CI images set it) every ``lockkeys``
command would compile about 70 modules from source, some 0.2 s that no installed copy pays.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path


def compile_lockkeys() -> str:
    """Byte-compile the lockkeys package the running Python imports; a line saying so."""
    spec = importlib.util.find_spec("lockkeys")
    if spec is None or spec.origin is None:
        return "lockkeys' modules: not found to byte-compile (the installed copy is used)"
    package = Path(spec.origin).parent
    done = subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(package)],
        capture_output=True,
        check=False,
    )
    state = "byte-compiled" if done.returncode == 0 else "could not be byte-compiled"
    return f"lockkeys' modules {state} first, as pip install does ({package})"
