"""`lockkeys diff OLD NEW`: what changed between two locks, each trust change classified."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from lockkeys.cli.state import STATE, note, out
from lockkeys.errors import UsageError
from lockkeys.lockfile.locate import find_lockfile

EXIT_WEAKENING = 1


def diff(
    old: Annotated[str, typer.Argument(help="The old lock: a file, or git:REF[:PATH].")],
    new: Annotated[str, typer.Argument(help="The new lock: a file, or git:REF[:PATH].")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
    fail_on: Annotated[
        str | None,
        typer.Option("--fail-on", help="weakening: exit 1 when any trust change weakens the lock."),
    ] = None,
) -> None:
    """Per package: version and file changes, and every trust change classified as
    weakening, strengthening or neutral (a rotation is neutral)."""
    from lockkeys.trust.lockdiff import diff_specs

    if fail_on not in (None, "weakening"):
        raise UsageError(f"--fail-on {fail_on!r} is not known", expected="weakening")
    result = diff_specs(old, new, STATE.lock or find_lockfile(STATE.config))
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
