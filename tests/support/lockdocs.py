"""Sample lock documents: a small two-package lock (``foo`` 2-of-2 signed, ``bar`` hashes
only) as a model, as a parsed TOML document to mutate, and back to TOML text."""

from __future__ import annotations

import tomllib
from typing import Any

import tomli_w

from lockkeys._internal.lockmodel.io import dumps_lock
from lockkeys._internal.lockmodel.lock import (
    Lock,
    LockedFile,
    LockedPackage,
    LockSource,
    LockTool,
    PackageTool,
)

FPR_A = "A" * 40
FPR_B = "B" * 40
SHA = "0" * 64
ARMOR = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n{}\n-----END PGP PUBLIC KEY BLOCK-----\n"


def sample_lock() -> Lock:
    """A valid lock: ``foo`` 1.0 needs 2 of the signers alice and bob, ``bar`` 1.0 hashes."""
    tool = LockTool.model_validate(
        {
            "lock-version": "1",
            "inputs-digest": "sha256:" + "1" * 64,
            "requirements": ["foo>=1"],
            "sources": [LockSource(name="public", url="http://127.0.0.1:1/simple/")],
            "signers": {
                "alice": {
                    "fingerprint": FPR_A,
                    "certificate": ARMOR.format("x"),
                },
                "bob": {
                    "fingerprint": FPR_B,
                    "certificate": ARMOR.format("y"),
                },
            },
        }
    )
    wheel = LockedFile(
        filename="foo-1.0-py3-none-any.whl",
        size=10,
        hashes={"sha256": SHA},
        url="http://127.0.0.1:1/packages/foo-1.0-py3-none-any.whl",
    )
    foo = LockedPackage(
        name="foo",
        version="1.0",
        index="http://127.0.0.1:1/simple/",
        wheels=(wheel,),
        tool=PackageTool.model_validate(
            {
                "verify": "hashes+signatures",
                "signers": [FPR_A, FPR_B],
                "threshold": 2,
                "source": "public",
                "required-by": ["<root>"],
            }
        ),
    )
    bar_wheel = LockedFile(
        filename="bar-1.0-py3-none-any.whl",
        size=5,
        hashes={"sha256": SHA},
        url="http://127.0.0.1:1/packages/bar-1.0-py3-none-any.whl",
    )
    bar = LockedPackage(
        name="bar",
        version="1.0",
        index="http://127.0.0.1:1/simple/",
        wheels=(bar_wheel,),
        tool=PackageTool(verify="hashes", source="public"),
    )
    return Lock(tool=tool, packages=(foo, bar))


def sample_doc() -> dict[str, Any]:
    """:func:`sample_lock` as the TOML document ``pylock.toml`` holds, ready to edit."""
    return tomllib.loads(dumps_lock(sample_lock()))


def dump_doc(doc: dict[str, Any]) -> str:
    """A (possibly edited) lock document as TOML text."""
    return tomli_w.dumps(doc)
