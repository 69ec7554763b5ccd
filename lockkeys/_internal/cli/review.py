"""`lockkeys diff OLD NEW`: what changed between two locks, each trust change classified."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from lockkeys import api
from lockkeys._internal.cli.state import STATE, note, out
from lockkeys.errors import UsageError

EXIT_WEAKENING = 1


def diff(
    old: Annotated[
        str, typer.Argument(metavar="OLD", help="The old lock: a file, or git:REF[:PATH].")
    ],
    new: Annotated[
        str, typer.Argument(metavar="NEW", help="The new lock: a file, or git:REF[:PATH].")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
    fail_on: Annotated[
        str | None,
        typer.Option(
            "--fail-on",
            metavar="CLASS",
            help="weakening: exit 1 when any trust change weakens the lock.",
        ),
    ] = None,
) -> None:
    """Per package: version and file changes, and every trust change classified as
    weakening, strengthening or neutral (a rotation is neutral)."""
    if fail_on not in (None, "weakening"):
        raise UsageError(f"--fail-on {fail_on!r} is not known", expected="weakening")
    result = api.diff(old, new, config=STATE.config, lock_path=STATE.lock)
    if as_json:
        print(json.dumps(result.to_json(), indent=2, sort_keys=True))
    else:
        for line in result.lines():
            out.print(line, markup=False)
        note(f"{result.old} -> {result.new}: {result.summary()}")
    if fail_on == "weakening" and result.weakening:
        if not as_json:
            note(
                f"lockkeys: {len(result.weakening)} weakening change(s); review them, "
                "then merge without --fail-on"
            )
        raise typer.Exit(EXIT_WEAKENING)


def gate(
    base: Annotated[
        str, typer.Option("--base", metavar="REF", help="The git revision to compare with.")
    ],
    summary: Annotated[
        Path | None,
        typer.Option(
            "--summary",
            metavar="PATH",
            help="Append the Markdown summary here (default: $GITHUB_STEP_SUMMARY, if set).",
        ),
    ] = None,
    no_verify: Annotated[
        bool, typer.Option("--no-verify", help="Skip fetching and verifying the files.")
    ] = False,
    resolver: Annotated[
        str | None,
        typer.Option("--resolver", metavar="NAME", help="pip-tools or uv (default: config)."),
    ] = None,
) -> None:
    """The pull-request gate: lock --check, diff against REF (fail on a weakening), verify.

    Exit 1 when the lock is stale or hand-edited, weakens trust against REF, or a file does
    not verify; 3 when a source cannot be reached. The summary puts weakenings first."""
    result = api.gate(
        base, config=STATE.config, lock_path=STATE.lock, verify=not no_verify, resolver=resolver
    )
    target = summary or (
        Path(os.environ["GITHUB_STEP_SUMMARY"]) if os.environ.get("GITHUB_STEP_SUMMARY") else None
    )
    if target is not None:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(result.markdown() + "\n")
    out.print(f"{result.lock_path}: {result.check_message}", markup=False)
    for line in result.diff.lines():
        out.print(line, markup=False)
    for line in result.refused:
        out.print(f"refused       {line}", markup=False)
    if result.failed:
        note("lockkeys gate: FAILED: " + "; ".join(result.reasons))
        raise typer.Exit(EXIT_WEAKENING)
    note(f"lockkeys gate: passed ({result.diff.summary()} against {base})")
