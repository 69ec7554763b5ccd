"""Is a ``__pycache__/*.pyc`` the byte-code of its verified source? Asked of the target interpreter.

The interpreter runs a ``.pyc`` instead of its source whenever the header's source size and
modification time match, and anyone can copy those into a poisoned file, so the header proves
nothing. Byte-code is proven instead: the target interpreter (the one that will run it) loads
the ``.pyc``'s code object and compiles the intact source (already checked against the locked
wheel's RECORD) at the optimization level of the file's name; the two code objects must be
equal, nested functions and classes included (their qualified names too; only the file name
recorded for tracebacks may differ). One child process checks every file of the environment,
with ``-I -S`` (no ``site``: a ``.pth`` file under audit never runs).

Why proving, not distrusting all byte-code: the interpreter writes ``__pycache__`` on the first
import of every module (pip also writes it at install time), so an audit that reported every
``.pyc`` would fail for every environment that ever ran. What cannot be proven (another
interpreter's cache tag or magic number, an unreadable file, different code) is reported as
untrusted, and ``install`` / ``sync`` delete it: it is a cache, and the interpreter compiles it
again from the verified source. Proving costs one compile per cached module, about 0.1 s per
megabyte of source (a 28-package web application with 1,000 cached modules: about 1.3 s);
only byte-code of intact locked sources is proven.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

MAX_PYC = 32 * 1024 * 1024

_CHECK = r"""
import importlib.util, json, marshal, os, stat, sys
from types import CodeType
TAG, MAGIC, MAX = sys.implementation.cache_tag, importlib.util.MAGIC_NUMBER, %(max)d

def same(a, b):
    if a != b or getattr(a, "co_qualname", None) != getattr(b, "co_qualname", None):
        return False
    inner_a = [c for c in a.co_consts if isinstance(c, CodeType)]
    inner_b = [c for c in b.co_consts if isinstance(c, CodeType)]
    return len(inner_a) == len(inner_b) and all(map(same, inner_a, inner_b))

def read(path, limit):
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OSError("not a regular file")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise OSError("too large")
    return data

def check(source, pyc, tag, optimize):
    if tag != TAG:
        return "byte-code for another interpreter (%%s, this one is %%s)" %% (tag, TAG)
    try:
        data = read(pyc, MAX)
    except OSError as exc:
        return "cannot be read (%%s)" %% exc
    if data[:4] != MAGIC:
        return "not this interpreter's byte-code (another magic number)"
    try:
        code = marshal.loads(data[16:])
    except Exception as exc:
        return "not byte-code (%%s)" %% type(exc).__name__
    try:
        text = read(source, 1 << 30)
        expected = compile(text, source, "exec", dont_inherit=True, optimize=optimize)
    except Exception as exc:
        return "its source does not compile here (%%s)" %% type(exc).__name__
    if not isinstance(code, CodeType) or not same(code, expected):
        return "not the byte-code of the verified source"
    return None

print(json.dumps([check(*item) for item in json.load(sys.stdin)]))
"""


@dataclass(frozen=True)
class Cached:
    """One ``.pyc`` in a ``__pycache__`` folder and the source it claims to be compiled from."""

    pyc: str
    source: str
    tag: str  # the cache tag in its name, e.g. cpython-311
    optimize: int  # 0, or N of ``.opt-N``


def parse_cached(pyc: str) -> Cached | None:
    """``pkg/__pycache__/mod.cpython-311.opt-1.pyc`` -> its source ``pkg/mod.py``; None for a
    name the import system never reads."""
    folder, name = os.path.split(pyc)
    if os.path.basename(folder) != "__pycache__" or not name.endswith(".pyc"):
        return None
    parts = name[: -len(".pyc")].split(".")
    optimize = 0
    if len(parts) == 3 and parts[2] in ("opt-1", "opt-2"):
        optimize = int(parts[2][-1])
    elif len(parts) != 2:
        return None
    if not parts[0] or not parts[1]:
        return None
    return Cached(pyc, os.path.join(os.path.dirname(folder), parts[0] + ".py"), parts[1], optimize)


def unproven(python: str, cached: Sequence[Cached], timeout: float = 600) -> dict[str, str]:
    """The byte-code files the target interpreter cannot prove, with why (see the module
    docstring). If the interpreter cannot run the check, every file is unproven."""
    if not cached:
        return {}
    items = [[c.source, c.pyc, c.tag, c.optimize] for c in cached]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    try:
        proc = subprocess.run(
            [python, "-I", "-S", "-c", _CHECK % {"max": MAX_PYC}],
            input=json.dumps(items),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )
        answers = json.loads(proc.stdout) if proc.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError):
        answers = None
    if not isinstance(answers, list) or len(answers) != len(cached):
        why = "the target interpreter could not check it"
        return {c.pyc: why for c in cached}
    return {c.pyc: str(a) for c, a in zip(cached, answers, strict=True) if a is not None}


__all__ = ["Cached", "parse_cached", "unproven"]
