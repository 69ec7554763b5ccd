"""Issue 20, item 6: test files share helpers through ``tests/support/`` and ``conftest.py``,
never by importing one another (a test module imported by another runs its module-level code
twice and couples unrelated tests to its private names)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def imported_test_modules(source: str) -> list[str]:
    """The ``tests.test_*`` (or bare ``test_*``) modules that ``source`` imports, anywhere in
    the file (module level or inside a function), in any import form."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):  # the module, and each name as a submodule
            base = node.module or ""
            names = [base, *(f"{base}.{alias.name}".lstrip(".") for alias in node.names)]
        else:
            continue
        found += [name for name in names if _is_test_module(name)][:1]
    return found


def _is_test_module(name: str) -> bool:
    parts = name.split(".")
    if parts[0] == "tests":
        parts = parts[1:]
    return bool(parts) and parts[0].startswith("test_")


def test_no_test_file_imports_another_test_file() -> None:
    files = sorted(TESTS.glob("test_*.py"))
    assert len(files) > 10, files  # the glob found the suite
    offenders = {
        path.name: modules
        for path in files
        if (modules := imported_test_modules(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}, (
        f"test files import other test files: {offenders}; "
        "move the shared helper to tests/support/ and import it from there"
    )


def test_the_check_sees_every_form_of_import() -> None:
    pkg = "tests"  # spelled apart: a grep of the suite for cross-imports finds none here
    source = (
        f"from {pkg}.test_a import x\n"
        f"import {pkg}.test_b\n"
        f"def f():\n    from {pkg}.test_c import y\n"
        "from .test_d import z\n"
        "from . import test_e\n"
        "import test_f\n"
        f"from {pkg} import test_g\n"
        f"from {pkg}.support.venvs import make_venv\n"
        f"import {pkg}.support.cli\n"
        f"from {pkg} import conftest\n"
    )
    assert sorted(imported_test_modules(source)) == [
        "test_d",
        "test_e",
        "test_f",
        "tests.test_a",
        "tests.test_b",
        "tests.test_c",
        "tests.test_g",
    ]
