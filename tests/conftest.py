"""Shared pytest fixtures. Keep each concern in its own section."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # so that `fixtures.*` and `tests.support.*` import
    sys.path.insert(0, str(REPO_ROOT))

from lockkeys._internal.cli import main  # noqa: E402
from tests.support.cli import Cli  # noqa: E402
from tests.support.pypiserver import serve_index  # noqa: E402

# --- fixture data (fixtures/generate.py) -----------------------------------------------------


@pytest.fixture(scope="session")
def fixture_data() -> Path:
    """The committed fixtures: ``public/`` and ``private/`` folders of distributions."""
    return REPO_ROOT / "fixtures" / "data"


# --- package indexes (pypiserver on 127.0.0.1) ----------------------------------------------


@pytest.fixture
def pypiserver_factory() -> Iterator[Callable[[Path], str]]:
    """``start(directory) -> simple index URL``; every server started is stopped afterwards."""
    with contextlib.ExitStack() as stack:

        def start(directory: Path) -> str:
            return stack.enter_context(serve_index(directory))

        yield start


# --- lockkeys' verified-file cache: one private folder per test -------------------------------


@pytest.fixture(autouse=True)
def private_file_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Tests never read or fill the user's cache, and never share one."""
    folder = tmp_path_factory.mktemp("lockkeys-cache")
    monkeypatch.setenv("LOCKKEYS_CACHE_DIR", str(folder))
    return folder


@pytest.fixture(autouse=True)
def no_deploy_host_lock_signers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pipeline obeys LOCKKEYS_LOCK_SIGNERS/THRESHOLD; a test sets them when it means to."""
    monkeypatch.delenv("LOCKKEYS_LOCK_SIGNERS", raising=False)
    monkeypatch.delenv("LOCKKEYS_LOCK_THRESHOLD", raising=False)


# --- the lockkeys command, in-process -------------------------------------------------------


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    """Run ``lockkeys ARGS`` in-process; return (exit code, stdout, stderr)."""

    def run(*args: str | Path) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
