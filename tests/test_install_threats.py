"""The installer's rows of the threat model (rows 1-15 and 19), each proved end to end.

Real pieces only: locks made by `lockkeys lock` (pip-tools resolver) over copies of the committed
fixtures, pypiserver on 127.0.0.1, hostile ``http.server``s (``tests/support/hostile.py``),
real `pip` and `uv` installing into real virtual environments, fixture keys and GnuPG-made keys.
Each scenario is built in ``tmp_path``; then what an attacker controls (the served folder or
server) is changed and `lockkeys install` runs through the command line entry point. Every
refusal checks the exit code, that the refused package is named on stderr, and that the target
environment is exactly as it was before.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import tomli_w

from fixtures.wheelmaker import build_wheel
from lockkeys._internal.install import apply
from lockkeys._internal.install.installer import install_artifacts as real_install_artifacts
from lockkeys._internal.locking.locker import lock as lock_config
from lockkeys._internal.lockmodel.io import read_lock
from lockkeys._internal.trust.certs import load_certificate
from lockkeys._internal.trust.signatures import armor_signatures, parse_signatures
from lockkeys._internal.trust.signing import sign_files
from tests.support.cli import Cli
from tests.support.hostile import (
    MIB,
    Drop,
    Endless,
    HostileServer,
    Serve,
    Stall,
    Trickle,
    hostile_server,
)
from tests.support.pypiserver import serve_index
from tests.support.venvs import (
    Snapshot,
    installed,
    make_venv,
    site_packages,
    snapshot,
    wheel_member,
)

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
EVIL = b"raise SystemExit('owned')  # attacker's code\n"


# -- helpers ----------------------------------------------------------------------------------


def without_install_records(snap: Snapshot) -> Snapshot:
    names, files = snap
    skip = ("direct_url.json", "RECORD", "uv_cache.json")
    return names, {k: v for k, v in files.items() if not k.endswith(skip)}


def sign(file: Path, keys: Path, *signers: str) -> Path:
    for signer in signers:
        sign_files([file], keys / f"{signer}.secret.asc")
    return Path(f"{file}.asc")


def evil_rebuild(folder: Path, name: str, version: str, **kwargs: object) -> Path:
    """The attacker's wheel under the locked file name; any old signature file is removed."""
    files = kwargs.pop("files", None) or {f"{name}/__init__.py": EVIL}
    wheel = build_wheel(folder, name, version, files=files, **kwargs)  # type: ignore[arg-type]
    Path(f"{wheel}.asc").unlink(missing_ok=True)
    return wheel


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def do_lock(folder: Path) -> Path:
    outcome = lock_config(folder / "lockkeys.toml")
    assert outcome.written
    return outcome.path


def assert_refused(
    code: int, err: str, package: str, before: Snapshot, python: Path, expected_code: int = 1
) -> None:
    assert code == expected_code, err
    assert package in err, err
    assert "Traceback" not in err and "internal error" not in err, err
    assert snapshot(python) == before


def fingerprint(keys: Path, name: str) -> str:
    return load_certificate(keys / f"{name}.asc", name=name).fingerprint


# -- the folder scenario every row starts from ------------------------------------------------
#
#   foo 1.0  (signatures: alice)          -> bar>=1.0, util>=2
#   bar 1.1  (hashes)                     -> broken>=1.0,<2
#   broken 1.0+corp.1  (signatures: corp, only from the private folder, a substitute)
#   util 2.1 (signatures: alice and bob, threshold 2)

FOLDER_CONFIG = """
    requirements = ["requirements.in"]
    signature-stores = ["sigs"]

    [[sources]]
    name = "pub"
    path = "pub"

    [[sources]]
    name = "priv"
    path = "priv"

    [signers]
    alice = "keys/alice.asc"
    bob = "keys/bob.asc"
    corp = "keys/corp.asc"

    [packages.foo]
    signers = ["alice"]
    verify = "signatures"

    [packages.util]
    signers = ["alice", "bob"]
    threshold = 2
    verify = "signatures"

    [packages.broken]
    signers = ["corp"]
    verify = "signatures"
    source = "priv"
    substitute = "1.0+corp.1"
    reason = "patched build"
"""


def copy_fixtures(fixture_data: Path, dest: Path, *folders: str) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for folder in folders:
        shutil.copytree(fixture_data / folder, dest / folder)
    return dest


@pytest.fixture(scope="module")
def folder_base(fixture_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = copy_fixtures(fixture_data, tmp_path_factory.mktemp("base"), "public", "private", "keys")
    (base / "public").rename(base / "pub")
    (base / "private").rename(base / "priv")
    (base / "sigs").mkdir()
    write(base / "lockkeys.toml", FOLDER_CONFIG)
    write(base / "requirements.in", "foo\n")
    lock = do_lock(base)
    locked = {p.name: p.version for p in read_lock(lock).packages}
    assert locked == {"bar": "1.1", "broken": "1.0+corp.1", "foo": "1.0", "util": "2.1"}
    return base


@pytest.fixture
def scene(folder_base: Path, tmp_path: Path) -> Path:
    """A private copy of the locked folder scenario (the lock's paths are relative)."""
    dest = tmp_path / "scene"
    shutil.copytree(folder_base, dest)
    return dest


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    return make_venv(tmp_path / "venv")


# -- row 1: tampered bytes --------------------------------------------------------------------


def test_row_01_tampered_bytes_in_find_links_folder(scene: Path, venv: Path, cli: Cli) -> None:
    evil_rebuild(scene / "pub", "bar", "1.1")
    before = snapshot(venv)
    code, _out, err = cli("--lock", scene / "pylock.toml", "install", "--python", venv)
    assert_refused(code, err, "bar 1.1: refused", before, venv)
    assert "sha256 of bar-1.1-py3-none-any.whl does not match the lock" in err
    assert "nothing was installed" in err


def test_row_01_tampered_bytes_on_the_index(
    fixture_data: Path,
    tmp_path: Path,
    venv: Path,
    cli: Cli,
    pypiserver_factory: Callable[[Path], str],
) -> None:
    scene = copy_fixtures(fixture_data, tmp_path / "scene", "public")
    url = pypiserver_factory(scene / "public")
    write(
        scene / "lockkeys.toml",
        f"""
        requirements = ["requirements.in"]
        [[sources]]
        name = "pub"
        url = "{url}"
        """,
    )
    write(scene / "requirements.in", "bar==1.1\n")
    lock = do_lock(scene)
    assert read_lock(lock).packages[0].wheels[0].url.startswith(url.removesuffix("simple/"))
    evil_rebuild(scene / "public", "bar", "1.1")
    before = snapshot(venv)
    code, _out, err = cli("--lock", lock, "install", "--python", venv)
    assert_refused(code, err, "bar 1.1: refused", before, venv)
    assert "does not match the lock" in err


# -- row 2: endless data ----------------------------------------------------------------------


def tree_size(root: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            with contextlib.suppress(FileNotFoundError):
                total += (Path(dirpath) / name).stat().st_size
    return total


@pytest.fixture
def hostile_scene(fixture_data: Path, tmp_path: Path) -> Iterator[tuple[Path, HostileServer]]:
    """An honest-looking index (a HostileServer over a copy of public/) and a lockkeys.toml
    for it; `bar` has policy hashes, `util` signatures (alice and bob, threshold 2)."""
    scene = copy_fixtures(fixture_data, tmp_path / "scene", "public", "keys")
    with hostile_server() as server:
        server.serve_folder(scene / "public")
        write(
            scene / "lockkeys.toml",
            f"""
            requirements = ["requirements.in"]
            [[sources]]
            name = "evil"
            url = "{server.index_url}"
            [signers]
            alice = "keys/alice.asc"
            bob = "keys/bob.asc"
            [packages.util]
            signers = ["alice", "bob"]
            threshold = 2
            verify = "signatures"
            """,
        )
        yield scene, server


@pytest.mark.parametrize(
    ("package", "filename", "exit_code"),
    [
        # bytes that differ from the lock in size are a refusal (1), not an outage (3)
        ("bar", "bar-1.1-py3-none-any.whl", 1),
        ("util", "util-2.1-py3-none-any.whl", 1),
        ("util", "util-2.1-py3-none-any.whl.asc", 1),
    ],
    ids=["hashes-cap-is-locked-size", "signatures-cap-is-4x-plus-16MiB", "signature-file-1MiB"],
)
def test_row_02_endless_data_is_cut_at_the_size_cap(
    hostile_scene: tuple[Path, HostileServer],
    tmp_path: Path,
    venv: Path,
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
    package: str,
    filename: str,
    exit_code: int,
) -> None:
    scene, server = hostile_scene
    write(scene / "requirements.in", "bar==1.1\nutil==2.1\n")
    lock = do_lock(scene)
    entry = next(p for p in read_lock(lock).packages if p.name == package)
    size = entry.wheels[0].size
    if filename.endswith(".asc"):
        cap = 1 * MIB  # signature files are read into memory, at most 1 MiB
    elif entry.tool.verify == "hashes":
        cap = size
    else:
        cap = size * 4 + 16 * MIB  # room for a signed rebuild

    tmp_root = tmp_path / "tmp"
    tmp_root.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(tmp_root))
    disk: list[int] = []
    endless = Endless(limit=64 * MIB, on_progress=lambda _sent: disk.append(tree_size(tmp_root)))
    server.set_file(filename, endless)

    before = snapshot(venv)
    tracemalloc.start()
    try:
        code, _out, err = cli("--lock", lock, "install", "--python", venv)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert_refused(code, err, f"{package}", before, venv, expected_code=exit_code)
    assert "more data than allowed" in err
    assert endless.finished.wait(10)
    assert endless.sent < 64 * MIB  # lockkeys hung up; the server did not run out
    if cap > MIB and not filename.endswith(".asc"):
        assert disk  # the download really ran for a while (sampled every MiB sent) ...
    assert max(disk, default=0) <= cap  # ... and never held more than the cap on disk,
    assert peak < cap + 8 * MIB if filename.endswith(".asc") else peak < 8 * MIB  # nor in memory
    assert tree_size(tmp_root) == 0  # the partial download is gone


# -- row 3: slow retrieval --------------------------------------------------------------------


@pytest.mark.parametrize("attack", ["trickle", "stall"])
def test_row_03_trickling_server_times_out_cleanly(
    hostile_scene: tuple[Path, HostileServer],
    venv: Path,
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
    attack: str,
) -> None:
    scene, server = hostile_scene
    write(scene / "requirements.in", "bar==1.1\n")
    lock = do_lock(scene)
    data = (scene / "public" / "bar-1.1-py3-none-any.whl").read_bytes()
    if attack == "trickle":
        # one byte every 0.2 s: never silent long enough for a read timeout; only the total
        # deadline stops it
        server.set_file("bar-1.1-py3-none-any.whl", Trickle(data, interval=0.2))
    else:
        server.set_file("bar-1.1-py3-none-any.whl", Stall(len(data)))
    # --timeout 0.5: each read waits at most 0.5 s, the whole file at most 10 reads' worth.
    before = snapshot(venv)
    code, _out, err = cli("--lock", lock, "install", "--python", venv, "--timeout", "0.5")
    assert_refused(code, err, "bar", before, venv, expected_code=3)
    assert "within 5 s" in err or "no data for 0.5 s" in err, err


# -- row 4: extraneous dependency -------------------------------------------------------------


def test_row_04_signed_wheel_adding_requires_dist_evil_refused(
    scene: Path, venv: Path, cli: Cli
) -> None:
    wheel = evil_rebuild(scene / "pub", "util", "2.1", requires_dist=["evil"])
    sign(wheel, scene / "keys", "alice", "bob")  # the pinned signers, threshold met
    before = snapshot(venv)
    code, _out, err = cli("--lock", scene / "pylock.toml", "install", "--python", venv)
    assert_refused(code, err, "util 2.1: refused", before, venv)
    assert "requires 'evil', which is not in the lock" in err


# -- row 5: rollback / version swap -----------------------------------------------------------


def test_row_05_older_signed_release_under_new_file_name_refused(
    scene: Path, venv: Path, cli: Cli
) -> None:
    pub = scene / "pub"
    for suffix in ("", ".asc"):  # util 2.0 and its genuine alice+bob signatures
        shutil.copyfile(
            pub / f"util-2.0-py3-none-any.whl{suffix}", pub / f"util-2.1-py3-none-any.whl{suffix}"
        )
    before = snapshot(venv)
    code, _out, err = cli("--lock", scene / "pylock.toml", "install", "--python", venv)
    assert_refused(code, err, "util 2.1: refused", before, venv)
    assert "another version" in err and "Version: 2.0" in err


# -- row 6: wrong software --------------------------------------------------------------------


def test_row_06_signed_bar_wheel_served_as_foo_refused(scene: Path, venv: Path, cli: Cli) -> None:
    pub = scene / "pub"
    shutil.copyfile(pub / "bar-1.0-py3-none-any.whl", pub / "foo-1.0-py3-none-any.whl")
    Path(pub / "foo-1.0-py3-none-any.whl.asc").unlink()
    sign(pub / "foo-1.0-py3-none-any.whl", scene / "keys", "alice")  # foo's pinned signer
    before = snapshot(venv)
    code, _out, err = cli("--lock", scene / "pylock.toml", "install", "--python", venv)
    assert_refused(code, err, "foo 1.0: refused", before, venv)
    assert "names another project" in err and "Name: bar" in err


# -- row 7: dependency confusion --------------------------------------------------------------


def test_row_07_public_broken_99_never_fetched(
    fixture_data: Path,
    tmp_path: Path,
    venv: Path,
    cli: Cli,
    pypiserver_factory: Callable[[Path], str],
) -> None:
    scene = copy_fixtures(fixture_data, tmp_path / "scene", "public", "private", "keys")
    # The public index also offers a higher `broken` and one with the private version string.
    for version in ("99", "1.0+corp.1"):
        build_wheel(
            scene / "public",
            "broken",
            version,
            requires_dist=["evil"],
            files={"broken/__init__.py": EVIL},
        )
    public_url = pypiserver_factory(scene / "public")
    with contextlib.ExitStack() as stack:
        public = stack.enter_context(hostile_server())
        public.proxy_to(public_url.removesuffix("/simple/"))  # counts what is asked of it
        private = contextlib.ExitStack()
        private_url = private.enter_context(serve_index(scene / "private"))
        stack.callback(private.close)
        write(
            scene / "lockkeys.toml",
            f"""
            requirements = ["requirements.in"]
            [[sources]]
            name = "public"
            url = "{public.index_url}"
            [[sources]]
            name = "private"
            url = "{private_url}"
            [signers]
            corp = "keys/corp.asc"
            [packages.broken]
            signers = ["corp"]
            verify = "signatures"
            source = "private"
            substitute = "1.0+corp.1"
            """,
        )
        write(scene / "requirements.in", "foo\n")
        lock = do_lock(scene)
        lock_time = public.paths()
        broken = next(p for p in read_lock(lock).packages if p.name == "broken")
        assert broken.version == "1.0+corp.1" and broken.tool.source == "private"
        assert broken.wheels[0].url.startswith(private_url.removesuffix("simple/"))
        private_wheel = scene / "private" / "broken-1.0+corp.1-py3-none-any.whl"
        assert (
            broken.wheels[0].hashes["sha256"]
            == hashlib.sha256(private_wheel.read_bytes()).hexdigest()
        )

        public.clear_log()
        code, _out, err = cli("--lock", lock, "install", "--python", venv)
        install_time = public.paths()
        assert code == 0, err
        assert not any("broken-99" in p for p in lock_time + install_time), lock_time
        assert not any("broken" in p for p in install_time), install_time
        assert ["broken", "1.0+corp.1"] in installed(venv)
        init = site_packages(venv) / "broken" / "__init__.py"
        assert init.read_bytes() == wheel_member(private_wheel, "broken/__init__.py")

        # The private index goes down: no fallback to the public one, ever.
        private.close()
        public.clear_log()
        other = make_venv(tmp_path / "venv-private-down")
        before = snapshot(other)
        code, _out, err = cli("--lock", lock, "install", "--python", other)
        assert_refused(code, err, "broken", before, other, expected_code=3)
        assert not any("broken" in p for p in public.paths()), public.paths()


# -- row 8: mirrors ---------------------------------------------------------------------------


def test_row_08_corrupt_mirror_a_good_mirror_b(
    fixture_data: Path,
    tmp_path: Path,
    cli: Cli,
    pypiserver_factory: Callable[[Path], str],
) -> None:
    a = copy_fixtures(fixture_data, tmp_path / "a", "public") / "public"
    b = copy_fixtures(fixture_data, tmp_path / "b", "public") / "public"
    url_a = pypiserver_factory(a)
    url_b = pypiserver_factory(b)
    good = (b / "bar-1.1-py3-none-any.whl").read_bytes()
    with hostile_server() as mirror_b:
        mirror_b.proxy_to(url_b.removesuffix("/simple/"))
        locks = {}
        for kind, mirrors in (("mirrored", f'mirrors = ["{mirror_b.index_url}"]'), ("alone", "")):
            scene = tmp_path / kind
            write(
                scene / "lockkeys.toml",
                f"""
                requirements = ["requirements.in"]
                [[sources]]
                name = "pub"
                url = "{url_a}"
                {mirrors}
                """,
            )
            write(scene / "requirements.in", "bar==1.1\n")
            locks[kind] = do_lock(scene)
        evil_rebuild(a, "bar", "1.1")  # mirror A now serves corrupt bytes

        python = make_venv(tmp_path / "venv-mirrored")
        code, _out, err = cli("--lock", locks["mirrored"], "install", "--python", python)
        assert code == 0, err
        assert "/packages/bar-1.1-py3-none-any.whl" in mirror_b.paths()
    assert ["bar", "1.1"] in installed(python)
    init = site_packages(python) / "bar" / "__init__.py"
    assert init.read_bytes() == wheel_member(b / "bar-1.1-py3-none-any.whl", "bar/__init__.py")
    locked = read_lock(locks["mirrored"]).packages[0].wheels[0]
    assert hashlib.sha256(good).hexdigest() == locked.sha256

    python = make_venv(tmp_path / "venv-alone")
    before = snapshot(python)
    # --no-cache: the verified-file cache holds B's (locked) bytes from the run above and
    # would rightly install them; this is about what mirror A alone serves.
    code, _out, err = cli("--lock", locks["alone"], "install", "--python", python, "--no-cache")
    assert_refused(code, err, "bar 1.1: refused", before, python)


# -- row 9: threshold inflation ---------------------------------------------------------------


@pytest.mark.parametrize("where", ["one-file-twice", "beside-and-in-store"])
def test_row_09_same_signature_twice_counts_once(
    scene: Path, venv: Path, cli: Cli, where: str
) -> None:
    wheel = evil_rebuild(scene / "pub", "util", "2.1")
    asc = sign(wheel, scene / "keys", "alice")  # only alice; util needs alice AND bob
    packet = parse_signatures(asc.read_bytes(), str(asc))[0].packet
    if where == "one-file-twice":
        asc.write_text(armor_signatures([packet, packet]))
    else:
        shutil.copyfile(asc, scene / "sigs" / asc.name)
    before = snapshot(venv)
    code, _out, err = cli("--lock", scene / "pylock.toml", "install", "--python", venv)
    assert_refused(code, err, "util 2.1: refused", before, venv)
    assert "signature threshold not met" in err
    assert fingerprint(scene / "keys", "bob") in err  # the missing signer


@pytest.fixture(scope="module")
def gpg_keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """GnuPG-made keys: P (certify-only) with signing subkeys S1 and S2; Q, independent; and
    R, a certify-only primary whose subkey reuses S1's key material."""
    pytest.importorskip("gnupg")
    if shutil.which("gpg") is None:
        pytest.skip("GnuPG is not installed")
    from gnupg import GnuPG

    folder = tmp_path_factory.mktemp("gpgkeys")
    with GnuPG() as gpg:
        p = gpg.gen_key("Two subkeys (TEST ONLY) <p@test.invalid>", usage="cert")
        s1 = gpg.add_subkey(p)
        s2 = gpg.add_subkey(p)
        q = gpg.gen_key("Independent (TEST ONLY) <q@test.invalid>")
        r = gpg.gen_key("Reuses material (TEST ONLY) <r@test.invalid>", usage="cert")
        gpg.add_existing_subkey(r, gpg.keygrips(p)[1])
        for name, fpr in (("p", p), ("q", q), ("r", r)):
            (folder / f"{name}.asc").write_bytes(gpg.export(fpr))
        yield {"gpg": gpg, "folder": folder, "p": p, "s1": s1, "s2": s2, "q": q, "r": r}


def gpg_config(signers: dict[str, str]) -> str:
    names = ", ".join(f'"{n}"' for n in signers)
    table = "\n".join(f'{n} = "keys/{n}.asc"' for n in signers)
    return f"""
requirements = ["requirements.in"]
[[sources]]
name = "pub"
path = "pub"
[signers]
{table}
[packages.util]
signers = [{names}]
threshold = 2
verify = "signatures"
"""


def gpg_sign_into(gpg: object, key: str, file: Path) -> list[bytes]:
    asc = gpg.sign(key, file)  # type: ignore[attr-defined]
    return [s.packet for s in parse_signatures(Path(asc).read_bytes(), str(asc))]


def test_row_09_two_subkeys_of_one_certificate_count_once(
    gpg_keys: dict[str, object], fixture_data: Path, tmp_path: Path, venv: Path, cli: Cli
) -> None:
    gpg, folder = gpg_keys["gpg"], Path(str(gpg_keys["folder"]))
    p, s1, s2, q = (str(gpg_keys[k]) for k in ("p", "s1", "s2", "q"))
    scene = copy_fixtures(fixture_data, tmp_path / "scene", "public")
    (scene / "public").rename(scene / "pub")
    shutil.copytree(folder, scene / "keys")
    write(scene / "lockkeys.toml", gpg_config({"p": p, "q": q}))
    write(scene / "requirements.in", "util==2.1\n")
    wheel = scene / "pub" / "util-2.1-py3-none-any.whl"
    honest = gpg_sign_into(gpg, s1, wheel) + gpg_sign_into(gpg, q, wheel)
    Path(f"{wheel}.asc").write_text(armor_signatures(honest))
    lock = do_lock(scene)  # P and Q signed: 2 of 2

    # The holder of P's subkeys alone signs a rebuild twice, once with each subkey.
    evil_rebuild(scene / "pub", "util", "2.1")
    inflated = gpg_sign_into(gpg, s1, wheel) + gpg_sign_into(gpg, s2, wheel)
    Path(f"{wheel}.asc").write_text(armor_signatures(inflated))
    before = snapshot(venv)
    code, _out, err = cli("--lock", lock, "install", "--python", venv)
    assert_refused(code, err, "util 2.1: refused", before, venv)
    assert "signature threshold not met" in err
    assert q in err  # the missing signer


def test_row_09_two_pinned_certificates_with_same_key_material_is_a_config_error(
    gpg_keys: dict[str, object], fixture_data: Path, tmp_path: Path, cli: Cli
) -> None:
    p, r = str(gpg_keys["p"]), str(gpg_keys["r"])
    scene = copy_fixtures(fixture_data, tmp_path / "scene", "public")
    (scene / "public").rename(scene / "pub")
    shutil.copytree(Path(str(gpg_keys["folder"])), scene / "keys")
    write(scene / "lockkeys.toml", gpg_config({"p": p, "r": r}))
    write(scene / "requirements.in", "util==2.1\n")
    code, _out, err = cli(
        "--config", scene / "lockkeys.toml", "--lock", scene / "pylock.toml", "lock"
    )
    assert code == 2, err
    assert "duplicate key material" in err and "signers." in err
    assert not (scene / "pylock.toml").exists()


# -- row 10: signer not pinned for this package ----------------------------------------------


def test_row_10_corp_signed_util_refused_where_lock_pins_alice_and_bob(
    scene: Path, venv: Path, cli: Cli
) -> None:
    lock = read_lock(scene / "pylock.toml")
    corp = fingerprint(scene / "keys", "corp")
    assert corp in {s.fingerprint for s in lock.tool.signers.values()}  # trusted, for broken
    wheel = evil_rebuild(scene / "pub", "util", "2.1")
    sign(wheel, scene / "keys", "corp")
    before = snapshot(venv)
    code, _out, err = cli("--lock", scene / "pylock.toml", "install", "--python", venv)
    assert_refused(code, err, "util 2.1: refused", before, venv)
    assert "signature threshold not met" in err
    assert "0 of 2" in err or "0/2" in err or "not counted" in err, err


# -- row 11: unknown signer -------------------------------------------------------------------


def test_row_11_unknown_signer_refused_and_named(scene: Path, venv: Path, cli: Cli) -> None:
    wheel = evil_rebuild(scene / "pub", "util", "2.1")
    asc = sign(wheel, scene / "keys", "carol")  # carol is in no config and no lock
    issuer = parse_signatures(asc.read_bytes(), str(asc))[0].facts.issuer_fingerprint
    carol = load_certificate(scene / "keys" / "carol.asc", name="carol").facts
    assert issuer in [k.fingerprint for k in carol.subkeys]  # carol's signing subkey
    before = snapshot(venv)
    code, _out, err = cli("--lock", scene / "pylock.toml", "install", "--python", venv)
    assert_refused(code, err, "util 2.1: refused", before, venv)
    assert f"by {issuer}: unknown-signer" in err, err


# -- row 12: weak hashes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hashes", "exit_code", "message"),
    [
        ('md5 = "{md5}"', 2, "packages[0].wheels[0].hashes"),
        ('sha256 = "{sha256}", md5 = "{md5}"', 2, "packages[0].wheels[0].hashes.md5"),
        ('sha256 = "{sha256}", sha1 = "{sha1}"', 2, "packages[0].wheels[0].hashes.sha1"),
        ('sha256 = "{sha256}", sha512 = "{bad512}"', 1, "sha512 of bar-1.1"),
    ],
    ids=["md5-only", "md5-beside-sha256", "sha1-beside-sha256", "wrong-sha512-beside-sha256"],
)
def test_row_12_lock_with_md5_only_is_a_parse_error(
    scene: Path, venv: Path, cli: Cli, hashes: str, exit_code: int, message: str
) -> None:
    lock = scene / "pylock.toml"
    text = lock.read_text(encoding="utf-8")
    bar = read_lock(lock).packages[0]
    assert bar.name == "bar"
    data = (scene / "pub" / bar.wheels[0].filename).read_bytes()
    sha256 = bar.wheels[0].hashes["sha256"]
    values = {
        "md5": hashlib.md5(data).hexdigest(),
        "sha1": hashlib.sha1(data).hexdigest(),
        "sha256": sha256,
        "bad512": "0" * 128,
    }
    doc = tomllib.loads(text)
    doc["packages"][0]["wheels"][0]["hashes"] = tomllib.loads(
        "hashes = { " + hashes.format(**values) + " }"
    )["hashes"]
    edited = tomli_w.dumps(doc)
    assert edited != text
    lock.write_text(edited, encoding="utf-8")
    before = snapshot(venv)
    code, _out, err = cli("--lock", lock, "install", "--python", venv)
    assert code == exit_code, err
    assert message in err, err
    assert snapshot(venv) == before


# -- row 13: swap between verify and install --------------------------------------------------


@pytest.mark.parametrize("installer", ["builtin", "pip", "uv"])
def test_row_13_file_swapped_after_verification_fails_installer_hash_check(
    scene: Path, venv: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch, installer: str
) -> None:
    evil = evil_rebuild(scene / "attacker", "bar", "1.1").read_bytes()
    swapped: list[Path] = []

    def swap_then_install(name: str, env, artifacts, workdir: Path, **kw):  # type: ignore[no-untyped-def]
        for artifact in artifacts:
            if artifact.path.name == "bar-1.1-py3-none-any.whl":
                artifact.path.write_bytes(evil)
                swapped.append(artifact.path)
        return real_install_artifacts(name, env, artifacts, workdir, **kw)

    monkeypatch.setattr(apply, "install_artifacts", swap_then_install)
    before = snapshot(venv)
    code, _out, err = cli(
        "--lock", scene / "pylock.toml", "install", "--python", venv, "--installer", installer
    )
    assert swapped, "the installer step was not reached"
    assert_refused(code, err, "bar", before, venv)
    if installer == "builtin":
        assert "the file changed after verification" in err
    else:
        assert f"{installer} failed to install the verified files" in err
        assert "(a file changed after verification)" in err


# -- row 14: cached / preinstalled dists ------------------------------------------------------


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_row_14_tampered_preinstalled_copy_is_replaced(
    scene: Path, venv: Path, cli: Cli, installer: str
) -> None:
    lock = scene / "pylock.toml"
    code, _out, err = cli("--lock", lock, "install", "--python", venv, "--installer", installer)
    assert code == 0, err
    good = snapshot(venv)
    init = site_packages(venv) / "foo" / "__init__.py"
    assert init.read_bytes() == wheel_member(
        scene / "pub" / "foo-1.0-py3-none-any.whl", "foo/__init__.py"
    )
    init.write_bytes(EVIL)  # someone tampered with the installed copy
    assert snapshot(venv) != good
    code, _out, err = cli("--lock", lock, "install", "--python", venv, "--installer", installer)
    assert code == 0, err
    # every installed byte is the verified one again (only the record of where the installer
    # read the wheel from, a fresh temporary folder each time, differs)
    assert without_install_records(snapshot(venv)) == without_install_records(good)
    assert init.read_bytes() == wheel_member(
        scene / "pub" / "foo-1.0-py3-none-any.whl", "foo/__init__.py"
    )


# -- row 15: file name from the server --------------------------------------------------------


def test_row_15_content_disposition_file_name_ignored(
    hostile_scene: tuple[Path, HostileServer],
    tmp_path: Path,
    venv: Path,
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scene, server = hostile_scene
    for wheel in (scene / "public").glob("*.whl"):
        server.set_file(
            wheel.name,
            Serve(
                wheel.read_bytes(),
                headers={
                    "Content-Disposition": "attachment; filename=../../x; "
                    "filename*=UTF-8''..%2F..%2Fx"
                },
            ),
        )
    write(scene / "requirements.in", "bar==1.1\n")
    lock = do_lock(scene)
    deep_tmp = tmp_path / "t" / "a" / "b"
    deep_cwd = tmp_path / "c" / "a" / "b"
    deep_tmp.mkdir(parents=True)
    deep_cwd.mkdir(parents=True)
    monkeypatch.setattr("tempfile.tempdir", str(deep_tmp))
    monkeypatch.chdir(deep_cwd)
    code, _out, err = cli("--lock", lock, "install", "--python", venv)
    assert code == 0, err
    assert installed(venv) == [["bar", "1.1"], ["broken", "1.0"]]
    assert [p for p in tmp_path.rglob("x")] == []
    assert list(deep_tmp.iterdir()) == []  # the private folder is gone too
    assert not (REPO / "x").exists()


# -- row 19: interrupted install / lock write -------------------------------------------------


def test_row_19_failure_mid_download_leaves_environment_unchanged(
    hostile_scene: tuple[Path, HostileServer], venv: Path, cli: Cli
) -> None:
    scene, server = hostile_scene
    write(scene / "requirements.in", "foo\n")
    lock = do_lock(scene)
    names = [p.name for p in read_lock(lock).packages]
    assert names == ["bar", "broken", "foo", "util"]
    third = read_lock(lock).packages[2].wheels[0].filename
    drop = Drop((scene / "public" / third).read_bytes())
    server.set_file(third, drop)
    before = snapshot(venv)
    code, _out, err = cli("--lock", lock, "install", "--python", venv)
    assert_refused(code, err, "foo", before, venv, expected_code=3)
    assert drop.count >= 1
    assert installed(venv) == []  # bar and broken verified fine, and still were not installed


KILL_AT_RENAME = """
import os, signal, sys
from pathlib import Path
import lockkeys._internal.fsutil as fsutil

real_replace = os.replace

class _Os:
    def __getattr__(self, name):
        return getattr(os, name)

    @staticmethod
    def replace(src, dst):
        if Path(dst).name == "pylock.toml":
            os.kill(os.getpid(), signal.SIGKILL)  # the new lock is written, not yet renamed
        return real_replace(src, dst)

fsutil.os = _Os()
from lockkeys._internal.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_row_19_kill_during_lock_write_keeps_old_lock(scene: Path) -> None:
    lock = scene / "pylock.toml"
    old = lock.read_bytes()
    write(scene / "requirements.in", "foo\nplat\n")  # the new lock would differ
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.run(
        [sys.executable, "-c", KILL_AT_RENAME, "--config", str(scene / "lockkeys.toml"), "lock"],
        capture_output=True,
        text=True,
        env=env,
        cwd=scene,
        check=False,
        timeout=120,
    )
    assert proc.returncode == -9, proc.stderr  # really killed at the rename
    leftovers = [p.name for p in scene.glob(".pylock.toml.*.tmp")]
    assert leftovers, "the kill came before the new lock was written"
    assert lock.read_bytes() == old  # the old lock, intact
    assert {p.name for p in read_lock(lock).packages} == {"bar", "broken", "foo", "util"}


def _resign_foo_with(
    scene: Path, edit: Callable[[str, bytes], tuple[str, bytes]], extra: dict[str, bytes]
) -> Path:
    """Rewrite foo's wheel member by member (and add members), then sign it as alice."""
    wheel = scene / "pub" / "foo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        members = [(info.filename, archive.read(info)) for info in archive.infolist()]
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in members:
            archive.writestr(*edit(name, data))
        for name, data in extra.items():
            archive.writestr(name, data)
    Path(f"{wheel}.asc").unlink()
    sign(wheel, scene / "keys", "alice")  # foo's pinned signer
    return wheel


def test_row_19_wheel_writing_outside_the_environment_refused_before_install(
    scene: Path, venv: Path, cli: Cli
) -> None:
    """A signed `foo` with an archive member `../../escape.txt`: installers disagree on such
    members (pip stops half-way, uv skips it), so lockkeys refuses it while verifying."""
    _resign_foo_with(scene, lambda n, d: (n, d), {"../../escape.txt": b"outside\n"})
    code, _out, err = cli("--lock", scene / "pylock.toml", "verify")
    assert code == 1, err
    assert "foo 1.0: refused" in err and "outside the environment" in err
    before = snapshot(venv)
    code, _out, err = cli("--lock", scene / "pylock.toml", "install", "--python", venv)
    assert_refused(code, err, "foo 1.0: refused", before, venv)
    assert not list(venv.parent.parent.rglob("escape.txt"))


@pytest.mark.parametrize("installer", ["builtin", "pip", "uv"])
def test_row_19_installer_failure_mid_install_leaves_environment_unchanged(
    scene: Path, venv: Path, cli: Cli, installer: str
) -> None:
    """All or nothing also when the installer itself fails part-way: a signed `foo` that
    passes every lockkeys check but declares a wheel format no installer supports, so the
    installer stops after installing the packages before it. lockkeys undoes all of it."""

    changed: dict[str, bytes] = {}

    def future_format(name: str, data: bytes) -> tuple[str, bytes]:
        if name.endswith(".dist-info/WHEEL"):
            changed[name] = data.replace(b"Wheel-Version: 1.0", b"Wheel-Version: 9.0")
            return name, changed[name]
        if name.endswith(".dist-info/RECORD"):  # an honest RECORD for the new WHEEL (row 22)
            lines = []
            for line in data.decode().splitlines():
                path = line.split(",")[0]
                if path in changed:
                    digest = hashlib.sha256(changed[path]).digest()
                    encoded = base64.urlsafe_b64encode(digest).decode().rstrip("=")
                    line = f"{path},sha256={encoded},{len(changed[path])}"
                lines.append(line)
            return name, ("\n".join(lines) + "\n").encode()
        return name, data

    _resign_foo_with(scene, future_format, {})
    code, _out, err = cli("--lock", scene / "pylock.toml", "verify")
    assert code == 0, err  # lockkeys accepts it: signed, right name, version and dependencies
    before = snapshot(venv)
    code, _out, err = cli(
        "--lock", scene / "pylock.toml", "install", "--python", venv, "--installer", installer
    )
    assert code == 1, err
    if installer == "builtin":
        assert "foo-1.0-py3-none-any.whl: the verified wheel could not be installed" in err, err
    else:
        assert f"{installer} failed to install the verified files" in err, err
    assert "the environment was restored to its state before this run" in err
    assert snapshot(venv) == before, installed(venv)
