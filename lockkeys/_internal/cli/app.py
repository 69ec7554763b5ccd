"""The `lockkeys` command: global options, sub-commands, and the one error handler."""

from __future__ import annotations

import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer

from lockkeys import __version__
from lockkeys._internal.cli import deploy, keys, lockcmd, review
from lockkeys._internal.cli.helpfmt import MetavarCommand
from lockkeys._internal.cli.state import STATE, err
from lockkeys._internal.redact import RedactingFilter, redact
from lockkeys.errors import LockkeysError

EXIT_INTERNAL = 70

app = typer.Typer(
    name="lockkeys",
    help="A requirements lock with pinned n-of-m signer keys, and an installer that enforces it.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(keys.key_app, name="key")
app.command("sign", cls=MetavarCommand)(keys.sign)
app.command("verify-signature", cls=MetavarCommand)(keys.verify_signature)
app.command("lock", cls=MetavarCommand)(lockcmd.lock)
app.command("verify", cls=MetavarCommand)(deploy.verify)
app.command("download", cls=MetavarCommand)(deploy.download)
app.command("install", cls=MetavarCommand)(deploy.install)
app.command("sync", cls=MetavarCommand)(deploy.sync)
app.command("export", cls=MetavarCommand)(lockcmd.export)
app.command("why", cls=MetavarCommand)(lockcmd.why)
app.command("diff", cls=MetavarCommand)(review.diff)
app.command("gate", cls=MetavarCommand)(review.gate)


def _version(value: bool) -> None:
    if value:
        print(f"lockkeys {__version__}")
        raise typer.Exit(0)


@app.callback()
def global_options(
    config: Annotated[
        Path | None,
        typer.Option("--config", metavar="PATH", help="pyproject.toml or lockkeys.toml to use."),
    ] = None,
    lock: Annotated[
        Path | None,
        typer.Option(
            "--lock",
            metavar="PATH",
            help="The lock file (default: from the config, else pylock.toml).",
        ),
    ] = None,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More detail on stderr.")
    ] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only results and errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Keep the global options for the sub-command; log on stderr, every line redacted."""
    STATE.config = config
    STATE.lock = lock
    STATE.verbose = verbose
    STATE.quiet = quiet
    logging.basicConfig(
        level=logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        stream=sys.stderr,
    )
    for handler in logging.getLogger().handlers:  # no secret in any log line
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app and map errors to the documented exit codes."""
    os.environ.setdefault("RUST_BACKTRACE", "0")
    try:
        result = app(args=argv, prog_name="lockkeys", standalone_mode=False)
        if isinstance(result, int) and result:
            return result
    except LockkeysError as exc:
        err.print(f"lockkeys: {exc.diagnostics()}", markup=False)
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        err.print("lockkeys: aborted", markup=False)
        return 130
    except KeyboardInterrupt:
        err.print("lockkeys: interrupted", markup=False)
        return 130
    except Exception as exc:  # usage errors from the (vendored) click, and genuine bugs
        show = getattr(exc, "show", None)
        code = getattr(exc, "exit_code", None)
        if callable(show) and isinstance(code, int):  # a click.ClickException: bad usage
            show(file=sys.stderr)
            return code
        if STATE.verbose:
            traceback.print_exc()
        err.print(
            f"lockkeys: internal error: {type(exc).__name__}: {redact(str(exc))} "
            "(a bug in lockkeys; run with -v for the traceback)",
            markup=False,
        )
        return EXIT_INTERNAL
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
