"""The command line: parse, call the library, render. No decision lives here."""

from lockkeys._internal.cli.app import app, main

__all__ = ["app", "main"]
