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

from lockkeys._internal.cli import main
from tests.support.venvs import installed, make_venv, snapshot

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


def _revocation(g: GnuPG, fpr: str, code: int, at: str | None = None) -> bytes:
    """`gpg --gen-revoke` with a reason (0-3); not imported, so the key can still sign."""
    out = g.home / f"rev-{fpr[-8:]}-{code}.asc"
    answers = f"y\n{code}\n\ny\n".encode()
    g.run(
        "--command-fd", "0", "--output", out, "--gen-revoke", fpr, at=at, stdin=answers, batch=False
    )
    return out.read_bytes()


def test_expiry_extended_after_signing_then_relocked_old_signatures_count(
    project: Project,
) -> None:
    """alice signed in February, extended her expiry in June (gpg --quick-set-expire: the
    export carries only the new self-signature). The project updates keys/alice.asc:
    `lock --check` names what is new, `lock` merges, the February signature still counts."""
    project.key("alice", expire="1y", at="20250101T000000")
    project.sign("alice", at="20250201T000000")
    project.configure(["alice"], threshold=1)
    code, _out, err = project.cli("lock")
    assert code == 0, err
    project.gpg.set_expire(project.fprs["alice"], "5y", at="20250601T000000")
    project.export("alice")  # the new export: one self-signature, dated June
    code, out, err = project.cli("lock", "--check")
    assert code == 1
    assert "alice" in out and "expiry 2026-01-01 -> 2030-" in out, out
    code, out, err = project.cli("lock")
    assert code == 0, err
    assert "certificate merged: expiry 2026-01-01 -> 2030-" in out, out
    code, out, err = project.cli("verify", "--json")
    assert code == 0, err
    assert json.loads(out)["packages"][0]["status"] == "verified-by-signatures"
    code, _out, _err = project.cli("lock", "--check")
    assert code == 0


def test_row_24_hard_revocation_in_revocations_folder_refuses_install_without_relock(
    project: Project,
) -> None:
    project.key("alice")
    project.sign("alice")
    (project.root / "revocations").mkdir()
    project.configure(["alice"], threshold=1, extra='revocations = ["revocations"]')
    code, _out, err = project.cli("lock")
    assert code == 0, err
    lock_bytes = (project.root / "pylock.toml").read_bytes()
    python = make_venv(project.root / "venv")
    before = snapshot(python)
    (project.root / "revocations" / "alice.rev").write_bytes(
        _revocation(project.gpg, project.fprs["alice"], 1)  # compromised
    )
    code, _out, err = project.cli("install", "--python", python)
    assert code == 1, err
    assert "revoked" in err and "key compromised" in err, err
    assert "published revocation of primary key" in err, err
    assert snapshot(python) == before
    assert (project.root / "pylock.toml").read_bytes() == lock_bytes  # no re-lock


def test_soft_revocation_keeps_older_signatures(project: Project) -> None:
    project.key("alice", at="20240101T000000")
    project.sign("alice", at="20240201T000000")
    (project.root / "revocations").mkdir()
    project.configure(["alice"], threshold=1, extra='revocations = ["revocations"]')
    assert project.cli("lock")[0] == 0
    (project.root / "revocations" / "alice.rev").write_bytes(
        _revocation(project.gpg, project.fprs["alice"], 2, at="20240301T000000")  # superseded
    )
    code, out, err = project.cli("verify", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["packages"][0]["status"] == "verified-by-signatures"
    assert any("published revocation" in n for n in report["notes"]), report
    # A signature made after the soft revocation does not count.
    (project.root / "signatures" / f"{WHEEL}.asc").unlink()
    project.sign("alice", at="20240401T000000")
    code, _out, err = project.cli("verify")
    assert code == 1 and "revoked" in err, err


def test_unreachable_revocation_source_is_exit_3_and_offline_says_so(project: Project) -> None:
    project.key("alice")
    project.sign("alice")
    project.configure(
        ["alice"], threshold=1, extra='revocations = ["http://127.0.0.1:9/revoked.asc"]'
    )
    assert project.cli("lock")[0] == 0
    code, _out, err = project.cli("verify", "--timeout", "2")
    assert code == 3, err
    assert "127.0.0.1:9" in err
    wheelhouse = project.root / "wheelhouse"
    wheelhouse.mkdir()
    shutil.copy(project.wheel, wheelhouse / WHEEL)
    shutil.copy(project.root / "signatures" / f"{WHEEL}.asc", wheelhouse / f"{WHEEL}.asc")
    code, out, err = project.cli("verify", "--wheelhouse", wheelhouse, "--json")
    assert code == 0, err
    assert (
        "revocations: http://127.0.0.1:9/revoked.asc was not read (offline)"
        in json.loads(out)["notes"]
    )


def test_rotation_relocked_shows_as_neutral(project: Project) -> None:
    code, out, err = project.cli("key", "generate", "alice", "--out-dir", project.root / "keys")
    assert code == 0, err
    project.root.joinpath("keys", "old").mkdir()
    old_fpr = out.strip()
    code, out, err = project.cli(
        "sign",
        project.wheel,
        "--key",
        project.root / "keys" / "alice.secret.asc",
        "--out-dir",
        project.root / "signatures",
    )
    assert code == 0, err
    project.configure(["alice"], threshold=1)
    assert project.cli("lock")[0] == 0, err
    shutil.copy(project.root / "pylock.toml", project.root / "before.toml")
    for suffix in (".asc", ".secret.asc", ".revocation.asc"):
        (project.root / "keys" / f"alice{suffix}").rename(
            project.root / "keys" / "old" / f"alice{suffix}"
        )
    code, out, err = project.cli(
        "key",
        "generate",
        "alice",
        "--out-dir",
        project.root / "keys",
        "--replaces",
        project.root / "keys" / "old" / "alice.secret.asc",
    )
    assert code == 0, err
    new_fpr = out.strip()
    code, out, err = project.cli(
        "sign",
        project.wheel,
        "--key",
        project.root / "keys" / "alice.secret.asc",
        "--out-dir",
        project.root / "signatures",
    )
    assert code == 0, err
    code, out, err = project.cli("lock")
    assert code == 0, err
    assert "rotation" in out, out
    code, out, err = project.cli(
        "diff", project.root / "before.toml", project.root / "pylock.toml", "--fail-on", "weakening"
    )
    assert code == 0, out + err
    line = next(line for line in out.splitlines() if " signers:" in line)
    assert line.startswith("neutral") and old_fpr in line and new_fpr in line
    assert "rotation" in line


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        ({"threshold": 1}, "packages.util.threshold"),
        ({"verify": "none", "signers": None, "threshold": None}, "packages.util.verify"),
        ({"source": "elsewhere"}, "packages.util.source"),
    ],
    ids=["threshold-lowered", "policy-to-none", "source-changed"],
)
def test_row_20_hand_weakened_lock_fails_check(
    project: Project, edit: dict[str, object], field: str
) -> None:
    """The inputs digest does not change when the lock is edited by hand: `lock --check`
    compares the lock's trust with the configuration and names the field."""
    import tomllib

    import tomli_w

    for name in ("alice", "bob"):
        project.key(name)
    project.sign("alice", "bob")
    project.configure(["alice", "bob"], threshold=2)
    assert project.cli("lock")[0] == 0
    assert project.cli("lock", "--check")[0] == 0
    lock = project.root / "pylock.toml"
    doc = tomllib.loads(lock.read_text())
    table = doc["packages"][0]["tool"]["lockkeys"]
    for key, value in edit.items():
        if value is None:
            del table[key]
        else:
            table[key] = value
    if edit.get("source"):
        doc["tool"]["lockkeys"]["sources"].append({"name": "elsewhere", "url": "http://x.invalid/"})
    lock.write_text(tomli_w.dumps(doc))
    code, out, _err = project.cli("lock", "--check")
    assert code == 1, out + _err
    assert "the lock's trust differs from the configuration" in out and field in out, out
