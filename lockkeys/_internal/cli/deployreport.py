"""How a deploy run shows on the terminal: progress while it runs, then its report (a table,
the plan, the differences, or one JSON document) and the refusals that end it with exit 1."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from lockkeys._internal.cli.state import STATE, err, note, out
from lockkeys.errors import LockkeysError, VerificationError, escape

if TYPE_CHECKING:
    from lockkeys.api import Report

_STYLE = {
    "verified-by-hash": "green",
    "verified-by-signatures": "green",
    "verified-by-hash-and-signatures": "green",
    "allowed-unverified": "yellow",
    "refused": "red",
    "not-for-this-environment": "dim",
}


def _log_lines(package: str, stage: str) -> None:
    """Progress for logs (stderr is not a terminal): one line per package as it finishes."""
    if stage == "done":
        err.print(f"lockkeys: {escape(package)}", markup=False)
    elif stage == "install":
        err.print("lockkeys: installing", markup=False)


@contextmanager
def progress_bar(total: int, enabled: bool) -> Iterator[Callable[[str, str], None]]:
    """A progress callback for ``total`` packages: a bar on a terminal, else log lines."""
    if not enabled:
        yield lambda _pkg, _stage: None
        return
    if not err.is_terminal:
        yield _log_lines
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("verifying", total=total)

        def update(package: str, stage: str) -> None:
            if stage == "done":
                bar.advance(task)
            elif stage == "install":
                bar.update(task, description="installing")
            else:
                bar.update(task, description=f"{stage} {package}")

        yield update


def _plain_table(headers: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    """Aligned columns that never wrap, for logs and files (stdout is not a terminal)."""
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [headers, *rows]
    ]
    return "\n".join(lines)


def render_table(report: Report) -> None:
    """One row per package: name, version, policy, status and what was found."""
    headers = ("package", "version", "policy", "status", "detail")
    rows = [
        (escape(p.name), escape(p.version), p.policy, str(p.status), escape(p.summary()))
        for p in report.packages
    ]
    if not out.is_terminal:
        if rows:
            print(_plain_table(headers, rows))
        return
    from rich.markup import escape as markup_escape
    from rich.table import Table

    table = Table(title=None, show_header=True, header_style="bold", box=None)
    for column in headers:
        table.add_column(column, no_wrap=column != "detail", overflow="fold")
    for row, pkg in zip(rows, report.packages, strict=True):
        table.add_row(
            *(markup_escape(cell) for cell in row[:3]),
            f"[{_STYLE[str(pkg.status)]}]{pkg.status}[/]",
            markup_escape(row[4]),
        )
    out.print(table)


def _no_op(report: Report) -> bool:
    """An install or sync whose every package verified and whose plan changes nothing."""
    return (
        report.ok
        and bool(report.plan)
        and not report.audited
        and not any(s.changes for s in report.plan)
    )


def render_plan(report: Report, *, steps: bool = True) -> None:
    """The plan's counts, then (``steps``) one line per step."""
    if not report.plan:
        return
    counts: dict[str, int] = {}
    for step in report.plan:
        counts[str(step.action)] = counts.get(str(step.action), 0) + 1
    summary = ", ".join(f"{n} {a}" for a, n in sorted(counts.items()))
    title = "plan (dry run, nothing was changed)" if report.dry_run else "plan"
    if not steps:
        verified = sum(1 for p in report.packages if p.local_path is not None)
        print(f"{title}: {summary}; all {verified} locked package(s) verified; nothing to change")
        return
    lines = [f"{title}: {summary}"]
    lines += [f"  {s.action!s:<9}  {escape(s.describe())}" for s in report.plan]
    print("\n".join(lines))


def render_findings(report: Report) -> None:
    """`verify --installed`'s differences, one `drift:` line each, or that there are none."""
    for finding in report.findings:
        print(f"drift: {escape(finding.line())}")
    if report.audited and not report.findings:
        locked = sum(1 for p in report.packages if p.local_path is not None)
        print(f"ok: {escape(report.python)} holds exactly the lock ({locked} packages)")


def render(report: Report, as_json: bool) -> None:
    """The run's report on stdout (a table and the plan, or JSON), its notes on stderr."""
    if as_json:
        print(json.dumps(report.to_json(), indent=2, sort_keys=True))
    elif _no_op(report) and STATE.verbose == 0:
        # Nothing to change: one line, not a row per package twice (-v shows them).
        render_plan(report, steps=False)
    else:
        if not report.audited or not report.ok:
            render_table(report)
        render_plan(report)
        render_findings(report)
    for line in report.notes:
        err.print(f"lockkeys: {escape(line)}", markup=False)
    for pkg in report.unverified:
        err.print(
            f"lockkeys: warning: {pkg.name} {pkg.version} was accepted UNVERIFIED "
            "(policy 'none' in the lock)",
            markup=False,
        )
    skipped = [p for p in report.packages if str(p.status) == "not-for-this-environment"]
    if skipped and not as_json:
        named = ", ".join(f"{p.name} ({p.details[0]})" if p.details else p.name for p in skipped)
        note(f"lockkeys: skipped {len(skipped)} package(s) not needed on this target: {named}")


@contextmanager
def json_errors(as_json: bool) -> Iterator[None]:
    """With --json, a run that stops early still prints one JSON document on stdout."""
    try:
        yield
    except LockkeysError as exc:
        if as_json:
            print(json.dumps({"ok": False, "error": exc.to_json(), "packages": []}, indent=2))
        raise


def fail_if_refused(report: Report, as_json: bool) -> None:
    """Name every refused package on stderr and exit 1, unless every package verified."""
    if report.ok:
        return
    for pkg in report.refused:
        lines = [f"lockkeys: {pkg.name} {pkg.version}: refused: {pkg.reason}"]
        lines += [f"  {escape(d)}" for d in pkg.details]
        if pkg.fix:
            lines.append(f"  fix: {pkg.fix}")
        err.print("\n".join(lines), markup=False)
    if not as_json:
        err.print(
            f"lockkeys: {len(report.refused)} of {len(report.packages)} package(s) refused"
            + ("; nothing was installed" if report.installer is None else ""),
            markup=False,
        )
    raise typer.Exit(VerificationError.exit_code)
