"""Keys live and die (issue 10), end to end through `lockkeys lock` / `verify` / `install`.

Every key here is made by GnuPG; every signature over a wheel is made by gpg.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from gnupg import GnuPG

from lockkeys.cli import main
from tests.support.venvs import installed, make_venv

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("gpg") is None, reason="GnuPG is not installed"),
]

WHEEL = "util-2.1-py3-none-any.whl"


@dataclass
class Project:
    root: Path
    gpg: GnuPG
    fprs: dict[str, str] = field(default_factory=dict)
    run: Callable[..., tuple[int, str, str]] | None = None

    @property
    def wheel(self) -> Path:
        return self.root / "public" / WHEEL

    def key(
        self, name: str, *, usage: str = "sign,cert", expire: str = "0", at: str | None = None
    ) -> str:
        fpr = self.gpg.gen_key(
            f"{name} (TEST ONLY) <{name}@test.invalid>", usage=usage, expire=expire, at=at
        )
        self.fprs[name] = fpr
        self.export(name)
        return fpr

    def export(self, name: str, gpg: GnuPG | None = None) -> None:
        (self.root / "keys").mkdir(exist_ok=True)
        (self.root / "keys" / f"{name}.asc").write_bytes((gpg or self.gpg).export(self.fprs[name]))

    def sign(
        self, *names: str, gpg: GnuPG | None = None, key: str | None = None, at: str | None = None
    ) -> None:
        """Add signatures by ``names`` (or by ``key`` in ``gpg``) to the signature store."""
        store = self.root / "signatures"
        store.mkdir(exist_ok=True)
        target = store / f"{WHEEL}.asc"
        parts = [target.read_bytes()] if target.exists() else []
        for fpr in [self.fprs[n] for n in names] + ([key] if key else []):
            parts.append((gpg or self.gpg).sign(fpr, self.wheel, at=at).read_bytes())
        target.write_bytes(b"".join(parts))

    def configure(self, signers: list[str], threshold: int, extra: str = "") -> None:
        table = "\n".join(f'{n} = "keys/{n}.asc"' for n in signers)
        listed = ", ".join(f'"{n}"' for n in signers)
        (self.root / "lockkeys.toml").write_text(
            'requirements = ["requirements.in"]\n'
            'signature-stores = ["signatures"]\n'
            f"{extra}\n"
            '[[sources]]\nname = "public"\npath = "public"\n\n'
            f"[signers]\n{table}\n\n"
            f"[packages.util]\nsigners = [{listed}]\nthreshold = {threshold}\n"
            'verify = "signatures"\n'
        )

    def cli(self, *args: str | Path) -> tuple[int, str, str]:
        assert self.run is not None
        return self.run("--config", self.root / "lockkeys.toml", *args)


@pytest.fixture
def project(
    tmp_path: Path, fixture_data: Path, capsys: pytest.CaptureFixture[str]
) -> Iterator[Project]:
    root = tmp_path / "app"
    root.mkdir()
    (root / "public").mkdir()
    for wheel in (fixture_data / "public").glob("util-*.whl"):
        shutil.copy(wheel, root / "public" / wheel.name)
    (root / "requirements.in").write_text("util==2.1\n")

    def run(*args: str | Path) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    with GnuPG() as g:
        yield Project(root=root, gpg=g, run=run)


def test_lost_key_2_of_3_keeps_installing_and_the_new_key_is_a_replacement(
    project: Project,
) -> None:
    """carol loses her key: alice and bob still make 2 of 3. carol's new key, re-locked, shows
    in `diff` as a replacement: weakening until reviewed."""
    for name in ("alice", "bob", "carol"):
        project.key(name)
    project.sign("alice", "bob")
    project.configure(["alice", "bob", "carol"], threshold=2)
    code, _out, err = project.cli("lock")
    assert code == 0, err
    lock = project.root / "pylock.toml"
    shutil.copy(lock, project.root / "before.toml")
    python = make_venv(project.root / "venv")
    code, out, err = project.cli("install", "--python", python, "--json")
    assert code == 0, err
    (pkg,) = json.loads(out)["packages"]
    assert sorted(s["name"] for s in pkg["signers"]) == ["alice", "bob"]
    assert ["util", "2.1"] in installed(python)

    # carol's new key, under the same name; the old secret key is gone.
    project.gpg.run(
        "--batch", "--yes", "--delete-secret-and-public-key", project.fprs["carol"] + "!"
    )
    old_carol = project.fprs["carol"]
    project.key("carol")
    code, _out, err = project.cli("lock")
    assert code == 0, err
    code, out, _err = project.cli(
        "diff", project.root / "before.toml", lock, "--fail-on", "weakening"
    )
    assert code == 1
    line = next(line for line in out.splitlines() if " signers:" in line)
    assert line.startswith("weakening") and "util" in line
    assert old_carol in line and project.fprs["carol"] in line and "signer replaced" in line
    code, out, err = project.cli("install", "--python", python)
    assert code == 0, err


def test_signing_subkey_on_a_second_machine_counts_for_its_primary_once(
    project: Project,
) -> None:
    """The primary key stays offline (certify only); a signing subkey lives in a second
    GnuPG home. Its signatures count for the primary, once, even twice over."""
    primary = project.key("corp", usage="cert")
    subkey = project.gpg.add_subkey(primary, usage="sign")
    project.export("corp")
    project.key("bob")
    secret_subkeys = project.gpg.run("--armor", "--export-secret-subkeys", subkey + "!").stdout
    with GnuPG() as laptop:
        laptop.import_(secret_subkeys.encode())
        listing = laptop.run("--with-colons", "--list-secret-keys").stdout
        assert "sec#" in listing or ":#:" in listing or "\nsec:" in listing  # primary is a stub
        project.sign(gpg=laptop, key=subkey)
        second = laptop.sign(subkey, project.wheel, digest="SHA512")  # a second signature
        store = project.root / "signatures" / f"{WHEEL}.asc"
        store.write_bytes(store.read_bytes() + second.read_bytes())
    project.configure(["corp", "bob"], threshold=2)
    code, _out, err = project.cli("lock")
    assert code == 1  # one signer (corp, twice) is not two
    assert "1 of 2 required signers" in err, err
    project.configure(["corp", "bob"], threshold=1)
    code, _out, err = project.cli("lock")
    assert code == 0, err
    code, out, err = project.cli("verify", "--json")
    assert code == 0, err
    (pkg,) = json.loads(out)["packages"]
    (counted,) = pkg["signers"]
    assert counted["fingerprint"] == primary and counted["signing_key"] == subkey


def test_expiry_warning_in_verify_and_key_show(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.key("alice", expire="10d")
    project.sign("alice")
    project.configure(["alice"], threshold=1)
    code, _out, err = project.cli("lock")
    assert code == 0, err
    code, _out, err = project.cli("verify")
    assert code == 0, err
    assert "warning: certificate alice" in err
    assert "(in 9 days)" in err or "(in 10 days)" in err
    monkeypatch.setenv("LOCKKEYS_EXPIRY_WARNING_DAYS", "5")
    code, _out, err = project.cli("verify")
    assert code == 0 and "warning" not in err
    code, _out, err = project.cli("lock", "--check")
    assert code == 0 and "warning" not in err  # 5 days from the environment
    monkeypatch.delenv("LOCKKEYS_EXPIRY_WARNING_DAYS")
    code, _out, err = project.cli("lock", "--check")
    assert code == 0 and "warning: certificate alice" in err, err
    project.configure(["alice"], threshold=1, extra="expiry-warning-days = 3")
    code, _out, err = project.cli("lock", "--check")
    assert "warning" not in err, err
    code, out, _err = project.cli("key", "show", project.root / "keys" / "alice.asc")
    assert code == 0
    assert "  expires      20" in out and "days)" in out
