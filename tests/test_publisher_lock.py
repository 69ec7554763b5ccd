"""Issue 16, lock-time slice: `publishers = "record"` from a folder source, end to end.

The real abi3info wheel and sdist (fixtures/pep740: published by GitHub `woodruffw/abi3info`
`release.yml`, no runtime dependencies) sit in a folder source with their PEP 740 provenance
beside them as ``FILE.provenance``; a real resolver (pip-tools, uv) locks them with no network.
The lock records the verified identity in the standard `[[packages.attestation-identities]]`
and pins the Sigstore trust root by digest; a provenance of another file is refused, naming the
file; `ignore` records nothing; `diff` and `lock --check` see the fields.
"""

from __future__ import annotations

import json
import shutil
import tomllib
from collections.abc import Callable
from copy import deepcopy
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from packaging.pylock import Pylock

from lockkeys._internal.lockmodel.io import parse_lock, read_lock
from lockkeys._internal.locktrust.lockdiff import diff_locks
from lockkeys._internal.publishers.attestation import trust_root_digest
from lockkeys._internal.publishers.record import production_trust_root
from lockkeys._internal.resolve.uv import find_uv
from lockkeys.errors import LockkeysError
from tests.support.cli import Cli

pytestmark = pytest.mark.slow

WHEEL = "abi3info-2024.10.8-py3-none-any.whl"
SDIST = "abi3info-2024.10.8.tar.gz"
IDENTITY = {"kind": "GitHub", "repository": "woodruffw/abi3info", "workflow": "release.yml"}
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "pep740"
PRODUCTION_ROOT = FIXTURES / "sigstore-production.trusted_root.json"


def make_project(base: Path, *, resolver: str = "pip-tools", publishers: str | None = None) -> Path:
    """A project locking abi3info from a folder source holding its files and provenance."""
    wheels = base / "wheels"
    wheels.mkdir(parents=True)
    for name in (WHEEL, SDIST):
        shutil.copy(FIXTURES / name, wheels / name)
        shutil.copy(FIXTURES / f"{name}.provenance", wheels / f"{name}.provenance")
    (base / "requirements.in").write_text("abi3info==2024.10.8\n")
    default = f'[default]\npublishers = "{publishers}"\n' if publishers else ""
    config = base / "lockkeys.toml"
    config.write_text(
        f'requirements = ["requirements.in"]\nresolver = "{resolver}"\n'
        '[[sources]]\nname = "wheels"\npath = "wheels"\n' + default
    )
    return config


def lock_doc(config: Path) -> dict[str, object]:
    return tomllib.loads((config.parent / "pylock.toml").read_text())


RESOLVERS = [
    "pip-tools",
    pytest.param("uv", marks=pytest.mark.skipif(find_uv() is None, reason="uv is not installed")),
]


@pytest.mark.parametrize("resolver", RESOLVERS)
def test_lock_records_the_verified_identity(tmp_path: Path, cli: Cli, resolver: str) -> None:
    config = make_project(tmp_path, resolver=resolver)
    code, out, err = cli("--config", config, "lock")
    assert code == 0, err
    lock = read_lock(config.parent / "pylock.toml")
    (pkg,) = lock.packages
    assert [dict(i) for i in pkg.attestation_identities] == [IDENTITY]
    # The root is the production root shipped with sigstore-python (the fixture's copy).
    assert production_trust_root() == PRODUCTION_ROOT.read_bytes()
    digest = "sha256:" + trust_root_digest(PRODUCTION_ROOT.read_bytes())
    assert lock.tool.sigstore_trust_root == digest
    # The standard field, valid for packaging.pylock.
    doc = lock_doc(config)
    pylock = Pylock.from_dict(doc)
    assert [dict(i) for i in pylock.packages[0].attestation_identities or ()] == [IDENTITY]
    # Deterministic: a re-lock writes the same bytes; the lock is up to date.
    code, out, err = cli("--config", config, "lock")
    assert code == 0 and "unchanged" in out, (out, err)
    code, out, err = cli("--config", config, "lock", "--check")
    assert code == 0, (out, err)
    # `why` shows it.
    code, out, err = cli("--config", config, "why", "abi3info")
    assert code == 0, err
    assert (
        "publisher identities (verified at lock time): GitHub woodruffw/abi3info release.yml" in out
    )
    code, out, err = cli("--config", config, "why", "abi3info", "--json")
    assert code == 0, err
    assert json.loads(out)["attestation-identities"] == [IDENTITY]


def test_a_provenance_of_another_file_is_refused(tmp_path: Path, cli: Cli) -> None:
    config = make_project(tmp_path)
    wheels = tmp_path / "wheels"
    shutil.copy(wheels / f"{SDIST}.provenance", wheels / f"{WHEEL}.provenance")
    code, out, err = cli("--config", config, "lock")
    assert code == 1, (out, err)
    assert WHEEL in err and "another file" in err, err
    assert not (tmp_path / "pylock.toml").exists()


def test_a_lone_attestation_is_verified_from_its_certificate(tmp_path: Path, cli: Cli) -> None:
    """FILE.publish.attestation names no publisher: the certificate's claim is verified."""
    config = make_project(tmp_path)
    wheels = tmp_path / "wheels"
    (wheels / f"{SDIST}.provenance").unlink()
    provenance = json.loads((FIXTURES / f"{SDIST}.provenance").read_text())
    lone = provenance["attestation_bundles"][0]["attestations"][0]
    (wheels / f"{SDIST}.publish.attestation").write_text(json.dumps(lone))
    code, _out, err = cli("--config", config, "lock")
    assert code == 0, err
    (pkg,) = read_lock(tmp_path / "pylock.toml").packages
    assert [dict(i) for i in pkg.attestation_identities] == [IDENTITY]


def test_ignore_records_none(tmp_path: Path, cli: Cli) -> None:
    config = make_project(tmp_path, publishers="ignore")
    code, _out, err = cli("--config", config, "lock")
    assert code == 0, err
    doc = lock_doc(config)
    assert "attestation-identities" not in doc["packages"][0]  # type: ignore[index]
    assert "sigstore-trust-root" not in doc["tool"]["lockkeys"]  # type: ignore[index]


def test_require_recorded_is_refused_as_not_supported_yet(tmp_path: Path, cli: Cli) -> None:
    config = make_project(tmp_path, publishers="require-recorded")
    code, out, err = cli("--config", config, "lock")
    assert code == 2, (out, err)
    assert "default.publishers" in err and "not supported yet" in err, err


def test_diff_and_check_see_the_identities(tmp_path: Path, cli: Cli) -> None:
    config = make_project(tmp_path)
    code, out, err = cli("--config", config, "lock")
    assert code == 0, err
    lock = tmp_path / "pylock.toml"
    recorded = lock.read_text()
    without = tmp_path / "without.toml"
    ignore_config = make_project(tmp_path / "ignored", publishers="ignore")
    code, out, err = cli("--config", ignore_config, "lock")
    assert code == 0, err
    shutil.copy(ignore_config.parent / "pylock.toml", without)
    # Removed: a weakening; added: not one.
    code, out, err = cli("diff", lock, without, "--fail-on", "weakening")
    assert code == 1, (out, err)
    assert "publisher identity removed" in out, out
    code, out, err = cli("diff", without, lock, "--fail-on", "weakening")
    assert code == 0, (out, err)
    assert "publisher identity added" in out, out
    # Changed by hand: diff says weakening and `lock --check` fails.
    edited = tmp_path / "edited.toml"
    edited.write_text(recorded.replace('"woodruffw/abi3info"', '"woodruffw/other"'))
    assert edited.read_text() != recorded
    code, out, err = cli("diff", lock, edited, "--fail-on", "weakening")
    assert code == 1 and "publisher identity removed" in out, out
    lock.write_text(edited.read_text())
    code, out, err = cli("--config", config, "lock", "--check")
    assert code != 0, (out, err)
    assert "attestation-identities" in out + err, (out, err)
    # A changed trust-root digest: shown as a weakening, and stale for --check.
    other_root = "sha256:" + "0" * 64
    digest = "sha256:" + trust_root_digest(PRODUCTION_ROOT.read_bytes())
    rooted = tmp_path / "rooted.toml"
    rooted.write_text(recorded.replace(digest, other_root))
    lock.write_text(recorded)
    code, out, err = cli("diff", lock, rooted, "--fail-on", "weakening")
    assert code == 1 and "Sigstore trust root changed" in out, out
    lock.write_text(rooted.read_text())
    code, out, err = cli("--config", config, "lock", "--check")
    assert code != 0 and "sigstore-trust-root" in out + err, (out, err)


def _field_mutations(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every leaf of the new fields changed and deleted, an unknown key added to every
    identity table, every identity deleted: (label, mutated document)."""
    out: list[tuple[str, dict[str, Any]]] = []

    def mutated(label: str, edit: Callable[[dict[str, Any]], None]) -> None:
        copy = deepcopy(doc)
        edit(copy)
        out.append((label, copy))

    def ids(d: dict[str, Any]) -> list[dict[str, str]]:
        return d["packages"][0]["attestation-identities"]  # type: ignore[no-any-return]

    for i, identity in enumerate(ids(doc)):
        for key in identity:
            mutated(
                f"change [{i}].{key}",
                lambda d, i=i, k=key: ids(d)[i].update({k: ids(d)[i][k] + "x"}),
            )
            mutated(f"delete [{i}].{key}", lambda d, i=i, k=key: ids(d)[i].pop(k))
        mutated(f"add a key to [{i}]", lambda d, i=i: ids(d)[i].update({"x-unknown": "x"}))
        mutated(f"delete [{i}]", lambda d, i=i: ids(d).pop(i))
    mutated(
        "delete attestation-identities", lambda d: d["packages"][0].pop("attestation-identities")
    )
    tool = "sigstore-trust-root"
    flip = {"0": "1", "1": "0"}
    mutated(
        f"change {tool}",
        lambda d: d["tool"]["lockkeys"].update(
            {
                tool: d["tool"]["lockkeys"][tool][:-1]
                + flip.get(d["tool"]["lockkeys"][tool][-1], "0")
            }
        ),
    )
    mutated(f"delete {tool}", lambda d: d["tool"]["lockkeys"].pop(tool))
    return out


def _diff_sees(old_text: str, new_text: str) -> bool:
    """`lockkeys diff` (in-process) lists a change, or refuses the mutated lock."""
    try:
        result = diff_locks(
            parse_lock(old_text, "old.toml"),
            parse_lock(new_text, "new.toml"),
            old_doc=tomllib.loads(old_text),
            new_doc=tomllib.loads(new_text),
        )
    except LockkeysError:
        return True
    return bool(result.changes)


def test_every_leaf_of_the_new_fields_is_seen_by_diff_and_check(tmp_path: Path, cli: Cli) -> None:
    """Issue 19, rule 2 for these fields (test_lock_mutation's full scene has no
    attestations): each mutation is reported by `diff` and makes `lock --check` fail."""
    config = make_project(tmp_path)
    code, _out, err = cli("--config", config, "lock")
    assert code == 0, err
    lock = tmp_path / "pylock.toml"
    text = lock.read_text()
    wanted = _field_mutations(tomllib.loads(text))
    assert len(wanted) == 11, [label for label, _ in wanted]
    missed: list[str] = []
    for label, doc in wanted:
        mutated = tomli_w.dumps(doc, multiline_strings=True)
        if not _diff_sees(text, mutated):
            missed.append(f"diff: {label}")
        lock.write_text(mutated)
        try:
            code, out, err = cli("--config", config, "lock", "--check")
        finally:
            lock.write_text(text)
        if code == 0:
            missed.append(f"check: {label}: {out}")
    assert not missed, "\n".join(missed)
