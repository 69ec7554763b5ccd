"""Substitution end to end: a signed private build replaces a dependency nobody edits.

The scenario (contract section 2, `substitute`): ``foo`` depends on ``bar``, ``bar`` on
``broken>=1.0,<2``; the publisher builds ``broken 1.0+corp.1``, signs it with the corp key and
serves it from a private source. The public index also carries two decoys, an unsigned
``broken 1.0+corp.1`` with other bytes (asking for ``util<2.1``, so its metadata would show in
the lock) and a ``broken 99``: neither may ever be fetched, whatever the order of the sources.

Every index is a real pypiserver on 127.0.0.1 behind a tiny recording reverse proxy (the
config names the proxy), so "never fetched" is read from what the resolver, the locker and the
installer actually asked for. Every lockkeys step runs the real command in a subprocess.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import tomllib
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from fixtures.wheelmaker import build_wheel, module_source

PATCHED = "broken-1.0+corp.1-py3-none-any.whl"
DECOYS = (PATCHED, "broken-99-py3-none-any.whl")  # as served by the PUBLIC index
PATCHED_BUILD = "corp-patched: crash fix backported"
REASON = "backported crash fix, until upstream releases 1.1"
RESOLVERS = ("pip-tools", "uv")
# The public decoy asks for an older util: if its metadata ever reaches the resolution, the lock
# shows it (util 2.0, required by broken) although the private build requires nothing.
DECOY_REQUIRES = "util<2.1"

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)


# --- a recording reverse proxy in front of pypiserver -----------------------------------------


@dataclass
class Served:
    """One index: the URL the config uses (the proxy), pypiserver's own URL, what was asked."""

    url: str
    upstream: str
    folder: Path
    requests: list[str] = field(default_factory=list)

    def fetched_names(self) -> list[str]:
        """Base names of every path requested through the proxy (decoded)."""
        return [unquote(urlsplit(p).path).rstrip("/").rsplit("/", 1)[-1] for p in self.requests]


def _handler(upstream_port: int, record: Callable[[str], None]) -> type[BaseHTTPRequestHandler]:
    class Forward(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._forward()

        def do_HEAD(self) -> None:
            self._forward()

        def _forward(self) -> None:
            record(self.path)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
            try:
                # Host is passed through: pypiserver's absolute links and redirects then name
                # the proxy, so every follow-up request is recorded too.
                conn.request(self.command, self.path, headers=headers)
                response = conn.getresponse()
                body = response.read()
                status, reason, upstream_headers = (
                    response.status,
                    response.reason,
                    response.getheaders(),
                )
            finally:
                conn.close()
            self.send_response(status, reason)
            length = str(len(body))
            for key, value in upstream_headers:
                lower = key.lower()
                if lower in HOP_BY_HOP or lower in ("server", "date"):
                    continue
                if lower == "content-length":
                    if self.command == "HEAD":
                        length = value
                    continue
                self.send_header(key, value)
            self.send_header("Content-Length", length)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return None

    return Forward


@pytest.fixture
def serve(pypiserver_factory: Callable[[Path], str]) -> Iterator[Callable[[Path], Served]]:
    """``serve(folder) -> Served``: pypiserver on the folder, behind a recording proxy."""
    servers: list[ThreadingHTTPServer] = []
    threads: list[threading.Thread] = []

    def start(folder: Path) -> Served:
        upstream = pypiserver_factory(folder)
        port = urlsplit(upstream).port
        assert port is not None
        served = Served(url="", upstream=upstream, folder=folder)
        lock = threading.Lock()

        def record(path: str) -> None:
            with lock:
                served.requests.append(path)

        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(port, record))
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append(server)
        threads.append(thread)
        served.url = f"http://127.0.0.1:{server.server_address[1]}/simple/"
        return served

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
    for thread in threads:
        thread.join(timeout=10)


# --- helpers ----------------------------------------------------------------------------------


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def run_lockkeys(
    project: Path, *args: str | Path, expect: int | None = 0
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "COLUMNS": "200",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        env.pop(var, None)
    proc = subprocess.run(
        [sys.executable, "-m", "lockkeys", "--config", str(project / "lockkeys.toml")]
        + [str(a) for a in args],
        cwd=project,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    if expect is not None:
        assert proc.returncode == expect, (
            f"lockkeys {' '.join(map(str, args))}: exit {proc.returncode}, expected {expect}\n"
            f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
        )
    return proc


def write_project(
    project: Path,
    fixture_data: Path,
    *,
    public: str,
    private: str | Path,
    resolver: str,
    substitute: str = "1.0+corp.1",
    requirements: str = "foo\n",
    private_first: bool = False,
) -> None:
    """A lockkeys.toml naming public first (as a user would), then the private source;
    ``private_first`` swaps them. ``source = "private"`` must hold either way."""
    (project / "keys").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(fixture_data / "keys" / "corp.asc", project / "keys" / "corp.asc")
    (project / "requirements.in").write_text(requirements)
    private_line = (
        f'url = "{private}"' if isinstance(private, str) else f'path = "{private.as_posix()}"'
    )
    sources = [
        f'[[sources]]\nname = "public"\nurl = "{public}"\n\n',
        f'[[sources]]\nname = "private"\n{private_line}\n\n',
    ]
    if private_first:
        sources.reverse()
    (project / "lockkeys.toml").write_text(
        'requirements = ["requirements.in"]\n'
        'lockfile = "pylock.toml"\n'
        f'resolver = "{resolver}"\n\n' + "".join(sources) + '[signers]\ncorp = "keys/corp.asc"\n\n'
        "[packages.broken]\n"
        f'substitute = "{substitute}"\n'
        'source = "private"\n'
        'signers = ["corp"]\n'
        'verify = "signatures"\n'
        f'reason = "{REASON}"\n'
    )


def public_folder(tmp: Path, fixture_data: Path) -> Path:
    """A copy of the public fixtures plus the two decoys (unsigned, other bytes)."""
    folder = tmp / "public-served"
    shutil.copytree(fixture_data / "public", folder)
    decoy = build_wheel(
        folder,
        "broken",
        "1.0+corp.1",
        requires_dist=(DECOY_REQUIRES,),
        files={"broken/__init__.py": module_source("broken", "1.0+corp.1", "DECOY on public")},
    )
    assert decoy.name == PATCHED
    assert decoy.read_bytes() != (fixture_data / "private" / PATCHED).read_bytes()
    build_wheel(
        folder,
        "broken",
        "99",
        files={"broken/__init__.py": module_source("broken", "99", "DECOY 99 on public")},
    )
    return folder


def corp_fingerprint(fixture_data: Path) -> str:
    from lockkeys._internal.trust.certs import load_certificate

    return load_certificate(fixture_data / "keys" / "corp.asc", name="corp").fingerprint


def read_lock_toml(project: Path) -> dict[str, dict[str, object]]:
    doc = tomllib.loads((project / "pylock.toml").read_text("utf-8"))
    return {p["name"]: p for p in doc["packages"]}


def tool_of(package: dict[str, object]) -> dict[str, object]:
    tool = package.get("tool", {})
    assert isinstance(tool, dict)
    return dict(tool.get("lockkeys", {}))


def spec_of(substitutes: object) -> tuple[str, SpecifierSet]:
    req = Requirement(str(substitutes))
    return req.name, req.specifier


def locked_set(project: Path) -> list[list[str]]:
    return sorted([str(p["name"]), str(p["version"])] for p in read_lock_toml(project).values())


def make_venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return path / "bin" / "python"


LIST_DISTS = (
    "import importlib.metadata as m, json; "
    "print(json.dumps(sorted([d.metadata['Name'], d.version] for d in m.distributions())))"
)


def installed(python: Path) -> list[list[str]]:
    out = subprocess.run(
        [str(python), "-I", "-c", LIST_DISTS], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out)


def build_marker(python: Path) -> str:
    code = "import broken; print(broken.BUILD)"
    return subprocess.run(
        [str(python), "-I", "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def site_packages(python: Path) -> Path:
    found = sorted(python.parent.parent.glob("lib/python*/site-packages"))
    assert len(found) == 1, found
    return found[0]


def snapshot(python: Path) -> dict[str, str]:
    """Every file of the environment's site-packages (no bytecode caches) -> sha256."""
    root = site_packages(python)
    return {
        p.relative_to(root).as_posix(): sha256(p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def place_rebuild(folder: Path, marker: str, tmp: Path) -> Path:
    """Another build of broken 1.0+corp.1 (same file name, other bytes), unsigned."""
    out = tmp / f"rebuild-{sha256(marker.encode())[:8]}"
    out.mkdir()
    wheel = build_wheel(
        out,
        "broken",
        "1.0+corp.1",
        files={"broken/__init__.py": module_source("broken", "1.0+corp.1", marker)},
    )
    target = folder / PATCHED
    old = target.read_bytes()
    shutil.copyfile(wheel, target)
    assert target.read_bytes() != old
    Path(f"{target}.asc").unlink(missing_ok=True)
    return target


def fetch(url: str) -> bytes:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=30) as response:
        return bytes(response.read())


def served_files(index_url: str, project_name: str) -> dict[str, bytes]:
    """What the index serves for a project: file name -> bytes (read straight from pypiserver)."""
    page_url = f"{index_url.rstrip('/')}/{project_name}/"
    page = fetch(page_url).decode("utf-8")
    files: dict[str, bytes] = {}
    for href in re.findall(r'href="([^"]+)"', page):
        url = urljoin(page_url, href).split("#", 1)[0]
        name = unquote(urlsplit(url).path).rsplit("/", 1)[-1]
        if name.endswith(".whl"):
            files[name] = fetch(url)
    return files


def assert_decoys_never_used(public: Served, project: Path) -> None:
    """No decoy (nor its .asc) was requested from the public index, and the decoy's metadata
    did not reach the lock."""
    names = public.fetched_names()
    assert names, "nothing went through the public proxy: the test is not measuring anything"
    problems = []
    used = [n for n in names if n in DECOYS or n in {f"{d}.asc" for d in DECOYS}]
    if used:
        problems.append(
            f"public decoys were fetched: {used}; all public requests: {public.requests}"
        )
    util = read_lock_toml(project)["util"]
    required_by = tool_of(util).get("required-by", [])
    if util["version"] != "2.1" or "broken" in required_by:
        problems.append(
            f"the public decoy's Requires-Dist ({DECOY_REQUIRES}) reached the lock: util "
            f"{util['version']} required by {required_by}"
        )
    assert not problems, "\n".join(problems)


# --- the core scenario, shared by the index and the folder variants -----------------------------


def check_lock(
    project: Path, fixture_data: Path, public: Served, private_kind: str, private_url: str | None
) -> dict[str, dict[str, object]]:
    packages = read_lock_toml(project)
    assert sorted(packages) == ["bar", "broken", "foo", "util"]
    public_origin = public.url.split("/simple/")[0] + "/"
    for name in ("foo", "bar", "util"):
        pkg = packages[name]
        assert pkg["index"] == public.url, pkg
        assert tool_of(pkg)["source"] == "public"
        for wheel in pkg["wheels"]:
            assert str(wheel["url"]).startswith(public_origin), wheel
    broken = packages["broken"]
    assert broken["version"] == "1.0+corp.1"
    wheels = broken["wheels"]
    assert [w["name"] for w in wheels] == [PATCHED]
    patched_bytes = (fixture_data / "private" / PATCHED).read_bytes()
    assert wheels[0]["hashes"] == {"sha256": sha256(patched_bytes)}
    assert wheels[0]["size"] == len(patched_bytes)
    if private_kind == "index":
        assert private_url is not None
        assert broken["index"] == private_url
        assert str(wheels[0]["url"]).startswith(private_url.split("/simple/")[0] + "/")
    else:
        assert "index" not in broken
        assert "url" not in wheels[0]
        assert wheels[0]["path"] == f"private/{PATCHED}"
    tool = tool_of(broken)
    assert tool["source"] == "private"
    assert tool["verify"] == "signatures"
    assert tool["signers"] == [corp_fingerprint(fixture_data)]
    assert tool["threshold"] == 1
    name, spec = spec_of(tool["substitutes"])
    assert name == "broken"
    assert spec == SpecifierSet(">=1.0,<2"), tool["substitutes"]
    assert tool["substitute-requested-by"] == ["bar"]
    assert tool["reason"] == REASON
    assert not tool.get("override", False)
    return packages


def check_why(project: Path, fixture_data: Path, location: str) -> None:
    fpr = corp_fingerprint(fixture_data)
    text = run_lockkeys(project, "why", "broken").stdout
    assert "broken 1.0+corp.1" in text
    assert "foo -> bar -> broken" in text
    assert "source: private" in text and location in text
    assert "corp" in text and fpr in text
    line = next(ln for ln in text.splitlines() if "substitute" in ln)
    assert "1.0+corp.1" in line and ">=1.0" in line and "<2" in line and "bar" in line
    assert "OVERRIDE" not in line
    assert f"reason: {REASON}" in text

    doc = json.loads(run_lockkeys(project, "why", "broken", "--json").stdout)
    assert doc["name"] == "broken" and doc["version"] == "1.0+corp.1"
    assert ["foo", "bar", "broken"] in doc["required-by-chains"]
    assert doc["source"] == "private"
    assert location in str(doc["source-location"]), doc["source-location"]
    assert doc["verify"] == "signatures" and doc["threshold"] == 1
    assert doc["signers"] == [{"name": "corp", "fingerprint": fpr}]
    assert spec_of(doc["substitutes"]) == ("broken", SpecifierSet(">=1.0,<2"))
    assert doc["substitute-requested-by"] == ["bar"]
    assert doc["override"] is False
    assert doc["reason"] == REASON


def check_public_bytes(
    project: Path, public: Served, packages: dict[str, dict[str, object]], tmp: Path, python: Path
) -> None:
    """foo and bar: lock == public server == downloaded == installed."""
    dest = tmp / "downloaded"
    run_lockkeys(project, "download", "--dest", dest)
    site = site_packages(python)
    for name in ("foo", "bar"):
        served = served_files(public.upstream, name)
        (wheel,) = packages[name]["wheels"]
        filename = str(wheel["name"])
        assert filename in served, (filename, sorted(served))
        assert wheel["hashes"] == {"sha256": sha256(served[filename])}
        got = (dest / filename).read_bytes()
        assert got == served[filename]
        with zipfile.ZipFile(dest / filename) as zf:
            module = zf.read(f"{name}/__init__.py")
            metadata = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
            assert (site / name / "__init__.py").read_bytes() == module
            assert (site / metadata).read_bytes() == zf.read(metadata)
    assert (dest / PATCHED).read_bytes() == packages_private_bytes(packages, project)


def packages_private_bytes(packages: dict[str, dict[str, object]], project: Path) -> bytes:
    (wheel,) = packages["broken"]["wheels"]
    if "url" in wheel:
        return fetch(str(wheel["url"]))
    return (project / str(wheel["path"])).read_bytes()


def core_scenario(
    tmp: Path,
    fixture_data: Path,
    serve: Callable[[Path], Served],
    resolver: str,
    private_kind: str,
    *,
    private_first: bool = False,
) -> None:
    public = serve(public_folder(tmp, fixture_data))
    project = tmp / "app"
    project.mkdir()
    private_index: Served | None = None
    if private_kind == "index":
        private_dir = tmp / "private-served"
        shutil.copytree(fixture_data / "private", private_dir)
        private_index = serve(private_dir)
        write_project(
            project,
            fixture_data,
            public=public.url,
            private=private_index.url,
            resolver=resolver,
            private_first=private_first,
        )
        location = private_index.url
    else:
        private_dir = project / "private"
        shutil.copytree(fixture_data / "private", private_dir)
        write_project(
            project, fixture_data, public=public.url, private=Path("private"), resolver=resolver
        )
        location = "private"
    secret = tmp / "corp.secret.asc"
    shutil.copyfile(fixture_data / "keys" / "corp.secret.asc", secret)
    secret.chmod(0o600)

    # 1. lock: foo and bar from public, broken only from private, substitution recorded
    run_lockkeys(project, "lock")
    packages = check_lock(
        project, fixture_data, public, private_kind, private_index.url if private_index else None
    )
    check_why(project, fixture_data, location)
    locked = (project / "pylock.toml").read_bytes()

    # 2. install into a fresh venv: the patched build, and public bytes for foo and bar
    python = make_venv(tmp / "venv")
    run_lockkeys(project, "install", "--python", python)
    assert installed(python) == locked_set(project)
    assert build_marker(python) == PATCHED_BUILD
    check_public_bytes(project, public, packages, tmp, python)

    # 3. a rebuild signed by corp installs without re-locking
    rebuilt = place_rebuild(private_dir, "corp rebuild #2 (signed)", tmp)
    run_lockkeys(tmp, "sign", rebuilt, "--key", secret)
    run_lockkeys(project, "install", "--python", python)
    assert build_marker(python) == "corp rebuild #2 (signed)"
    assert installed(python) == locked_set(project)
    assert (project / "pylock.toml").read_bytes() == locked
    run_lockkeys(project, "lock", "--check")
    before = snapshot(python)

    # 4. an unsigned rebuild is refused, nothing changes
    place_rebuild(private_dir, "unsigned rebuild", tmp)
    proc = run_lockkeys(project, "install", "--python", python, expect=1)
    assert "broken" in proc.stdout + proc.stderr
    assert snapshot(python) == before
    assert build_marker(python) == "corp rebuild #2 (signed)"

    # 5. a rebuild signed only by a key not pinned for broken is refused, nothing changes
    run_lockkeys(
        tmp,
        "key",
        "generate",
        "mallory",
        "--out-dir",
        tmp / "mallory",
        "--uid",
        "Mallory (TEST ONLY) <mallory@example.invalid>",
    )
    foreign = place_rebuild(private_dir, "TAMPERED, signed by mallory", tmp)
    run_lockkeys(tmp, "sign", foreign, "--key", tmp / "mallory" / "mallory.secret.asc")
    assert Path(f"{foreign}.asc").is_file()
    proc = run_lockkeys(project, "install", "--python", python, expect=1)
    assert "broken" in proc.stdout + proc.stderr
    assert snapshot(python) == before
    assert build_marker(python) == "corp rebuild #2 (signed)"
    assert (project / "pylock.toml").read_bytes() == locked

    # 6. the public decoys were never fetched, by the resolver, the locker or the installer
    assert_decoys_never_used(public, project)


# --- the tests --------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("private_first", [False, True], ids=["public-first", "private-first"])
@pytest.mark.parametrize("resolver", RESOLVERS)
def test_substitute_from_private_index(
    resolver: str,
    private_first: bool,
    tmp_path: Path,
    fixture_data: Path,
    serve: Callable[[Path], Served],
) -> None:
    """Lock, why, install, signed rebuild accepted, unsigned/foreign rebuilds refused, decoys
    never fetched: the private source is a second pypiserver. Source order must not matter."""
    core_scenario(tmp_path, fixture_data, serve, resolver, "index", private_first=private_first)


@pytest.mark.slow
@pytest.mark.parametrize("resolver", RESOLVERS)
def test_substitute_from_private_folder(
    resolver: str, tmp_path: Path, fixture_data: Path, serve: Callable[[Path], Served]
) -> None:
    """The same core scenario with the private source as a local folder."""
    core_scenario(tmp_path, fixture_data, serve, resolver, "folder")


@pytest.mark.slow
@pytest.mark.parametrize("private_first", [True, False], ids=["private-first", "public-first"])
def test_substitute_outside_dependents_range_is_an_override(
    private_first: bool, tmp_path: Path, fixture_data: Path, serve: Callable[[Path], Served]
) -> None:
    """``substitute = "2.0+corp.1"`` lies outside bar's ``<2``: uv overrides, pip-tools
    cannot and says so (exit 4). The order of the sources must not matter: broken is pinned
    to the private one."""
    public = serve(public_folder(tmp_path, fixture_data))
    private_dir = tmp_path / "private-served"
    shutil.copytree(fixture_data / "private", private_dir)
    marker = "corp 2.0 build"
    two = build_wheel(
        private_dir,
        "broken",
        "2.0+corp.1",
        files={"broken/__init__.py": module_source("broken", "2.0+corp.1", marker)},
    )
    secret = tmp_path / "corp.secret.asc"
    shutil.copyfile(fixture_data / "keys" / "corp.secret.asc", secret)
    secret.chmod(0o600)
    run_lockkeys(tmp_path, "sign", two, "--key", secret)
    private = serve(private_dir)

    # pip-tools: a resolution failure that names the way out
    project = tmp_path / "app-piptools"
    project.mkdir()
    write_project(
        project,
        fixture_data,
        public=public.url,
        private=private.url,
        resolver="pip-tools",
        substitute="2.0+corp.1",
        private_first=private_first,
    )
    proc = run_lockkeys(project, "lock", expect=4)
    assert 'resolver = "uv"' in proc.stderr, proc.stderr
    assert not (project / "pylock.toml").exists()

    # uv: locks as an override, installs
    project = tmp_path / "app-uv"
    project.mkdir()
    write_project(
        project,
        fixture_data,
        public=public.url,
        private=private.url,
        resolver="uv",
        substitute="2.0+corp.1",
        private_first=private_first,
    )
    run_lockkeys(project, "lock")
    packages = read_lock_toml(project)
    broken = packages["broken"]
    assert broken["version"] == "2.0+corp.1"
    assert broken["index"] == private.url
    assert [w["name"] for w in broken["wheels"]] == [two.name]
    tool = tool_of(broken)
    assert tool["override"] is True
    assert spec_of(tool["substitutes"]) == ("broken", SpecifierSet(">=1.0,<2"))
    assert tool["substitute-requested-by"] == ["bar"]
    assert tool["source"] == "private"
    why = run_lockkeys(project, "why", "broken").stdout
    assert "OVERRIDE" in why
    assert json.loads(run_lockkeys(project, "why", "broken", "--json").stdout)["override"] is True
    python = make_venv(tmp_path / "venv")
    run_lockkeys(project, "install", "--python", python)
    assert installed(python) == locked_set(project)
    assert ["broken", "2.0+corp.1"] in installed(python)
    assert build_marker(python) == marker
    assert_decoys_never_used(public, project)


@pytest.mark.slow
@pytest.mark.parametrize("resolver", RESOLVERS)
def test_exact_pin_accepts_local_version(
    resolver: str, tmp_path: Path, fixture_data: Path, serve: Callable[[Path], Served]
) -> None:
    """``bar 1.2`` asks for ``broken==1.0``; ``1.0+corp.1`` satisfies it (PEP 440 local
    versions), so the substitution is no override."""
    folder = public_folder(tmp_path, fixture_data)
    build_wheel(folder, "bar", "1.2", requires_dist=("broken==1.0",))
    public = serve(folder)
    private_dir = tmp_path / "private-served"
    shutil.copytree(fixture_data / "private", private_dir)
    private = serve(private_dir)
    project = tmp_path / "app"
    project.mkdir()
    write_project(
        project,
        fixture_data,
        public=public.url,
        private=private.url,
        resolver=resolver,
        requirements="foo\nbar==1.2\n",
    )
    run_lockkeys(project, "lock")
    packages = read_lock_toml(project)
    assert packages["bar"]["version"] == "1.2"
    broken = packages["broken"]
    assert broken["version"] == "1.0+corp.1"
    assert broken["index"] == private.url
    tool = tool_of(broken)
    assert spec_of(tool["substitutes"]) == ("broken", SpecifierSet("==1.0"))
    assert tool["substitute-requested-by"] == ["bar"]
    assert not tool.get("override", False)
    report = json.loads(run_lockkeys(project, "verify", "--json").stdout)
    statuses = {p["name"]: p["status"] for p in report["packages"]}
    assert statuses["broken"] == "verified-by-signatures", report
    assert_decoys_never_used(public, project)


@pytest.mark.slow
@pytest.mark.parametrize("resolver", RESOLVERS)
@pytest.mark.parametrize(
    ("asked", "recorded"), [("broken", "broken"), ("broken>=1.0", "broken>=1.0")]
)
def test_substituted_direct_requirement_records_what_the_application_asked(
    resolver: str, asked: str, recorded: str, tmp_path: Path, fixture_data: Path
) -> None:
    """Substituting a package the application asks for itself records the application's own
    requirement (``broken``), not the substitute's pin (``broken==1.0+corp.1``), and ``why``
    says the requirements asked for it (issue 17). Folders only: no server."""
    project = tmp_path / "app"
    shutil.copytree(fixture_data / "public", tmp_path / "public")
    shutil.copytree(fixture_data / "private", tmp_path / "private")
    write_project(
        project,
        fixture_data,
        public="unused",
        private=Path("../private"),
        resolver=resolver,
        requirements=f"{asked}\n",
    )
    config = (project / "lockkeys.toml").read_text()
    config = config.replace('url = "unused"', 'path = "../public"')
    (project / "lockkeys.toml").write_text(config)
    run_lockkeys(project, "lock")
    broken = read_lock_toml(project)["broken"]
    assert broken["version"] == "1.0+corp.1"
    tool = tool_of(broken)
    assert tool["substitutes"] == recorded
    assert tool.get("substitute-requested-by", []) == []
    assert tool.get("override", False) is False
    why = run_lockkeys(project, "why", "broken").stdout
    assert f"replaces {recorded} (asked for by the requirements)" in why, why


@pytest.mark.slow
def test_pip_tools_override_refusal_names_packages_not_internal_urls(
    tmp_path: Path, fixture_data: Path
) -> None:
    """A substitute outside what a dependent allows, with pip-tools and folder sources: the
    exit-4 message names the dependents (``bar 1.1``), never the resolution view's URLs or
    pip's exception classes, and its parentheses close (issue 18)."""
    project = tmp_path / "app"
    shutil.copytree(fixture_data / "public", tmp_path / "public")
    (tmp_path / "private").mkdir()
    build_wheel(tmp_path / "private", "broken", "2.0+corp.1")
    write_project(
        project,
        fixture_data,
        public="unused",
        private=Path("../private"),
        resolver="pip-tools",
        substitute="2.0+corp.1",
    )
    config = (project / "lockkeys.toml").read_text().replace('url = "unused"', 'path = "../public"')
    (project / "lockkeys.toml").write_text(config)
    proc = run_lockkeys(project, "lock", expect=4)
    message = proc.stderr
    assert "lies outside what bar 1.1 asks for (broken<2,>=1.0);" in message, message
    assert "broken<2,>=1.0 (asked by bar 1.0)" in message
    assert "127.0.0.1" not in message and "pip._internal" not in message, message
    assert message.count("(") == message.count(")"), message
    assert 'resolver = "uv"' in message
