"""The one error root of lockkeys, split by whose fault a failure is.

Every refusal says which package and file it is about, what was expected, what was found and
how to fix it. The command line maps each class to a documented exit code (README, "Exit
codes"); library callers catch :class:`LockkeysError` and read :meth:`diagnostics`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lockkeys._internal.redact import redact


def escape(text: str) -> str:
    """Make untrusted text (user IDs, file names from a server) safe to print on one line."""
    out = []
    for ch in text:
        if ch.isprintable() and ch not in "\x1b":
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    return "".join(out)


@dataclass
class LockkeysError(Exception):
    """Base of every error lockkeys raises on purpose."""

    message: str
    package: str | None = None
    file: str | None = None
    expected: str | None = None
    found: str | None = None
    fix: str | None = None
    details: list[str] = field(default_factory=list)

    exit_code = 2
    kind = "error"

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.headline()

    def headline(self) -> str:
        """One line: where, then what."""
        where = []
        if self.package:
            where.append(escape(self.package))
        if self.file:
            where.append(escape(self.file))
        prefix = f"{': '.join(where)}: " if where else ""
        return redact(f"{prefix}{self.message}")

    def diagnostics(self) -> str:
        """The full text for people: the headline, then expected/found/fix lines."""
        lines = [self.headline()]
        if self.expected is not None:
            lines.append(f"  expected: {self.expected}")
        if self.found is not None:
            lines.append(f"  found:    {self.found}")
        lines.extend(f"  {line}" for line in self.details)
        if self.fix is not None:
            lines.append(f"  fix:      {self.fix}")
        return redact("\n".join(lines))

    def to_json(self) -> dict[str, object]:
        """The error as a JSON object (for ``--json`` output), with secrets redacted."""

        def clean(value: str | None) -> str | None:
            return None if value is None else redact(value)

        return {
            "kind": self.kind,
            "message": clean(self.message),
            "package": self.package,
            "file": clean(self.file),
            "expected": clean(self.expected),
            "found": clean(self.found),
            "fix": clean(self.fix),
            "details": [redact(line) for line in self.details],
        }


class UsageError(LockkeysError):
    """Bad usage or an invalid input file (config, lock, key, signature file): exit 2.

    Rendered on one line: malformed input gets a one-line reason naming the file.
    """

    exit_code = 2
    kind = "usage"

    def diagnostics(self) -> str:
        """The error on one line, its parts joined by ``; `` (secrets redacted)."""
        parts = [self.headline()]
        if self.expected is not None:
            parts.append(f"expected {self.expected}")
        if self.found is not None:
            parts.append(f"found {self.found}")
        parts.extend(self.details)
        if self.fix is not None:
            parts.append(f"fix: {self.fix}")
        return redact("; ".join(parts))


class InputError(UsageError):
    """An input file is malformed or inconsistent: exit 2."""

    kind = "invalid-input"


class VerificationError(LockkeysError):
    """Verification refused: hash mismatch, threshold not met, metadata mismatch: exit 1."""

    exit_code = 1
    kind = "verification"


class SourceError(LockkeysError):
    """A source could not be reached or served something unusable: exit 3."""

    exit_code = 3
    kind = "source"


class ResolutionError(LockkeysError):
    """Resolution failed (conflict, missing package): exit 4."""

    exit_code = 4
    kind = "resolution"
