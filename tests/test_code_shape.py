"""Issue 20: the shape of the code holds. Small modules and functions, every public name
documented, the CLI only through lockkeys.api.

A module over 500 lines or a function over 80 needs a one-line reason in the code: a comment
``# long: <why>`` on the line above the ``def`` (or the module's first line). Public means a
name without a leading underscore, in any module under ``lockkeys/`` (``lockkeys._internal``
is internal to the project, not undocumented); dunder methods are left out, as ruff's D105
and D107 leave them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "lockkeys"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80
SOURCES = sorted(PACKAGE.rglob("*.py"))


def _rel(path: Path) -> str:
    return str(path.relative_to(PACKAGE.parent))


def _reason_above(lines: list[str], lineno: int) -> bool:
    """A ``# long:`` comment on the line above ``lineno`` (1-based), decorators skipped."""
    index = lineno - 2
    while index >= 0 and lines[index].lstrip().startswith("@"):
        index -= 1
    return index >= 0 and lines[index].strip().startswith("# long:")


def _functions(tree: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _public_defs(body: list[ast.stmt], prefix: str = "") -> list[tuple[str, ast.AST]]:
    found: list[tuple[str, ast.AST]] = []
    for node in body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        if node.name.startswith("_"):
            continue
        found.append((prefix + node.name, node))
        if isinstance(node, ast.ClassDef):
            found += _public_defs(node.body, f"{prefix}{node.name}.")
    return found


def test_the_package_has_modules() -> None:
    assert len(SOURCES) > 50, SOURCES  # the checks below must have something to check


@pytest.mark.parametrize("path", SOURCES, ids=_rel)
def test_module_and_functions_are_small(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    if len(lines) > MAX_MODULE_LINES:
        assert lines[0].startswith("# long:"), (
            f"{_rel(path)}: {len(lines)} lines (at most {MAX_MODULE_LINES}): split it by what "
            "each part holds, or give the reason in a first-line `# long:` comment"
        )
    too_long = [
        f"{f.name} ({f.end_lineno - f.lineno + 1} lines, line {f.lineno})"
        for f in _functions(ast.parse(text))
        if f.end_lineno is not None
        and f.end_lineno - f.lineno + 1 > MAX_FUNCTION_LINES
        and not _reason_above(lines, f.lineno)
    ]
    assert not too_long, (
        f"{_rel(path)}: functions over {MAX_FUNCTION_LINES} lines with no `# long:` reason: "
        + ", ".join(too_long)
    )


@pytest.mark.parametrize("path", SOURCES, ids=_rel)
def test_every_public_name_says_what_it_is_for(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    missing = [name for name, node in _public_defs(tree.body) if not ast.get_docstring(node)]  # type: ignore[arg-type]
    if path.name != "__init__.py" and not ast.get_docstring(tree):
        missing.insert(0, "<module>")
    assert not missing, f"{_rel(path)}: no docstring for " + ", ".join(missing)
