"""The docs and the help text must not drift from the CLI (issue 18, Docs).

Every command and sub-command of the typer app, and every `--long` option of each, must
appear in docs/commands.md; the install docs must name every package of the `test` extra;
no `--help` may show a Python type (`<list[str]>`, `<path>`) where a person reads a metavar.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer.main
from packaging.requirements import Requirement

from lockkeys._internal.cli import app
from tests.support.cli import Cli

REPO_ROOT = Path(__file__).resolve().parent.parent
COMMANDS_PAGE = REPO_ROOT / "docs" / "commands.md"
INSTALL_PAGES = [REPO_ROOT / "docs" / "install.md", REPO_ROOT / "README.md"]

# A Python type where a metavar belongs: `<str>`, `<path>`, `<list[Path]>`, `<int>`, `{files}`.
# An e-mail address in a help text (`<release@corp.example>`) is not one.
TYPE_METAVAR = re.compile(r"<[A-Za-z_]+(?:\[[A-Za-z_, |]+\])?>|\{[a-z_]+\}")


def _commands() -> Iterator[tuple[str, typer.main.TyperCommand | typer.main.TyperGroup]]:
    """(`key generate`, the click command) for every command, sub-command and group."""
    root = typer.main.get_command(app)
    stack: list[tuple[str, object]] = [("", root)]
    while stack:
        path, cmd = stack.pop()
        if path:
            yield path, cmd  # type: ignore[misc]
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            stack.append((f"{path} {name}".strip(), sub))


def _long_options(cmd: object) -> list[str]:
    names: list[str] = []
    for param in getattr(cmd, "params", []):
        if param.param_type_name == "option":
            names += [o for o in [*param.opts, *param.secondary_opts] if o.startswith("--")]
    return names


ALL_COMMANDS = sorted(_commands(), key=lambda item: item[0])


def test_the_walk_finds_every_command_the_cli_has() -> None:
    names = {path for path, _ in ALL_COMMANDS}
    # a walk that found nothing would make the tests below pass without checking anything
    assert {"key generate", "key show", "lock", "install", "gate", "export"} <= names
    assert len(names) >= 14


@pytest.mark.parametrize("path", [path for path, _ in ALL_COMMANDS])
def test_commands_page_names_every_command(path: str) -> None:
    page = COMMANDS_PAGE.read_text(encoding="utf-8")
    assert f"lockkeys {path}" in page, f"docs/commands.md does not mention `lockkeys {path}`"


def _rows(page: str, path: str) -> str:
    """The reference table's rows for `lockkeys PATH` (`verify` also has `verify --installed`)."""
    rows = [
        line
        for line in page.splitlines()
        if line.startswith((f"| `lockkeys {path} ", f"| `lockkeys {path}`"))
    ]
    if any("same options as install" in row for row in rows):
        rows += _rows(page, "install").splitlines()
    return "\n".join(rows)


def _global_paragraph(page: str) -> str:
    return next(p for p in page.split("\n\n") if p.startswith("Global options"))


def _has_option(text: str, option: str) -> bool:
    # the option as a word of its own: `--cache-dir` must not be satisfied by `--cache-dirs`
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text) is not None


@pytest.mark.parametrize(
    ("path", "option"), [(path, opt) for path, cmd in ALL_COMMANDS for opt in _long_options(cmd)]
)
def test_commands_page_row_names_every_option_of_its_command(path: str, option: str) -> None:
    rows = _rows(COMMANDS_PAGE.read_text(encoding="utf-8"), path)
    assert rows, f"docs/commands.md has no table row for `lockkeys {path}`"
    assert _has_option(rows, option), (
        f"docs/commands.md: the row of `lockkeys {path}` does not name {option}:\n{rows}"
    )


@pytest.mark.parametrize("option", _long_options(typer.main.get_command(app)))
def test_commands_page_names_every_global_option(option: str) -> None:
    paragraph = _global_paragraph(COMMANDS_PAGE.read_text(encoding="utf-8"))
    assert _has_option(paragraph, option), f"docs/commands.md: global options lack {option}"


def _test_extra() -> list[str]:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return [Requirement(r).name for r in pyproject["project"]["optional-dependencies"]["test"]]


@pytest.mark.parametrize("page", INSTALL_PAGES, ids=lambda p: p.name)
def test_install_docs_name_every_package_of_the_test_extra(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    line = next(ln for ln in text.splitlines() if "'.[test]'" in ln)
    missing = [name for name in _test_extra() if name not in line]
    assert len(_test_extra()) >= 5
    assert not missing, f"{page.name}: the `.[test]` line does not name {missing}: {line!r}"


@pytest.mark.parametrize("path", ["", *[path for path, _ in ALL_COMMANDS]])
def test_help_shows_metavars_a_person_reads(path: str, cli: Cli) -> None:
    code, out, _ = cli(*path.split(), "--help")
    assert code == 0
    assert "Usage: lockkeys" in out
    found = TYPE_METAVAR.findall(out)
    assert not found, f"`lockkeys {path} --help` shows {found}:\n{out}"


def test_type_metavar_pattern_catches_what_typer_prints_by_default() -> None:
    for shown in ["--python <str>", "--lock-signer <list[Path]>", "--out-dir <path>", "{files}"]:
        assert TYPE_METAVAR.search(shown), shown
    assert not TYPE_METAVAR.search('User ID, e.g. "Corp Release <release@corp.example>".')


def test_shell_completion_is_offered(cli: Cli) -> None:
    code, out, _ = cli("--help")
    assert code == 0
    assert "--install-completion" in out
    assert "--show-completion" in out
