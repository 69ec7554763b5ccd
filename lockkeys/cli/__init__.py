"""The command line: parse, call the library, render. No decision lives here.

``lockkeys --version`` is answered before the command-line framework is imported, so that
the question a deploy script asks most often costs an interpreter start and nothing more.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> int:
    """Entry point (see :func:`lockkeys.cli.app.main`)."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["--version"]:
        from lockkeys import __version__

        print(f"lockkeys {__version__}")
        return 0
    from lockkeys.cli.app import main as run

    return run(argv)


def __getattr__(name: str) -> Any:
    if name == "app":
        from lockkeys.cli.app import app

        return app
    raise AttributeError(name)
