"""Issue 19, rule 2: the review gates compare every field of the lock.

A full lock is made with the real `lockkeys lock` (uv, a universal lock) from two pypiserver
indexes on 127.0.0.1: forks (two versions of ``lib``, each under its own marker), a signed
substitute (``broken 1.0+corp.1``, signatures only), platform wheels (``plat``), a 2-of-2
package (``util``), a source whose configuration names credentials, a signature store,
revocations, embedded signer certificates and environments. Then every leaf of the parsed
TOML (every table, every array entry) is changed once, every key and array entry is deleted
(a required one must be refused), and an unknown key is added to every table; each mutated
lock must be reported by `lockkeys diff` (as a change, or refused as unreadable) and make
`lock --check` fail (stale, or refused). The walk
is generic: a field added to the lock later, compared by neither gate, makes this test fail.
"""

from __future__ import annotations

import copy
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from lockkeys._internal.locking.locker import lock as run_lock
from lockkeys._internal.lockmodel.io import parse_lock
from lockkeys._internal.locktrust.lockdiff import diff_locks
from lockkeys._internal.resolve.uv import find_uv
from lockkeys.errors import LockkeysError
from tests.support.fullscene import TOKEN_ENV, Scene, make_scene

pytestmark = pytest.mark.skipif(find_uv() is None, reason="uv is not installed")


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory, fixture_data: Path) -> Iterator[Scene]:
    """The full lock, made once; tests restore ``pylock.toml`` after mutating it."""
    monkey = pytest.MonkeyPatch()
    monkey.setenv(TOKEN_ENV, "test-only-token")
    monkey.setenv("LOCKKEYS_CACHE_DIR", str(tmp_path_factory.mktemp("mutation-cache")))
    base = tmp_path_factory.mktemp("mutation")
    try:
        yield from make_scene(base / "project", fixture_data, base / "public", base / "private")
    finally:
        monkey.undo()


def check_passes(scene: Scene, text: str) -> str | None:
    """The message of `lock --check` on ``text`` when it passes; None when it fails (stale,
    or refused with an error)."""
    scene.lock.write_text(text)
    try:
        outcome = run_lock(scene.config, check=True)
    except LockkeysError:
        return None
    finally:
        scene.lock.write_text(scene.text)
    return None if outcome.stale else outcome.message


# -- the mutations -------------------------------------------------------------------------

UNKNOWN_KEY = "x-mutation-unknown"
_CLASSES = ("0123456789", "abcdef", "ghijklmnopqrstuvwxyz", "ABCDEF", "GHIJKLMNOPQRSTUVWXYZ")
Key = str | int
Mutation = tuple[str, tuple[Key, ...]]  # ("change" | "delete" | "add", path)


def _next_char(char: str) -> str:
    for chars in _CLASSES:
        if char in chars:
            return chars[(chars.index(char) + 1) % len(chars)]
    raise AssertionError(char)


def changed(value: Any) -> Any:
    """One small change that keeps the value's type: a bool flipped, an int plus one, one
    character of a string moved to the next of its kind (a hex digit stays a hex digit), the
    last one, or the middle one in a multi-line string (inside a certificate's base64)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    assert isinstance(value, str), value
    spots = [i for i, c in enumerate(value) if c.isascii() and c.isalnum()]
    assert spots, value
    at = spots[len(spots) // 2] if "\n" in value else spots[-1]
    return value[:at] + _next_char(value[at]) + value[at + 1 :]


def mutations(node: Any, path: tuple[Key, ...] = ()) -> list[Mutation]:
    """Every leaf changed, every key and array entry deleted, an unknown key added to every
    table: walked generically, no field is named."""
    out: list[Mutation] = []
    if isinstance(node, dict):
        out.append(("add", path))
        for key, value in node.items():
            out += mutations(value, (*path, key))
            out.append(("delete", (*path, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += mutations(value, (*path, index))
            out.append(("delete", (*path, index)))
    else:
        out.append(("change", path))
    return out


def apply(doc: dict[str, Any], mutation: Mutation) -> dict[str, Any]:
    what, path = mutation
    result = copy.deepcopy(doc)
    node: Any = result
    for key in path[:-1] if what != "add" else path:
        node = node[key]
    if what == "add":
        node[UNKNOWN_KEY] = "x"
    elif what == "delete":
        del node[path[-1]]
    else:
        node[path[-1]] = changed(node[path[-1]])
    return result


def label(doc: dict[str, Any], mutation: Mutation) -> str:
    """``change packages[lib 2.0].wheels[0].size``: which leaf, readable in a failure."""
    what, path = mutation
    parts: list[str] = []
    node: Any = doc
    for key in path:
        node = node[key]
        if isinstance(key, int) and isinstance(node, dict) and "name" in node:
            parts[-1] += f"[{node['name']} {node.get('version', '')}".rstrip() + "]"
        else:
            parts.append(f"[{key}]" if isinstance(key, int) else str(key))
    return f"{what} " + (".".join(parts) or "(the top-level table)")


def diff_reports(old_text: str, new_text: str) -> str | None:
    """`lockkeys diff` (in-process): "refused" (the mutated lock is unreadable), "changed"
    (it lists a change), or None (it says nothing)."""
    try:
        old = parse_lock(old_text, "old.toml")
        new = parse_lock(new_text, "new.toml")
        result = diff_locks(
            old, new, old_doc=tomllib.loads(old_text), new_doc=tomllib.loads(new_text)
        )
    except LockkeysError:
        return "refused"
    return "changed" if result.changes else None


def signed_rebuild_leaf(doc: dict[str, Any], mutation: Mutation) -> bool:
    """A file hash or size of a `signatures`-only package: `lock --check` accepts another
    one by contract (a signed rebuild installs without re-locking); `diff` still reports it."""
    what, path = mutation
    if what != "change" or len(path) < 4 or path[0] != "packages":
        return False
    entry = doc["packages"][path[1]]
    if entry["tool"]["lockkeys"]["verify"] != "signatures":
        return False
    return path[2] in ("wheels", "sdist") and ("hashes" in path or path[-1] == "size")


def test_every_leaf_of_a_full_lock_is_seen_by_diff_and_check(scene: Scene) -> None:
    doc = tomllib.loads(scene.text)
    # The lock is what the test says it is: forks, a substitute, platform wheels, a store,
    # revocations, signers, environments, a signatures-only package.
    names = [p["name"] for p in doc["packages"]]
    assert names.count("lib") == 2 and all("marker" in p for p in doc["packages"])
    assert any(p["tool"]["lockkeys"].get("substitutes") for p in doc["packages"])
    assert {p["tool"]["lockkeys"]["verify"] for p in doc["packages"]} >= {
        "signatures",
        "hashes+signatures",
        "hashes",
    }
    assert max(len(p["wheels"]) for p in doc["packages"]) == 3
    tool = doc["tool"]["lockkeys"]
    assert tool["signature-stores"] and tool["revocations"] and len(tool["signers"]) == 3
    assert doc["environments"] and doc["requires-python"]

    # Both gates pass the lock as written (else every mutation would "fail").
    assert not diff_reports(scene.text, scene.text)
    assert check_passes(scene, scene.text) is not None

    all_mutations = mutations(doc)
    assert len(all_mutations) > 250, len(all_mutations)
    missed_diff: list[str] = []
    missed_check: list[str] = []
    seen: dict[str | None, int] = {}
    started = time.monotonic()
    for mutation in all_mutations:
        text = tomli_w.dumps(apply(doc, mutation), multiline_strings=True)
        name = label(doc, mutation)
        verdict = diff_reports(scene.text, text)
        seen[verdict] = seen.get(verdict, 0) + 1
        if verdict is None:
            missed_diff.append(name)
        if signed_rebuild_leaf(doc, mutation):
            continue
        passed = check_passes(scene, text)
        if passed is not None:
            missed_check.append(f"{name}: {passed}")
    elapsed = time.monotonic() - started
    assert not missed_diff, "diff says nothing for:\n" + "\n".join(missed_diff)
    assert not missed_check, "lock --check passes with:\n" + "\n".join(missed_check)
    # Many mutated locks are readable (a single leaf changed in a coupled field, a required
    # key deleted or an unknown key in a strict table is refused): the diff classifies them.
    assert seen.get("changed", 0) >= 100, seen
    print(f"{len(all_mutations)} mutations in {elapsed:.1f} s: {seen}")
