"""Global options shared by every command, and the consoles (stdout: results, stderr: the rest)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console


@dataclass
class State:
    """The global options of this invocation (--config, --lock, -v, --quiet), set once by the
    `lockkeys` callback before any command runs."""

    config: Path | None = None
    lock: Path | None = None
    verbose: int = 0
    quiet: bool = False


STATE = State()
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def note(message: str) -> None:
    """A diagnostic line on stderr, unless --quiet."""
    if not STATE.quiet:
        err.print(message, markup=False)
