"""What the command costs before it does anything (issue 17): `--version` is answered
without importing the command-line framework. No timing here: benchmarks measure time."""

from __future__ import annotations

import subprocess
import sys

from lockkeys import __version__


def test_version_is_answered_without_importing_typer() -> None:
    code = (
        "import sys\n"
        "from lockkeys.entry import main\n"
        "code = main(['--version'])\n"
        "print(code, 'typer' in sys.modules, 'rich' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == [f"lockkeys {__version__}", "0 False False"]


def test_version_through_the_console_script_and_the_module_agree() -> None:
    via_module = subprocess.run(
        [sys.executable, "-m", "lockkeys", "--version"], capture_output=True, text=True
    )
    assert via_module.returncode == 0
    assert via_module.stdout == f"lockkeys {__version__}\n"
