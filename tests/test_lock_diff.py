"""`lockkeys diff OLD NEW`: every trust change classified, one test per weakening kind.

Locks are written as PEP 751 text (contract section 3) with certificates GnuPG made, so the
tests do not depend on how the lock model is built in code.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pysequoia
import pytest
from gnupg import GnuPG

from lockkeys._internal.cli.app import main
from lockkeys._internal.locktrust.lockdiff import Kind, diff_specs

pytestmark = pytest.mark.skipif(shutil.which("gpg") is None, reason="GnuPG is not installed")

SHA = "ab" * 32
OTHER_SHA = "cd" * 32
URL = "http://127.0.0.1:8081/simple/"


@pytest.fixture(scope="module")
def keys() -> Iterator[dict[str, Any]]:
    """Three GnuPG-made signers, and a fourth key that replaces alice's (same name)."""
    with GnuPG() as g:
        fprs = {
            name: g.gen_key(f"{name} (TEST ONLY) <{name}@test.invalid>", expire="2y")
            for name in ("alice", "bob", "carol", "alice2")
        }
        certs = {name: g.export(fpr).decode() for name, fpr in fprs.items()}
        g.set_expire(fprs["alice"], "5y")
        extended = g.export(fprs["alice"]).decode()
        yield {"fprs": fprs, "certs": certs, "alice-extended": extended}


def lock_text(keys: dict[str, Any], **change: Any) -> str:
    """A lock for `broken`, pinned 2-of-3 (alice, bob, carol); ``change`` edits one thing."""
    fprs: dict[str, str] = keys["fprs"]
    signer_names = change.get("signer_names", ["alice", "bob", "carol"])
    table_names = change.get("table_names", signer_names)
    certs = dict(keys["certs"])
    certs.update(change.get("certs", {}))
    version = change.get("version", "1.0+corp.1")
    verify = change.get("verify", "hashes+signatures")
    fname = f"broken-{version}-py3-none-any.whl"
    wheel = (
        f'{{ name = "{fname}", url = "http://127.0.0.1:8081/packages/{fname}", size = 10, '
        f'hashes = {{ sha256 = "{change.get("sha", SHA)}" }} }}'
    )
    lines = [
        'lock-version = "1.0"',
        'created-by = "lockkeys"',
        "",
        "[[packages]]",
        'name = "broken"',
        f'version = "{version}"',
        f'index = "{URL}"',
        f"wheels = [{wheel}]",
        "",
        "[packages.tool.lockkeys]",
        f'verify = "{verify}"',
    ]
    if verify in ("signatures", "hashes+signatures"):
        pinned = sorted(fprs[n] for n in signer_names)
        lines.append("signers = [" + ", ".join(f'"{f}"' for f in pinned) + "]")
        lines.append(f"threshold = {change.get('threshold', 2)}")
    lines.append(f'source = "{change.get("source", "private")}"')
    if "substitutes" in change:
        lines.append(f'substitutes = "{change["substitutes"]}"')
    if change.get("override"):
        lines.append("override = true")
    mirrors = change.get("mirrors")
    private = f'{{ name = "private", url = "{URL}"'
    if mirrors:
        private += ", mirrors = [" + ", ".join(f'"{m}"' for m in mirrors) + "]"
    private += " }"
    lines += [
        "",
        "[tool.lockkeys]",
        'lock-version = "1"',
        'inputs-digest = "sha256:' + "1" * 64 + '"',
        'requirements = ["broken"]',
        *(
            [f"revocations = {json.dumps(change['revocations'])}"]
            if "revocations" in change
            else []
        ),
        f'sources = [{private}, {{ name = "public", url = "https://pypi.org/simple/" }}]',
    ]
    for name in sorted(table_names):
        lines += [
            "",
            f"[tool.lockkeys.signers.{name}]",
            f'fingerprint = "{fprs[name]}"',
            f'certificate = """\n{certs[name].strip()}\n"""',
        ]
    return "\n".join(lines) + "\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def run_diff(tmp_path: Path, old: str, new: str, *extra: str) -> int:
    a = write(tmp_path, "old.toml", old)
    b = write(tmp_path, "new.toml", new)
    return main(["diff", str(a), str(b), *extra])


WEAKENING = {
    "threshold lowered": ({"threshold": 1}, "threshold"),
    "signer removed": ({"signer_names": ["bob", "carol"]}, "signers"),
    "signer added": ({"threshold": 2, "signer_names": ["alice", "bob", "carol"]}, "signers"),
    "policy to none": ({"verify": "none"}, "verify"),
    "hash pins dropped": ({"verify": "signatures"}, "verify"),
    "hash pin changed": ({"sha": OTHER_SHA}, "files.broken-1.0+corp.1-py3-none-any.whl"),
    "source changed": ({"source": "public"}, "source"),
    "source widened": ({"mirrors": ["http://mirror.invalid/simple/"]}, "sources.private.mirrors"),
    "new substitute": ({"substitutes": "broken>=1.0,<2"}, "substitutes"),
    "new override": ({"override": True}, "override"),
    "revocation source removed": ({}, "revocations"),
}


@pytest.mark.parametrize("case", sorted(WEAKENING), ids=lambda c: c.replace(" ", "-"))
def test_each_weakening_kind_exits_1_and_names_the_field(
    keys: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    change, field = WEAKENING[case]
    old = lock_text(keys, signer_names=["alice", "bob"]) if case == "signer added" else None
    if case == "revocation source removed":
        old = lock_text(keys, revocations=["revocations"])
    old = old or lock_text(keys)
    new = lock_text(keys, **change)
    assert run_diff(tmp_path, old, new, "--fail-on", "weakening") == 1
    text = capsys.readouterr().out
    lines = [line for line in text.splitlines() if line.startswith("weakening")]
    assert any(field in line for line in lines), text
    package = "*" if case in ("source widened", "revocation source removed") else "broken"
    assert all(line.split()[1] == package for line in lines), text
    # Without --fail-on the same diff is only a report.
    assert run_diff(tmp_path, old, new) == 0


def test_replacement_names_old_and_new_fingerprint(
    keys: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """alice's primary key changed (lost key, new key under the same name): weakening."""
    fprs = {**keys["fprs"], "alice": keys["fprs"]["alice2"]}
    certs = {**keys["certs"], "alice": keys["certs"]["alice2"]}
    new = lock_text({**keys, "fprs": fprs, "certs": certs})
    assert run_diff(tmp_path, lock_text(keys), new, "--fail-on", "weakening", "--json") == 1
    doc = json.loads(capsys.readouterr().out)
    replaced = [c for c in doc["changes"] if c["field"] == "signers"]
    assert len(replaced) == 1, doc
    (change,) = replaced
    assert change["kind"] == "weakening" and change["package"] == "broken"
    assert keys["fprs"]["alice"] in change["old"] and keys["fprs"]["alice2"] in change["new"]
    assert "signer replaced" in change["what"]


def test_version_bump_exits_0(
    keys: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = lock_text(keys, version="1.0+corp.2")
    assert run_diff(tmp_path, lock_text(keys), new, "--fail-on", "weakening") == 0
    out = capsys.readouterr().out
    assert "broken  version: 1.0+corp.1 -> 1.0+corp.2" in out
    assert "weakening" not in out


def test_pure_certificate_merge_is_neutral_and_exits_0(
    keys: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """alice extended her expiry (gpg --quick-set-expire); the lock embeds the merge."""
    merged = pysequoia.Cert.from_bytes(keys["certs"]["alice"].encode()).merge(
        pysequoia.Cert.from_bytes(keys["alice-extended"].encode())
    )
    new = lock_text(keys, certs={"alice": str(merged)})
    assert run_diff(tmp_path, lock_text(keys), new, "--fail-on", "weakening", "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["counts"] == {"weakening": 0, "strengthening": 0, "neutral": 1}, doc
    (change,) = doc["changes"]
    assert change["package"] == "broken" and change["field"] == "signers.alice.certificate"
    assert "certificate merged" in change["what"] and "expiry" in change["what"]


def test_revocation_added_is_strengthening_and_removing_it_weakens(
    keys: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with GnuPG() as g:
        fpr = g.gen_key("dave (TEST ONLY) <dave@test.invalid>")
        plain = g.export(fpr).decode()
        g.revoke_key(fpr, 1)
        revoked = g.export(fpr).decode()
    base = {**keys, "fprs": {**keys["fprs"], "bob": fpr}}
    old = lock_text(base, certs={"bob": plain})
    new = lock_text(base, certs={"bob": revoked})
    assert run_diff(tmp_path, old, new, "--fail-on", "weakening") == 0
    out = capsys.readouterr().out
    assert "strengthening" in out and "revocation added" in out, out
    assert run_diff(tmp_path, new, old, "--fail-on", "weakening") == 1
    out = capsys.readouterr().out
    assert "certificate lost components: revocation of primary key" in out, out


def test_git_ref_in_a_temporary_repository(
    keys: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    repo.mkdir()
    env = ["-c", "user.name=t", "-c", "user.email=t@test.invalid", "-c", "commit.gpgsign=false"]

    def git(*args: str) -> None:
        subprocess.run(["git", *env, *args], cwd=repo, check=True, capture_output=True)

    git("init", "-q")
    lock = repo / "pylock.toml"
    lock.write_text(lock_text(keys))
    git("add", "pylock.toml")
    git("commit", "-q", "-m", "lock")
    lock.write_text(lock_text(keys, threshold=1))
    monkeypatch.chdir(repo)
    assert main(["diff", "git:HEAD", "pylock.toml", "--fail-on", "weakening"]) == 1
    out = capsys.readouterr().out
    assert "weakening     broken  threshold: 2 -> 1  (threshold lowered)" in out, out
    # Both sides from git, the path given explicitly; and the library entry point.
    git("commit", "-q", "-am", "lower")
    assert main(["diff", "git:HEAD~1:pylock.toml", "git:HEAD:pylock.toml"]) == 0
    result = diff_specs("git:HEAD~1", "git:HEAD", repo / "pylock.toml")
    assert [c.kind for c in result.changes] == [Kind.WEAKENING]
    assert main(["diff", "git:nope", "pylock.toml"]) == 2


def test_rotation_with_transition_statement_is_neutral(
    keys: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`key generate --replaces OLD.secret.asc`: GnuPG sees the old key's certification on the
    new key, and diff calls the replacement a rotation (neutral), exit 0."""
    out = tmp_path / "keys"
    assert main(["key", "generate", "alice", "--out-dir", str(out)]) == 0
    old_fpr = capsys.readouterr().out.strip()
    code = main(
        [
            "key",
            "generate",
            "alice2",
            "--out-dir",
            str(out),
            "--replaces",
            str(out / "alice.secret.asc"),
        ]
    )
    assert code == 0
    captured = capsys.readouterr()
    new_fpr = captured.out.strip()
    assert f"certification by the old key {old_fpr}" in captured.err
    with GnuPG() as g:
        g.import_(out / "alice.asc")
        g.import_(out / "alice2.asc")
        listing = g.run("--with-colons", "--check-sigs", new_fpr).stdout
    good = [line.split(":") for line in listing.splitlines() if line.startswith("sig:!:")]
    assert any(old_fpr.endswith(fields[4]) for fields in good), listing

    old_keys = {
        **keys,
        "fprs": {**keys["fprs"], "alice": old_fpr},
        "certs": {**keys["certs"], "alice": (out / "alice.asc").read_text()},
    }
    new_keys = {
        **keys,
        "fprs": {**keys["fprs"], "alice": new_fpr},
        "certs": {**keys["certs"], "alice": (out / "alice2.asc").read_text()},
    }
    old, new = lock_text(old_keys), lock_text(new_keys)
    assert run_diff(tmp_path, old, new, "--fail-on", "weakening", "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    (change,) = doc["changes"]
    assert change["kind"] == "neutral" and change["field"] == "signers"
    assert change["what"].startswith(
        f"rotation: the new key is certified by the old one (certification by {old_fpr}"
    )
    # Without the statement (the same new key, its certification stripped) it is a replacement.
    from lockkeys._internal.trust.certs import parse_certificate

    stripped = parse_certificate((out / "alice2.asc").read_bytes(), "alice2.asc").armored()
    bare = lock_text({**new_keys, "certs": {**new_keys["certs"], "alice": stripped}})
    assert run_diff(tmp_path, old, bare, "--fail-on", "weakening") == 1
    assert "signer replaced" in capsys.readouterr().out


@pytest.mark.parametrize("algo", ["ed25519", "rsa2048"])
def test_gnupg_made_transition_statement_is_a_rotation(
    keys: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], algo: str
) -> None:
    """The old key certifies the new one with `gpg --quick-sign-key`: a rotation too; a
    certification by an unrelated key is not."""
    with GnuPG() as g:
        old = g.gen_key("old alice (TEST ONLY)", algo=algo)
        new = g.gen_key("new alice (TEST ONLY)")
        stranger = g.gen_key("stranger (TEST ONLY)")
        old_cert = g.export(old).decode()
        g.run("--local-user", stranger + "!", "--quick-sign-key", new)
        by_stranger = g.export(new).decode()
        g.run("--local-user", old + "!", "--quick-sign-key", new)
        by_old = g.export(new).decode()
    base = {
        **keys,
        "fprs": {**keys["fprs"], "alice": old},
        "certs": {**keys["certs"], "alice": old_cert},
    }
    after = {**keys, "fprs": {**keys["fprs"], "alice": new}}
    old_lock = lock_text(base)
    assert (
        run_diff(
            tmp_path,
            old_lock,
            lock_text({**after, "certs": {**keys["certs"], "alice": by_stranger}}),
            "--fail-on",
            "weakening",
        )
        == 1
    )
    assert "signer replaced" in capsys.readouterr().out
    assert (
        run_diff(
            tmp_path,
            old_lock,
            lock_text({**after, "certs": {**keys["certs"], "alice": by_old}}),
            "--fail-on",
            "weakening",
        )
        == 0
    )
    assert "neutral       broken  signers" in capsys.readouterr().out


@pytest.mark.skipif(shutil.which("sq") is None, reason="Sequoia's sq is not installed")
def test_sequoia_made_transition_statement_is_a_rotation(
    keys: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`sq certify OLD.secret NEW.cert UID` (Sequoia) makes the statement; and sq reads the
    one `key generate --replaces` makes as a certification by the old key."""
    out = tmp_path / "keys"
    assert main(["key", "generate", "old", "--out-dir", str(out)]) == 0
    old_fpr = capsys.readouterr().out.strip()
    assert main(["key", "generate", "new", "--out-dir", str(out)]) == 0
    new_fpr = capsys.readouterr().out.strip()
    certified = subprocess.run(
        [
            "sq",
            "certify",
            str(out / "old.secret.asc"),
            str(out / "new.asc"),
            "new (lockkeys signing key)",
        ],
        capture_output=True,
        check=True,
    ).stdout.decode()
    base = {
        **keys,
        "fprs": {**keys["fprs"], "alice": old_fpr},
        "certs": {**keys["certs"], "alice": (out / "old.asc").read_text()},
    }
    after = {
        **keys,
        "fprs": {**keys["fprs"], "alice": new_fpr},
        "certs": {**keys["certs"], "alice": certified},
    }
    assert run_diff(tmp_path, lock_text(base), lock_text(after), "--fail-on", "weakening") == 0
    assert "rotation" in capsys.readouterr().out

    assert (
        main(
            [
                "key",
                "generate",
                "newer",
                "--out-dir",
                str(out),
                "--replaces",
                str(out / "old.secret.asc"),
            ]
        )
        == 0
    )
    capsys.readouterr()
    inspected = subprocess.run(
        ["sq", "inspect", "--certifications", str(out / "newer.asc")],
        capture_output=True,
        check=True,
    ).stdout.decode()
    assert f"Alleged certifier: {old_fpr}" in inspected
