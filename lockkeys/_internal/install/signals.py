"""SIGINT and SIGTERM during an install: raised as an exception so every rollback runs, and
held back while a rollback restores the environment."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; ``exit_code`` is 128 + the signal number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_code = 128 + signum


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """Turn SIGTERM (and SIGINT) into an exception, so every cleanup and rollback runs.

    Only in the main thread (where Python delivers signals); elsewhere a no-op.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_it(signum: int, _frame: FrameType | None) -> None:
        raise Interrupted(signum)

    old_term = signal.signal(signal.SIGTERM, raise_it)
    old_int = signal.signal(signal.SIGINT, raise_it)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old_term)
        signal.signal(signal.SIGINT, old_int)


@contextlib.contextmanager
def signals_blocked() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back while the block runs (a rollback is not interrupted)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
