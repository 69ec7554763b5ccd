"""Running the ``lockkeys`` command in-process, for tests (the ``cli`` fixture in conftest)."""

from __future__ import annotations

from collections.abc import Callable

Cli = Callable[..., tuple[int, str, str]]
"""``cli(*args) -> (exit code, stdout, stderr)`` of ``lockkeys ARGS``."""
