"""Help text a person reads: an argument shows its metavar (`FILE...`), not its Python type.

typer prints an argument's type after its name (`FILE <list[Path]>`) and braces in the usage
line (`{FILE}...`) whatever metavar it was given; options already show their metavar alone.
This command class prints arguments as click does: the metavar, `...` when it repeats.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperCommand


def _argument_name(param: Any) -> str:
    name = str(param.metavar or param.name).upper()
    return f"{name}..." if param.nargs != 1 else name


class MetavarCommand(TyperCommand):
    """A typer command whose help names each argument by its metavar only."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        """The usage line: the options' metavar, then each argument by its metavar."""
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                name = _argument_name(param)
                pieces.append(name if param.required else f"[{name}]")
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        """The Arguments section (metavar and help), then the Options section."""
        args: list[tuple[str, str]] = []
        opts: list[tuple[str, str]] = []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                args.append((_argument_name(param), record[1]))
            else:
                opts.append(record)
        if args:
            with formatter.section("Arguments"):
                formatter.write_dl(args)
        if opts:
            with formatter.section("Options"):
                formatter.write_dl(opts)
