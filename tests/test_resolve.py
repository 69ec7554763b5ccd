"""The resolver layer: pip-tools and uv, isolated, same pins and `via` on the same input.

Every test works offline: local folders with --no-index, or a pypiserver on 127.0.0.1.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib.util
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from lockkeys._internal.resolve.base import ROOT, Pin, Resolver, ResolveRequest, get_resolver
from lockkeys._internal.resolve.common import meaningful_lines
from lockkeys._internal.resolve.compiled import parse_compiled
from lockkeys._internal.resolve.piptools import PipToolsResolver
from lockkeys._internal.resolve.uv import UvResolver
from lockkeys.errors import ResolutionError, SourceError, UsageError

RESOLVERS = ("pip-tools", "uv")


# -- helpers -----------------------------------------------------------------------------------


def make_wheel(folder: Path, name: str, version: str, requires: Sequence[str] = ()) -> Path:
    """Write a minimal valid pure-Python wheel (METADATA, WHEEL, RECORD) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    dist = name.replace("-", "_").replace(".", "_")
    dist_info = f"{dist}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {req}\n" for req in requires
    )
    files = {
        f"{dist}/__init__.py": b"",
        f"{dist_info}/METADATA": metadata.encode(),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: test-resolve\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
    }
    record = []
    path = folder / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in files.items():
            archive.writestr(member, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{member},sha256={digest.decode()},{len(data)}")
        record.append(f"{dist_info}/RECORD,,")
        archive.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    return path


def chain(folder: Path) -> Path:
    """foo -> bar (1.0 and 2.0) -> broken; bar 2.0 also needs Other_Pkg (a name to normalize)."""
    make_wheel(folder, "foo", "1.0", ["bar>=1"])
    make_wheel(folder, "bar", "1.0", ["broken==1.0"])
    make_wheel(folder, "bar", "2.0", ["broken==1.0", "Other.Pkg"])
    make_wheel(folder, "broken", "1.0")
    make_wheel(folder, "Other_Pkg", "1.0")
    return folder


def local(folder: Path, *requirements: str, **kwargs: object) -> ResolveRequest:
    return ResolveRequest(requirements=requirements, find_links=(folder,), **kwargs)  # type: ignore[arg-type]


def versions(pins: list[Pin]) -> dict[str, str]:
    return {pin.name: pin.version for pin in pins}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(params=RESOLVERS)
def resolver(request: pytest.FixtureRequest) -> Resolver:
    return get_resolver(request.param)


CHAIN_PINS = [
    Pin("bar", "2.0", ("foo",)),
    Pin("broken", "1.0", ("bar",)),
    Pin("foo", "1.0", (ROOT,)),
    Pin("other-pkg", "1.0", ("bar",)),
]


# -- resolution --------------------------------------------------------------------------------


def test_chain_both_resolvers_same_pins_and_via(tmp_path: Path) -> None:
    wheels = chain(tmp_path / "wheels")
    results = {name: get_resolver(name).resolve(local(wheels, "foo")) for name in RESOLVERS}
    assert results["pip-tools"] == CHAIN_PINS
    assert results["uv"] == CHAIN_PINS


def test_root_and_dependency_both_listed_in_via(resolver: Resolver, tmp_path: Path) -> None:
    wheels = chain(tmp_path / "wheels")
    pins = resolver.resolve(local(wheels, "Foo", "BROKEN"))
    assert {p.name: p.via for p in pins}["broken"] == (ROOT, "bar")


def test_constraint_pins_an_older_version(resolver: Resolver, tmp_path: Path) -> None:
    wheels = chain(tmp_path / "wheels")
    pins = resolver.resolve(local(wheels, "foo", constraints=("bar==1.0",)))
    # A constraint adds no edge: bar is still there because foo asks for it.
    assert pins == [
        Pin("bar", "1.0", ("foo",)),
        Pin("broken", "1.0", ("bar",)),
        Pin("foo", "1.0", (ROOT,)),
    ]


def test_substitute_constraint_satisfies_exact_pin_of_dependent(
    resolver: Resolver, tmp_path: Path
) -> None:
    """bar asks broken==1.0; the patched build 1.0+corp.1 satisfies it (PEP 440 local)."""
    wheels = tmp_path / "wheels"
    make_wheel(wheels, "foo", "1.0", ["bar"])
    make_wheel(wheels, "bar", "1.0", ["broken==1.0"])
    make_wheel(wheels, "broken", "1.0")
    make_wheel(wheels, "broken", "1.0+corp.1")
    make_wheel(wheels, "broken", "1.0+corp.2")  # the newest: chosen without the constraint
    plain = resolver.resolve(local(wheels, "foo"))
    assert versions(plain)["broken"] == "1.0+corp.2"
    pins = resolver.resolve(local(wheels, "foo", constraints=("broken==1.0+corp.1",)))
    assert versions(pins) == {"bar": "1.0", "broken": "1.0+corp.1", "foo": "1.0"}
    assert {p.name: p.via for p in pins}["broken"] == ("bar",)


def test_override_outside_the_dependents_range(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    make_wheel(wheels, "foo", "1.0", ["bar"])
    make_wheel(wheels, "bar", "1.0", ["broken<2"])
    make_wheel(wheels, "broken", "1.0")
    make_wheel(wheels, "broken", "2.0+corp.1")
    request = local(wheels, "foo", overrides=("broken==2.0+corp.1",))

    pins = get_resolver("uv").resolve(request)
    assert pins == [
        Pin("bar", "1.0", ("foo",)),
        Pin("broken", "2.0+corp.1", ("bar",)),
        Pin("foo", "1.0", (ROOT,)),
    ]

    with pytest.raises(UsageError) as caught:
        get_resolver("pip-tools").resolve(request)
    assert caught.value.exit_code == 2
    assert 'resolver = "uv"' in caught.value.message
    assert "broken" in caught.value.message


def test_unknown_requirement_is_a_resolution_error(resolver: Resolver, tmp_path: Path) -> None:
    wheels = chain(tmp_path / "wheels")
    with pytest.raises(ResolutionError) as caught:
        resolver.resolve(local(wheels, "foo", "nothere>=1"))
    error = caught.value
    assert error.exit_code == 4
    assert resolver.name in error.message
    assert "nothere" in error.message
    assert error.package == "nothere"
    assert error.details and len(error.details) <= 15
    assert not any(line.lstrip().startswith("File ") for line in error.details)
    assert error.fix


def test_conflict_is_a_resolution_error(resolver: Resolver, tmp_path: Path) -> None:
    wheels = chain(tmp_path / "wheels")
    make_wheel(wheels, "broken", "2.0")
    with pytest.raises(ResolutionError) as caught:
        resolver.resolve(local(wheels, "foo", "broken>=2"))
    assert resolver.name in caught.value.message
    assert "broken" in caught.value.message
    assert "broken" in "\n".join(caught.value.details)


def test_user_pip_and_uv_configuration_does_not_leak(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheels = chain(tmp_path / "wheels")
    evil = tmp_path / "evil"
    make_wheel(evil, "foo", "9.0")  # would win if the user's find-links were used
    make_wheel(evil, "bar", "9.0")
    dead = f"http://127.0.0.1:{free_port()}/simple/"
    conf = tmp_path / "pip.conf"
    conf.write_text(f"[global]\nextra-index-url = {dead}\nfind-links = {evil}\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    monkeypatch.setenv("PIP_FIND_LINKS", str(evil))
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", dead)
    monkeypatch.setenv("PIP_NO_INDEX", "0")
    monkeypatch.setenv("UV_FIND_LINKS", str(evil))
    monkeypatch.setenv("UV_INDEX", dead)
    monkeypatch.setenv("UV_EXTRA_INDEX_URL", dead)
    monkeypatch.setenv("UV_INDEX_STRATEGY", "unsafe-best-match")
    for name in RESOLVERS:
        started = time.monotonic()
        assert get_resolver(name).resolve(local(wheels, "foo")) == CHAIN_PINS, name
        assert time.monotonic() - started < 30  # no retries against the dead index


def test_python_version(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    make_wheel(wheels, "app", "1.0", ['backport; python_version < "3.99"'])
    make_wheel(wheels, "backport", "1.0")
    here = "{}.{}".format(*sys.version_info[:2])
    for name in RESOLVERS:
        pins = get_resolver(name).resolve(local(wheels, "app", python_version=here))
        assert versions(pins) == {"app": "1.0", "backport": "1.0"}, name
    pins = get_resolver("uv").resolve(local(wheels, "app", python_version="3.99"))
    assert versions(pins) == {"app": "1.0"}
    with pytest.raises(UsageError) as caught:
        get_resolver("pip-tools").resolve(local(wheels, "app", python_version="3.99"))
    assert "uv" in (caught.value.fix or "")


def test_no_requirements_resolve_to_nothing(resolver: Resolver, tmp_path: Path) -> None:
    assert resolver.resolve(ResolveRequest(requirements=("# nothing", ""))) == []


# -- input checks and errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "--extra-index-url http://127.0.0.1:1/simple/",
        "-f /tmp",
        "-e .",
        "foo @ https://example.invalid/foo-1.0-py3-none-any.whl",
        "foo ==== 1",
    ],
)
def test_lines_that_could_add_sources_or_are_invalid(
    resolver: Resolver, tmp_path: Path, line: str
) -> None:
    with pytest.raises(UsageError):
        resolver.resolve(local(tmp_path, line))
    with pytest.raises(UsageError):
        resolver.resolve(local(tmp_path, "foo", constraints=(line,)))


def test_unknown_resolver_lists_the_choices() -> None:
    with pytest.raises(UsageError) as caught:
        get_resolver("poetry")
    assert caught.value.exit_code == 2
    assert "pip-tools" in (caught.value.expected or "")
    assert "uv" in (caught.value.expected or "")
    assert get_resolver("pip-tools").name == "pip-tools"
    assert get_resolver("uv").name == "uv"


@pytest.mark.parametrize(
    ("factory", "fix"),
    [(PipToolsResolver, "pip install pip-tools"), (UvResolver, "pip install uv")],
)
def test_missing_resolver_binary_is_a_usage_error(
    tmp_path: Path, factory: type[PipToolsResolver] | type[UvResolver], fix: str
) -> None:
    resolver = factory(command=[str(tmp_path / "not-installed")])
    with pytest.raises(UsageError) as caught:
        resolver.resolve(local(tmp_path, "foo"))
    assert caught.value.fix == fix


@pytest.mark.slow
def test_unreachable_index_is_a_source_error(resolver: Resolver) -> None:
    dead = f"http://127.0.0.1:{free_port()}/simple/"
    with pytest.raises(SourceError) as caught:
        resolver.resolve(ResolveRequest(requirements=("foo",), indexes=(dead,)))
    assert caught.value.exit_code == 3
    assert dead in caught.value.message


def test_parse_both_annotation_styles() -> None:
    line = (
        "bar==1.0                  # via -c constraints.txt, Foo\n"
        "broken==1.0+corp.1        # via bar, --override overrides.txt\n"
        "foo==1.0                  # via -r requirements.in\n"
    )
    split = (
        "bar==1.0\n    # via\n    #   -c constraints.txt\n    #   foo\n"
        "broken==1.0+corp.1\n    # via bar\n"
        "foo==1.0\n    # via -r requirements.in\n"
    )
    expected = [
        Pin("bar", "1.0", ("foo",)),
        Pin("broken", "1.0+corp.1", ("bar",)),
        Pin("foo", "1.0", (ROOT,)),
    ]
    assert parse_compiled(line, "t") == expected
    assert parse_compiled(split, "t") == expected
    with pytest.raises(ResolutionError):
        parse_compiled("foo>=1.0\n", "t")


def test_meaningful_lines_drop_traceback_frames() -> None:
    stderr = (
        "  ERROR: Could not find a version that satisfies the requirement x\n"
        "Traceback (most recent call last):\n"
        '  File "a.py", line 1, in <module>\n'
        "    boom()\n"
        "ValueError: boom\n"
        "\n"
        "The above exception was the direct cause of the following exception:\n"
        "\x1b[31merror\x1b[0m: done\n"
    )
    assert meaningful_lines(stderr) == [
        "  ERROR: Could not find a version that satisfies the requirement x",
        "ValueError: boom",
        "error: done",
    ]


# -- a real index on the loopback --------------------------------------------------------------


@contextlib.contextmanager
def pypiserver(folder: Path) -> Iterator[str]:
    command = shutil.which("pypi-server", path=str(Path(sys.executable).parent))
    argv = [command] if command else [sys.executable, "-m", "pypiserver"]
    port = free_port()
    url = f"http://127.0.0.1:{port}/simple/"
    process = subprocess.Popen(
        [
            *argv,
            *("run", "-p", str(port), "-i", "127.0.0.1", "--disable-fallback"),
            *("-a", ".", "-P", ".", str(folder)),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("pypiserver did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("pypiserver") is None, reason="needs pypiserver")
def test_both_resolvers_against_a_loopback_index(tmp_path: Path) -> None:
    private = tmp_path / "private"
    make_wheel(private, "broken", "1.0+corp.1")
    public = chain(tmp_path / "public")
    make_wheel(public, "broken", "1.0+corp.9")  # shadowed: the first index has broken
    with pypiserver(private) as first, pypiserver(public) as second:
        request = ResolveRequest(requirements=("foo",), indexes=(first, second))
        uv_pins = get_resolver("uv").resolve(request)
        assert versions(uv_pins)["broken"] == "1.0+corp.1"  # first-index strategy
        # pip has no index priority: the best version on any index wins. Documented; the
        # substitute constraint below is what makes pip-tools agree.
        assert versions(get_resolver("pip-tools").resolve(request))["broken"] == "1.0+corp.9"
        substituted = ResolveRequest(
            requirements=("foo",), indexes=(first, second), constraints=("broken==1.0+corp.1",)
        )
        both = {name: get_resolver(name).resolve(substituted) for name in RESOLVERS}
    assert both["pip-tools"] == both["uv"] == uv_pins
    assert both["uv"] == [
        Pin("bar", "2.0", ("foo",)),
        Pin("broken", "1.0+corp.1", ("bar",)),
        Pin("foo", "1.0", (ROOT,)),
        Pin("other-pkg", "1.0", ("bar",)),
    ]


def test_unknown_resolver_is_refused_before_anything_runs(tmp_path: Path) -> None:
    """``lock --resolver bogus`` is exit 2 naming both resolvers, and says nothing of
    resolving first (issue 18)."""
    (tmp_path / "requirements.in").write_text("foo\n")
    (tmp_path / "lockkeys.toml").write_text(
        'requirements = ["requirements.in"]\n\n[[sources]]\nname = "here"\npath = "."\n'
    )
    proc = subprocess.run(
        [sys.executable, "-m", "lockkeys", "lock", "--resolver", "bogus"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "resolving" not in proc.stderr, proc.stderr
    assert "unknown resolver 'bogus'" in proc.stderr and "--resolver uv" in proc.stderr


class _CountingResolver:
    """A resolver that answers ``pins`` (or raises ``error``) and counts its runs."""

    name = "fake"

    def __init__(self, pins: list[Pin], error: Exception | None = None) -> None:
        self.pins, self.error, self.runs = pins, error, 0

    def resolve(self, request: ResolveRequest) -> list[Pin]:
        self.runs += 1
        if self.error is not None:
            raise self.error
        return self.pins


def test_a_resolution_that_met_a_failed_source_page_is_never_used() -> None:
    """The view answers a page it could not fetch with 404 so that the resolver stops at once;
    a resolver that then succeeds anyway (pip skips a page it cannot read) must not give the
    lock its answer: the source's error is raised (exit 3)."""
    from types import SimpleNamespace
    from typing import Any

    from lockkeys._internal.locking.resolving import _attempt

    failed = SourceError("source 'corp' refused user 'alice' (HTTP 403 Forbidden)")
    view: Any = SimpleNamespace(errors=[failed])
    resolver = _CountingResolver([Pin("foo", "1.0", (ROOT,))])
    config: Any = SimpleNamespace()
    base = ResolveRequest(requirements=("foo",))
    with pytest.raises(SourceError) as caught:
        _attempt(config, resolver, base, [], {}, {}, view, view_url=lambda: "http://view/")
    assert caught.value is failed


def test_a_failed_source_stops_the_attempts_after_one_resolver_run() -> None:
    """With kept pins to try first, a source that failed is reported after one run, not after
    one run per attempt (each run waits for the resolver's own retries)."""
    from types import SimpleNamespace
    from typing import Any

    from lockkeys._internal.locking.resolving import _attempt

    failed = SourceError("source 'corp' cannot be reached")
    view: Any = SimpleNamespace(errors=[failed])
    resolver = _CountingResolver([], ResolutionError("foo was not found"))
    config: Any = SimpleNamespace()
    base = ResolveRequest(requirements=("foo",))
    with pytest.raises(SourceError):
        _attempt(config, resolver, base, [("foo==1.0",)], {}, {}, view, view_url=lambda: "x")
    assert resolver.runs == 1
