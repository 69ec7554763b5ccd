"""Long lists in messages, summarized: the first few names and how many more."""

from __future__ import annotations

from collections.abc import Sequence

#: How many names a message lists before it says "and N more".
LIMIT = 5


def summarize(names: Sequence[str], limit: int = LIMIT, noun: str = "") -> str:
    """``a, b, c, d, e and 12 more`` (``noun`` after the count: ``and 12 more files``)."""
    items = list(names)
    if len(items) <= limit:
        return ", ".join(items)
    rest = len(items) - limit
    return ", ".join(items[:limit]) + f" and {rest} more" + (f" {noun}" if noun else "")


__all__ = ["LIMIT", "summarize"]
