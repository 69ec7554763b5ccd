"""The review gate for a pull request that touches the lock: `lockkeys gate --base REF`.

Three checks, in this order, over one lock:

1. ``lock --check``: the lock is what `lockkeys lock` writes for the configuration and the
   sources (not stale, not edited by hand);
2. ``diff git:BASE:LOCK LOCK``: every trust change against the base branch, classified; any
   weakening fails the gate;
3. ``verify``: every locked file is fetched from its source and verified, as a deploy would.

The result renders as Markdown for a CI job summary (GitHub's ``$GITHUB_STEP_SUMMARY``):
the verdict first, then weakenings, packages added and removed, the other trust changes, and
the findings of the check and of the verification. The reusable workflow in ``.github/`` only
installs lockkeys and runs this; every decision is made here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lockkeys._internal.install.report import Report
from lockkeys._internal.lockmodel.lock import Lock
from lockkeys._internal.locktrust.lockdiff import (
    Change,
    Kind,
    LockDiff,
    diff_locks,
    read_side_document,
)
from lockkeys.errors import escape


@dataclass(frozen=True)
class GateResult:
    """What the gate found; :attr:`failed` says whether the pull request must not merge."""

    lock_path: Path
    base: str
    check_message: str
    stale: bool
    diff: LockDiff
    added: tuple[str, ...]
    """``name version`` of each package entry the base lock does not have."""
    removed: tuple[str, ...]
    """``name version`` of each base entry the lock no longer has."""
    report: Report | None
    """The verification (None: not asked for)."""

    @property
    def refused(self) -> list[str]:
        """``name version: reason`` of each package whose files did not verify."""
        if self.report is None:
            return []
        return [f"{p.name} {p.version}: {p.reason}" for p in self.report.packages if not p.ok]

    @property
    def reasons(self) -> list[str]:
        """Why the gate fails, one line each (empty: it passes)."""
        out = []
        if self.stale:
            out.append("the lock is stale or was edited by hand (`lockkeys lock --check`)")
        if self.diff.weakening:
            out.append(f"{len(self.diff.weakening)} weakening change(s) against {self.base}")
        if self.refused:
            out.append(f"{len(self.refused)} package(s) did not verify")
        return out

    @property
    def failed(self) -> bool:
        """True when the pull request must not merge (there is at least one reason)."""
        return bool(self.reasons)

    def markdown(self) -> str:
        """The job summary: verdict, weakenings first, then everything else."""
        title = f"## lockkeys: `{_md(str(self.lock_path))}` against `{_md(self.base)}`"
        verdict = (
            "**Failed:** " + "; ".join(self.reasons) + "."
            if self.failed
            else "**Passed:** the lock is up to date, no trust change weakens it"
            + (", and every locked file verified." if self.report is not None else ".")
        )
        lines = [title, "", verdict, ""]
        lines += _table(f"Weakening changes ({len(self.diff.weakening)})", self.diff.weakening)
        if self.added or self.removed:
            lines += ["### Packages added and removed", ""]
            lines += [f"- added: `{_md(p)}`" for p in self.added]
            lines += [f"- removed: `{_md(p)}`" for p in self.removed]
            lines.append("")
        for kind in (Kind.STRENGTHENING, Kind.NEUTRAL):
            changes = self.diff.of_kind(kind)
            if changes:
                lines += ["<details>", f"<summary>{kind} changes ({len(changes)})</summary>", ""]
                lines += _table(None, changes)
                lines += ["</details>", ""]
        first, *rest = self.check_message.splitlines() or [""]
        lines += ["### `lock --check`", "", _md(first), ""]
        lines += [f"- {_md(line.strip())}" for line in rest if line.strip()]
        lines += [""] if rest else []
        if self.report is not None:
            verified = len([p for p in self.report.packages if p.ok])
            total = len(self.report.packages)
            lines += ["### `verify`", "", f"{verified} of {total} package(s) passed their policy."]
            lines += [f"- refused: {_md(r)}" for r in self.refused]
            lines.append("")
        return "\n".join(lines)


def _md(text: str) -> str:
    """Untrusted text (names and values from a lock) made inert in Markdown and HTML."""
    out = escape(text)
    for ch in "\\`*_[]<>|":
        out = out.replace(ch, "\\" + ch)
    return out


def _table(heading: str | None, changes: list[Change]) -> list[str]:
    if not changes:
        return []
    lines = [f"### {heading}", ""] if heading else []
    lines += ["| package | field | old | new | what |", "|---|---|---|---|---|"]
    for c in changes:
        cells = (c.package, c.field, c.old or "-", c.new or "-", c.what)
        lines.append("| " + " | ".join(_md(cell) for cell in cells) + " |")
    return [*lines, ""]


def _entries(lock: Lock) -> set[str]:
    return {f"{p.name} {p.version}" for p in lock.packages}


def run_gate(
    config_path: Path | None,
    base: str,
    *,
    lock_path: Path | None = None,
    verify: bool = True,
    resolver: str | None = None,
) -> GateResult:
    """Run the three checks for the lock of ``config_path`` against git revision ``base``.

    ``lock_path`` defaults to the configuration's lock. A source that cannot be reached
    raises :class:`~lockkeys.errors.SourceError` (exit 3: retry), as the commands do.
    """
    from lockkeys._internal.install.pipeline import verify as verify_lock
    from lockkeys._internal.install.request import open_request
    from lockkeys._internal.locking.locker import lock as run_lock

    outcome = run_lock(config_path, lock_path=lock_path, check=True, resolver=resolver)
    path = outcome.path
    old, old_label, old_doc = read_side_document(f"git:{base}:{path}", path)
    new, new_label, new_doc = read_side_document(str(path), path)
    diff = diff_locks(old, new, old_label, new_label, old_doc=old_doc, new_doc=new_doc)
    report = verify_lock(open_request(path)) if verify else None
    return GateResult(
        lock_path=path,
        base=base,
        check_message=outcome.message,
        stale=outcome.stale,
        diff=diff,
        added=tuple(sorted(_entries(new) - _entries(old))),
        removed=tuple(sorted(_entries(old) - _entries(new))),
        report=report,
    )


__all__ = ["GateResult", "run_gate"]
