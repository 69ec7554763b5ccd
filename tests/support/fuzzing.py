"""Fuzz targets shared by the test suite (tests/test_fuzz.py, quick profile) and the long run
(benchmarks/fuzz.py --long): seeds, structure-aware mutations, and one check per parser.

Each ``check_*`` function feeds one input to a lockkeys parser and says whether it was accepted
(True) or refused with lockkeys' own error (False). The only outcomes allowed are
success or lockkeys' own error (:class:`lockkeys.errors.LockkeysError`, or the page parser's
:class:`PageError`, which its caller turns into a SourceError); anything else propagates and is
a finding. Inputs are bounded in size, so time and memory per input are bounded too (the test
profile sets a per-input deadline; the long run records the slowest input and peak memory).
"""

from __future__ import annotations

import functools
import io
import random
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from lockkeys._internal.openpgp.armor import armor, decode
from lockkeys.errors import LockkeysError

ROOT = Path(__file__).resolve().parent.parent.parent
FIXTURES = ROOT / "fixtures" / "data"
MAX_INPUT = 64 * 1024

# --- generic byte mutations -----------------------------------------------------------------

_op = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 20), st.integers(0, 7)),
    st.tuples(st.just("truncate"), st.integers(0, 1 << 20)),
    st.tuples(st.just("insert"), st.integers(0, 1 << 20), st.binary(max_size=16)),
    st.tuples(st.just("delete"), st.integers(0, 1 << 20), st.integers(1, 64)),
    st.tuples(st.just("duplicate"), st.integers(0, 1 << 20), st.integers(1, 256)),
)


def apply_ops(data: bytes, ops: list[tuple[Any, ...]]) -> bytes:
    buf = bytearray(data)
    for op in ops:
        if not buf and op[0] != "insert":
            continue
        at = op[1] % (len(buf) + 1)
        if op[0] == "flip" and at < len(buf):
            buf[at] ^= 1 << op[2]
        elif op[0] == "truncate":
            del buf[at:]
        elif op[0] == "insert":
            buf[at:at] = op[2]
        elif op[0] == "delete":
            del buf[at : at + op[2]]
        elif op[0] == "duplicate":
            buf[at:at] = buf[at : at + op[2]]
    return bytes(buf[:MAX_INPUT])


def mutated(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    """Arbitrary bytes, or a seed with flipped bits, truncations, insertions, duplications."""
    return st.one_of(
        st.binary(max_size=512),
        st.builds(apply_ops, st.sampled_from(seeds), st.lists(_op, max_size=6)),
    )


# --- text (TOML, HTML) mutations -------------------------------------------------------------

_line_op = st.one_of(
    st.tuples(st.just("dup"), st.integers(0, 1000)),
    st.tuples(st.just("drop"), st.integers(0, 1000)),
    st.tuples(st.just("swap"), st.integers(0, 1000), st.integers(0, 1000)),
    st.tuples(st.just("nest"), st.integers(0, 1000), st.integers(1, 3000)),
    st.tuples(st.just("replace"), st.integers(0, 1000), st.text(max_size=40)),
)


def apply_line_ops(text: str, ops: list[tuple[Any, ...]]) -> bytes:
    lines = text.split("\n")
    for op in ops:
        if not lines:
            break
        i = op[1] % len(lines)
        if op[0] == "dup":
            lines.insert(i, lines[i])
        elif op[0] == "drop":
            del lines[i]
        elif op[0] == "swap":
            j = op[2] % len(lines)
            lines[i], lines[j] = lines[j], lines[i]
        elif op[0] == "nest" and "=" in lines[i]:
            key, _, value = lines[i].partition("=")
            depth = op[2]
            lines[i] = f"{key}= " + "[" * depth + value.strip() + "]" * depth
        elif op[0] == "replace" and "=" in lines[i]:
            key, _, _ = lines[i].partition("=")
            lines[i] = f"{key}= {op[2]}"
    return "\n".join(lines).encode("utf-8", "surrogatepass")[: MAX_INPUT * 4]


def text_mutated(seeds: list[str]) -> st.SearchStrategy[bytes]:
    """Line-level mutations (duplicated, dropped, reordered lines; values nested thousands
    deep or replaced), then byte-level ones."""
    lines = st.builds(apply_line_ops, st.sampled_from(seeds), st.lists(_line_op, max_size=6))
    return st.one_of(
        st.binary(max_size=256),
        lines,
        st.builds(apply_ops, lines, st.lists(_op, max_size=3)),
    )


# --- OpenPGP packet mutations ----------------------------------------------------------------

_packet_op = st.one_of(
    st.tuples(st.just("dup"), st.integers(0, 100)),
    st.tuples(st.just("drop"), st.integers(0, 100)),
    st.tuples(st.just("swap"), st.integers(0, 100), st.integers(0, 100)),
    st.tuples(st.just("version"), st.integers(0, 100), st.integers(0, 255)),
    st.tuples(st.just("flip"), st.integers(0, 100), st.integers(0, 1 << 16), st.integers(0, 7)),
    st.tuples(st.just("cut"), st.integers(0, 100), st.integers(0, 1 << 16)),
)


def apply_packet_ops(seed: bytes, ops: list[tuple[Any, ...]], armored: bool) -> bytes:
    from lockkeys._internal.openpgp.framing import encode_packet

    blocks = decode(seed, "seed")
    label = blocks[0].label or "SIGNATURE"
    packets = [(p.tag, bytearray(p.body)) for block in blocks for p in block.packets]
    for op in ops:
        if not packets:
            break
        i = op[1] % len(packets)
        tag, body = packets[i]
        if op[0] == "dup":
            packets.insert(i, (tag, bytearray(body)))
        elif op[0] == "drop":
            del packets[i]
        elif op[0] == "swap":
            j = op[2] % len(packets)
            packets[i], packets[j] = packets[j], packets[i]
        elif op[0] == "version" and body:
            body[0] = op[2]
        elif op[0] == "flip" and body:
            body[op[2] % len(body)] ^= 1 << op[3]
        elif op[0] == "cut":
            del body[op[2] % (len(body) + 1) :]
    binary = b"".join(encode_packet(tag, bytes(body)) for tag, body in packets)
    return armor(binary, label).encode() if armored else binary


def packet_mutated(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    """Packets duplicated, dropped, reordered, cut, with bits flipped or versions changed,
    re-framed (binary or armored); and byte-level mutations of the armored seeds."""
    return st.one_of(
        mutated(seeds),
        st.builds(
            apply_packet_ops,
            st.sampled_from(seeds),
            st.lists(_packet_op, max_size=6),
            st.booleans(),
        ),
    )


# --- seeds -----------------------------------------------------------------------------------


@functools.cache
def signature_seeds() -> list[bytes]:
    files = sorted(FIXTURES.glob("**/*.whl.asc")) + sorted(FIXTURES.glob("vectors/*.txt.*.asc"))
    return [p.read_bytes() for p in files]


@functools.cache
def certificate_seeds() -> list[bytes]:
    names = ["keys/alice.asc", "keys/corp.asc", "vectors/sq-rsa3k.asc", "vectors/rnp-ed25519.asc"]
    return [(FIXTURES / n).read_bytes() for n in names]


CONFIG_SEED = """\
requirements = ["requirements.in"]
lockfile = "pylock.toml"
resolver = "pip-tools"
signature-stores = ["sigs", "https://sigs.example/store/"]

[[sources]]
name = "pub"
path = "pub"

[[sources]]
name = "private"
url = "https://pypi.corp.example/simple/"

[signers]
alice = "keys/alice.asc"
bob = "keys/bob.asc"

[default]
verify = "hashes"

[packages.util]
signers = ["alice", "bob"]
threshold = 2
verify = "signatures"
source = "private"
substitute = "2.1+corp.1"
reason = "a reason"
"""


@functools.cache
def config_dir() -> Path:
    """A folder with what the seed config references (keys, requirements)."""
    folder = Path(tempfile.mkdtemp(prefix="lockkeys-fuzz-config-"))
    (folder / "keys").mkdir()
    for name in ("alice", "bob"):
        (folder / "keys" / f"{name}.asc").write_bytes(
            (FIXTURES / "keys" / f"{name}.asc").read_bytes()
        )
    (folder / "requirements.in").write_text("util\n", encoding="utf-8")
    (folder / "pub").mkdir()
    return folder


@functools.cache
def lock_seed() -> str:
    """A real lock: `lockkeys lock` over the fixture folders (signers, substitute, sources)."""
    import shutil

    from lockkeys._internal.locking.locker import lock

    folder = Path(tempfile.mkdtemp(prefix="lockkeys-fuzz-lock-"))
    for name, dest in (("public", "pub"), ("private", "priv"), ("keys", "keys")):
        shutil.copytree(FIXTURES / name, folder / dest)
    (folder / "requirements.in").write_text("foo\n", encoding="utf-8")
    (folder / "lockkeys.toml").write_text(
        """\
requirements = ["requirements.in"]
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
""",
        encoding="utf-8",
    )
    return lock(folder / "lockkeys.toml").path.read_text(encoding="utf-8")


JSON_SEED = """{
  "meta": {"api-version": "1.1"},
  "name": "util",
  "files": [
    {"filename": "util-2.1-py3-none-any.whl", "url": "../../files/util-2.1-py3-none-any.whl",
     "hashes": {"sha256": "%s"}, "size": 1234, "requires-python": ">=3.8",
     "yanked": false},
    {"filename": "util-2.0.tar.gz", "url": "https://x.example/util-2.0.tar.gz",
     "hashes": {}, "yanked": "broken"}
  ]
}""" % ("ab" * 32)

HTML_SEED = """<!DOCTYPE html><html><head><base href="/files/"></head><body>
<a href="util-2.1-py3-none-any.whl#sha256=%s" data-requires-python="&gt;=3.8">util-2.1</a>
<a href="https://x.example/util-2.0.tar.gz" data-yanked="">util-2.0</a>
<a href="file:///etc/passwd">x</a><a>no href</a>
</body></html>""" % ("cd" * 32)


@functools.cache
def wheel_seed() -> bytes:
    return (FIXTURES / "public" / "util-2.1-py3-none-any.whl").read_bytes()


def wheel_members(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


HOSTILE_NAMES = [
    "../../bin/python",
    "/etc/passwd",
    "util/../../x",
    "other/__init__.py",
    "util-2.1.dist-info/RECORD",
    "util-2.1.dist-info/METADATA",
    "C:\\x",
    "util/\x00",
]
_member_op = st.one_of(
    st.tuples(st.just("edit"), st.integers(0, 50), st.lists(_op, max_size=4)),
    st.tuples(st.just("rename"), st.integers(0, 50), st.sampled_from(HOSTILE_NAMES)),
    st.tuples(st.just("drop"), st.integers(0, 50)),
    st.tuples(st.just("dup"), st.integers(0, 50)),
    st.tuples(st.just("record"), st.text(max_size=200)),
)


def apply_member_ops(members: list[tuple[str, bytes]], ops: list[tuple[Any, ...]]) -> bytes:
    members = list(members)
    for op in ops:
        if not members:
            break
        if op[0] == "record":
            line = (op[1] + "\n").encode("utf-8", "surrogatepass")
            members = [(n, d + line if n.endswith("RECORD") else d) for n, d in members]
            continue
        i = op[1] % len(members)
        name, data = members[i]
        if op[0] == "edit":
            members[i] = (name, apply_ops(data, op[2]))
        elif op[0] == "rename":
            members[i] = (op[2], data)
        elif op[0] == "drop":
            del members[i]
        elif op[0] == "dup":
            members.insert(i, (name, data))
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate member names are the point
        with zipfile.ZipFile(out, "w") as archive:
            for name, data in members:
                archive.writestr(name, data)
    return out.getvalue()


def wheel_mutated() -> st.SearchStrategy[bytes]:
    """Members edited, renamed (``..``, absolute, other packages' paths), dropped, duplicated,
    RECORD lines appended; and byte-level mutations of the whole zip."""
    return st.one_of(
        mutated([wheel_seed()]),
        st.builds(
            apply_member_ops,
            st.just(wheel_members(wheel_seed())),
            st.lists(_member_op, max_size=5),
        ),
    )


# --- the checks ------------------------------------------------------------------------------


@functools.cache
def _keyring() -> Any:
    from lockkeys._internal.trust.certs import Keyring, load_certificate

    names = ("keys/alice.asc", "vectors/sq-rsa3k.asc")
    return Keyring(load_certificate(FIXTURES / name) for name in names)


@functools.cache
def _scratch() -> Path:
    return Path(tempfile.mkdtemp(prefix="lockkeys-fuzz-"))


def check_signature_file(data: bytes) -> bool:
    from lockkeys._internal.trust.signatures import parse_signatures
    from lockkeys._internal.trust.threshold import evaluate_threshold

    try:
        sigs = parse_signatures(data, "fuzz.asc")
    except LockkeysError:
        return False
    evaluate_threshold(FIXTURES / "vectors" / "data.txt", sigs, _keyring(), 1)
    return True


def check_certificate(data: bytes) -> bool:
    from lockkeys._internal.trust.certs import Keyring, parse_certificate

    try:
        cert = parse_certificate(data, "fuzz.asc")
    except LockkeysError:
        return False
    try:
        Keyring([cert])
    except LockkeysError:
        return False
    return True


def check_config(data: bytes) -> bool:
    from lockkeys._internal.config import load_config

    folder = config_dir()
    path = folder / "lockkeys.toml"
    path.write_bytes(data)
    try:
        config = load_config(path)
        for name in config.packages:
            config.policy(name)
    except LockkeysError:
        return False
    return True


def check_lock(data: bytes) -> bool:
    from lockkeys._internal.lockmodel.io import read_lock

    path = _scratch() / "pylock.toml"
    path.write_bytes(data)
    try:
        read_lock(path)
    except LockkeysError:
        return False
    return True


def check_index_page(data: bytes, content_type: str | None) -> bool:
    from lockkeys._internal.sources.index import PageError, parse_page

    try:
        parse_page(data, "https://index.example/simple/util/", content_type)
    except PageError:
        return False
    return True


@functools.cache
def _target_env() -> Any:
    from lockkeys._internal.install.environment import probe

    return probe(None)


def check_wheel(data: bytes) -> bool:
    from lockkeys._internal.install.metadata import check_metadata
    from lockkeys._internal.wheelrecord import check_wheel_record

    path = _scratch() / "util-2.1-py3-none-any.whl"
    path.write_bytes(data)
    try:
        check_metadata(path, name="util", version="2.1", locked={"util"}, env=_target_env())
        check_wheel_record(path, package="util")
    except LockkeysError:
        return False
    return True


#: name -> (strategy factory, check taking one drawn example)
TARGETS: dict[str, tuple[Callable[[], st.SearchStrategy[Any]], Callable[[Any], bool]]] = {
    "config": (lambda: text_mutated([CONFIG_SEED]), check_config),
    "lock": (lambda: text_mutated([lock_seed()]), check_lock),
    "index-json": (
        lambda: text_mutated([JSON_SEED]),
        lambda data: check_index_page(data, "application/vnd.pypi.simple.v1+json"),
    ),
    "index-html": (
        lambda: text_mutated([HTML_SEED]),
        lambda data: check_index_page(data, "text/html"),
    ),
    "signature-file": (lambda: packet_mutated(signature_seeds()), check_signature_file),
    "certificate": (lambda: packet_mutated(certificate_seeds()), check_certificate),
    "wheel": (wheel_mutated, check_wheel),
}


# --- the same mutations drawn from a seeded PRNG (benchmarks/fuzz.py --long) -----------------
#
# Hypothesis spends more time generating and tracking an input than most parsers spend on it;
# for hundreds of thousands of inputs the long run draws the same kinds of mutation from a
# seeded random.Random instead (reproducible from the seed and the input number).

_HOSTILE_TEXT = ["[[[[", "]]", "{", "\x00", "\ufffd", '"', "'''", "=", "\n[x]\n", "nan", "-1"]


def _rand_byte_ops(rng: random.Random) -> list[tuple[Any, ...]]:
    ops: list[tuple[Any, ...]] = []
    for _ in range(rng.randint(0, 6)):
        kind = rng.choice(("flip", "truncate", "insert", "delete", "duplicate"))
        at = rng.randrange(1 << 20)
        if kind == "flip":
            ops.append((kind, at, rng.randrange(8)))
        elif kind == "truncate":
            ops.append((kind, at))
        elif kind == "insert":
            ops.append((kind, at, rng.randbytes(rng.randint(0, 16))))
        elif kind == "delete":
            ops.append((kind, at, rng.randint(1, 64)))
        else:
            ops.append((kind, at, rng.randint(1, 256)))
    return ops


def _rand_text(rng: random.Random) -> str:
    return "".join(
        rng.choice(_HOSTILE_TEXT) if rng.random() < 0.3 else chr(rng.randint(32, 0x2FF))
        for _ in range(rng.randint(0, 12))
    )


def _rand_line_ops(rng: random.Random) -> list[tuple[Any, ...]]:
    ops: list[tuple[Any, ...]] = []
    for _ in range(rng.randint(0, 6)):
        kind = rng.choice(("dup", "drop", "swap", "nest", "replace"))
        at = rng.randrange(1000)
        if kind == "swap":
            ops.append((kind, at, rng.randrange(1000)))
        elif kind == "nest":
            ops.append((kind, at, rng.choice((1, 2, 8, 63, 64, 65, 200, 3000))))
        elif kind == "replace":
            ops.append((kind, at, _rand_text(rng)))
        else:
            ops.append((kind, at))
    return ops


def _rand_packet_ops(rng: random.Random) -> list[tuple[Any, ...]]:
    ops: list[tuple[Any, ...]] = []
    for _ in range(rng.randint(0, 6)):
        kind = rng.choice(("dup", "drop", "swap", "version", "flip", "cut"))
        at = rng.randrange(100)
        if kind == "swap":
            ops.append((kind, at, rng.randrange(100)))
        elif kind == "version":
            ops.append((kind, at, rng.choice((0, 2, 3, 4, 5, 6, 7, 10, 255, rng.randrange(256)))))
        elif kind == "flip":
            ops.append((kind, at, rng.randrange(1 << 16), rng.randrange(8)))
        elif kind == "cut":
            ops.append((kind, at, rng.randrange(1 << 16)))
        else:
            ops.append((kind, at))
    return ops


def _rand_member_ops(rng: random.Random) -> list[tuple[Any, ...]]:
    ops: list[tuple[Any, ...]] = []
    for _ in range(rng.randint(0, 5)):
        kind = rng.choice(("edit", "rename", "drop", "dup", "record"))
        at = rng.randrange(50)
        if kind == "edit":
            ops.append((kind, at, _rand_byte_ops(rng)))
        elif kind == "rename":
            ops.append((kind, at, rng.choice(HOSTILE_NAMES)))
        elif kind == "record":
            ops.append((kind, _rand_text(rng)))
        else:
            ops.append((kind, at))
    return ops


def _arbitrary(rng: random.Random) -> bytes:
    return rng.randbytes(rng.randint(0, 512))


def random_bytes_input(rng: random.Random, seeds: list[bytes]) -> bytes:
    if rng.random() < 0.1:
        return _arbitrary(rng)
    return apply_ops(rng.choice(seeds), _rand_byte_ops(rng))


def random_text_input(rng: random.Random, seeds: list[str]) -> bytes:
    roll = rng.random()
    if roll < 0.1:
        return _arbitrary(rng)
    lines = apply_line_ops(rng.choice(seeds), _rand_line_ops(rng))
    return lines if roll < 0.7 else apply_ops(lines, _rand_byte_ops(rng)[:3])


def random_packet_input(rng: random.Random, seeds: list[bytes]) -> bytes:
    if rng.random() < 0.4:
        return random_bytes_input(rng, seeds)
    return apply_packet_ops(rng.choice(seeds), _rand_packet_ops(rng), rng.random() < 0.5)


def random_wheel_input(rng: random.Random) -> bytes:
    if rng.random() < 0.4:
        return random_bytes_input(rng, [wheel_seed()])
    return apply_member_ops(wheel_members(wheel_seed()), _rand_member_ops(rng))


RANDOM_INPUTS: dict[str, Callable[[random.Random], bytes]] = {
    "config": lambda rng: random_text_input(rng, [CONFIG_SEED]),
    "lock": lambda rng: random_text_input(rng, [lock_seed()]),
    "index-json": lambda rng: random_text_input(rng, [JSON_SEED]),
    "index-html": lambda rng: random_text_input(rng, [HTML_SEED]),
    "signature-file": lambda rng: random_packet_input(rng, signature_seeds()),
    "certificate": lambda rng: random_packet_input(rng, certificate_seeds()),
    "wheel": random_wheel_input,
}
