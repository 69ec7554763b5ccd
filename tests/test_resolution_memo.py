"""Kept resolutions (lockkeys._internal.resolve.memo): a lock of the same request against the same
index
pages reuses the resolver's answer; any change to what the resolver read runs it again.

A real pypiserver on 127.0.0.1 and the real uv; the resolver's runs are counted by wrapping
``UvResolver.resolve``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fixtures.wheelmaker import build_wheel
from lockkeys._internal.locking.locker import lock
from lockkeys._internal.resolve.piptools import PipToolsResolver
from lockkeys._internal.resolve.uv import UvResolver, find_uv
from tests.support.json_index import serve_json_index
from tests.support.pypiserver import serve_index

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(find_uv() is None, reason="uv is not installed"),
]


@pytest.fixture
def index(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    folder = tmp_path / "index"
    folder.mkdir()
    build_wheel(folder, "app", "1.0", requires_dist=["lib>=1"])
    build_wheel(folder, "lib", "1.0")
    with serve_index(folder) as url:
        yield url, folder


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Which resolver really ran, each time one did."""
    counted: list[str] = []
    for cls in (UvResolver, PipToolsResolver):
        real = cls.resolve

        def counting(self: Any, request: Any, real: Any = real) -> Any:
            counted.append(self.name)
            return real(self, request)

        monkeypatch.setattr(cls, "resolve", counting)
    return counted


def project(root: Path, *sources: tuple[str, str, str], resolver: str = "uv") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "requirements.in").write_text("app\n")
    lines = ['requirements = ["requirements.in"]', f'resolver = "{resolver}"', ""]
    for name, key, value in sources:
        lines += ["[[sources]]", f'name = "{name}"', f'{key} = "{value}"', ""]
    config = root / "lockkeys.toml"
    config.write_text("\n".join(lines))
    return config


def pins(config: Path) -> dict[str, str]:
    import tomllib

    doc = tomllib.loads((config.parent / "pylock.toml").read_text())
    return {p["name"]: p["version"] for p in doc["packages"]}


def fresh_lock(config: Path, **options: object) -> bytes:
    (config.parent / "pylock.toml").unlink(missing_ok=True)
    lock(config, **options)  # type: ignore[arg-type]
    return (config.parent / "pylock.toml").read_bytes()


def test_the_same_request_against_the_same_pages_reuses_the_resolution(
    tmp_path: Path, index: tuple[str, Path], runs: list[str], private_file_cache: Path
) -> None:
    config = project(tmp_path / "app", ("index", "url", index[0]))
    first = fresh_lock(config)
    assert len(runs) == 1
    said: list[str] = []
    assert fresh_lock(config, progress=said.append) == first  # same bytes, uv did not run
    assert len(runs) == 1
    assert any(line.startswith("resolution reused") for line in said), said
    kept = list((private_file_cache / "resolutions").glob("*.json"))
    assert len(kept) == 1
    recorded = json.loads(kept[0].read_text())["pages"]
    assert sorted(recorded) == ["app", "lib"]  # every page uv read, with its body's SHA-256
    # With the lock in place its pins are constraints: another request, resolved once.
    lock(config)
    lock(config)
    assert len(runs) == 2


def test_a_new_release_on_the_index_runs_the_resolver_again(
    tmp_path: Path, index: tuple[str, Path], runs: list[str]
) -> None:
    url, folder = index
    config = project(tmp_path / "app", ("index", "url", url))
    fresh_lock(config)
    assert pins(config) == {"app": "1.0", "lib": "1.0"}
    build_wheel(folder, "lib", "1.1")  # only lib's page changes
    fresh_lock(config)
    assert len(runs) == 2
    assert pins(config) == {"app": "1.0", "lib": "1.1"}


def test_re_resolve_and_no_cache_always_run_the_resolver(
    tmp_path: Path, index: tuple[str, Path], runs: list[str], private_file_cache: Path
) -> None:
    config = project(tmp_path / "app", ("index", "url", index[0]))
    first = fresh_lock(config)
    assert fresh_lock(config, reuse=False) == first
    assert fresh_lock(config, no_cache=True) == first
    assert len(runs) == 3
    # --re-resolve keeps what it resolved: the next lock reuses it.
    shutil.rmtree(private_file_cache / "resolutions")
    assert fresh_lock(config, reuse=False) == first
    assert fresh_lock(config) == first
    assert len(runs) == 4


def test_a_folder_source_is_never_reused(
    tmp_path: Path, index: tuple[str, Path], runs: list[str]
) -> None:
    url, _ = index
    local = tmp_path / "wheels"
    local.mkdir()
    build_wheel(local, "extra", "1.0")
    config = project(tmp_path / "app", ("index", "url", url), ("local", "path", str(local)))
    fresh_lock(config)
    fresh_lock(config)
    assert len(runs) == 2


def test_a_damaged_kept_resolution_is_ignored(
    tmp_path: Path, index: tuple[str, Path], runs: list[str], private_file_cache: Path
) -> None:
    config = project(tmp_path / "app", ("index", "url", index[0]))
    first = fresh_lock(config)
    (entry,) = (private_file_cache / "resolutions").glob("*.json")
    document = json.loads(entry.read_text())
    document["pins"][0]["version"] = 7  # not a string: the entry is not trusted
    entry.write_text(json.dumps(document))
    assert fresh_lock(config) == first
    entry.write_text("{not json")
    assert fresh_lock(config) == first
    assert len(runs) == 3


@pytest.mark.parametrize("resolver", ["uv", "pip-tools"])
def test_json_pages_of_one_index_reach_the_resolver_through_the_view_and_stay_cached(
    tmp_path: Path, runs: list[str], resolver: str
) -> None:
    """PyPI's kind of index (JSON pages, absolute file URLs, max-age): uv resolves from the
    pages lockkeys fetched; a second lock asks the index for no page while they are fresh."""
    folder = tmp_path / "index"
    folder.mkdir()
    build_wheel(folder, "app", "1.0", requires_dist=["lib>=1"])
    build_wheel(folder, "lib", "1.0")
    build_wheel(folder, "lib", "1.1")
    with serve_json_index(folder) as index:
        config = project(tmp_path / "app", ("index", "url", index.url), resolver=resolver)
        first = fresh_lock(config)
        assert pins(config) == {"app": "1.0", "lib": "1.1"}
        assert index.hits["/simple/app/"] == 1 and index.hits["/simple/lib/"] == 1
        assert fresh_lock(config) == first
        assert index.hits["/simple/app/"] == 1 and index.hits["/simple/lib/"] == 1
    assert runs == [resolver]


def test_pip_tools_resolutions_are_reused_too(
    tmp_path: Path, index: tuple[str, Path], runs: list[str]
) -> None:
    url, folder = index
    config = project(tmp_path / "app", ("index", "url", url), resolver="pip-tools")
    first = fresh_lock(config)
    assert fresh_lock(config) == first
    assert runs == ["pip-tools"]
    build_wheel(folder, "lib", "1.1")
    fresh_lock(config)
    assert runs == ["pip-tools", "pip-tools"]
    assert pins(config) == {"app": "1.0", "lib": "1.1"}
