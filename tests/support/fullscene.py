"""The full-lock scene: a real `lockkeys lock` (uv, a universal lock) of a project that uses
every lock field, from two pypiserver indexes on 127.0.0.1.

Forks (two versions of ``lib``, each under its own marker), a signed substitute
(``broken 1.0+corp.1``, signatures only), platform wheels (``plat``), a 2-of-2 package
(``util``), a source whose configuration names credentials, a signature store, revocations,
embedded signer certificates and environments. Callers need uv (skip without it).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fixtures.wheelmaker import build_wheel
from lockkeys._internal.locking.locker import lock as run_lock
from tests.support.pypiserver import serve_index

TOKEN_ENV = "LOCKKEYS_TEST_MUTATION_TOKEN"  # the configuration names it; pypiserver ignores it
CONFIG = """\
requirements = ["requirements.in"]
resolver = "uv"
requires-python = ">=3.9"
environments = ["sys_platform == 'linux'", "sys_platform == 'win32'"]
signature-stores = ["sigs"]
revocations = ["revocations"]

[[sources]]
name = "public"
url = "{public}"
token-env = "{token_env}"

[[sources]]
name = "private"
url = "{private}"

[signers]
corp = "keys/corp.asc"
alice = "keys/alice.asc"
bob = "keys/bob.asc"

[packages.broken]
substitute = "1.0+corp.1"
source = "private"
signers = ["corp"]
verify = "signatures"
reason = "backported crash fix (TEST ONLY)"

[packages.util]
signers = ["alice", "bob"]
threshold = 2
"""


@dataclass
class Scene:
    """A locked project: its folder, its config, the lock's text."""

    root: Path
    config: Path
    lock: Path
    text: str


def make_scene(root: Path, fixture_data: Path, public: Path, private: Path) -> Iterator[Scene]:
    """Serve ``public`` and ``private`` (filled here) and lock a project in ``root``."""
    shutil.copytree(fixture_data / "public", public)
    shutil.copytree(fixture_data / "private", private)
    app_requires = ['lib<2 ; python_version < "3.11"', 'lib>=2 ; python_version >= "3.11"']
    build_wheel(public, "app", "1.0", requires_dist=app_requires)
    for version in ("1.0", "2.0"):
        build_wheel(public, "lib", version)
    shutil.copytree(fixture_data / "keys", root / "keys")
    (root / "sigs").mkdir()
    shutil.copyfile(public / "foo-1.0-py3-none-any.whl.asc", root / "sigs" / "foo.asc")
    (root / "revocations").mkdir()
    shutil.copyfile(
        fixture_data / "keys" / "carol.revocation.asc", root / "revocations" / "carol.asc"
    )
    (root / "requirements.in").write_text("foo\nplat\napp\n")
    with serve_index(public) as public_url, serve_index(private) as private_url:
        config = root / "lockkeys.toml"
        config.write_text(
            CONFIG.format(public=public_url, private=private_url, token_env=TOKEN_ENV)
        )
        outcome = run_lock(config)
        assert outcome.written, outcome.message
        lock = root / "pylock.toml"
        yield Scene(root, config, lock, lock.read_text())
