"""The ``lockkeys`` console script and ``python -m lockkeys``.

``lockkeys --version`` is answered here, before the command line (typer, rich and every
command module) is imported, so that the question a deploy script asks most often costs an
interpreter start and nothing more. Everything else goes to :func:`lockkeys._internal.cli.main`.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run ``lockkeys ARGV`` (default: the process's arguments); return the exit code."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["--version"]:
        from lockkeys import __version__

        print(f"lockkeys {__version__}")
        return 0
    from lockkeys._internal.cli import main as run

    return run(argv)


__all__ = ["main"]
