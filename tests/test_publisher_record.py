"""Issue 16, lock-time slice: what `publishers = "record"` reads beside a folder source's files,
on the real abi3info provenance (fixtures/pep740), offline; and the configuration key."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path

import pytest

from lockkeys._internal.config.loading import load_config
from lockkeys._internal.publishers.identity import PublisherIdentity
from lockkeys._internal.publishers.record import (
    FileIdentities,
    file_identities,
    production_trust_root,
    release_identities,
)
from lockkeys.errors import InputError, VerificationError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "pep740"
WHEEL = "abi3info-2024.10.8-py3-none-any.whl"
ABI3INFO = PublisherIdentity("GitHub", "woodruffw/abi3info", "release.yml")


def wheel_with(tmp_path: Path, edit: dict[str, object] | None = None) -> tuple[Path, str]:
    """The abi3info wheel in ``tmp_path`` with its provenance, its publisher edited."""
    shutil.copy(FIXTURES / WHEEL, tmp_path / WHEEL)
    provenance = json.loads((FIXTURES / f"{WHEEL}.provenance").read_text())
    provenance["attestation_bundles"][0]["publisher"].update(edit or {})
    (tmp_path / f"{WHEEL}.provenance").write_text(json.dumps(provenance))
    return tmp_path / WHEEL, hashlib.sha256((tmp_path / WHEEL).read_bytes()).hexdigest()


def test_the_provenance_publisher_verifies(tmp_path: Path) -> None:
    path, sha = wheel_with(tmp_path)
    found = file_identities(path, WHEEL, sha, production_trust_root)
    assert found == FileIdentities(WHEEL, frozenset({ABI3INFO}))


def test_an_environment_is_recorded_without_it(tmp_path: Path) -> None:
    """The certificate does not bind a GitHub environment: it is dropped, never checked."""
    path, sha = wheel_with(tmp_path, {"environment": "pypi"})
    found = file_identities(path, WHEEL, sha, production_trust_root)
    assert found is not None and found.identities == {ABI3INFO}
    (identity,) = found.identities
    assert "environment" not in identity.to_pylock()


def test_a_publisher_the_certificate_does_not_name_is_refused(tmp_path: Path) -> None:
    path, sha = wheel_with(tmp_path, {"repository": "woodruffw/other"})
    with pytest.raises(VerificationError) as caught:
        file_identities(path, WHEEL, sha, production_trust_root)
    assert caught.value.file == WHEEL


def test_other_bytes_are_refused(tmp_path: Path) -> None:
    path, _ = wheel_with(tmp_path)
    with pytest.raises(VerificationError, match="sha256"):
        file_identities(path, WHEEL, "0" * 64, production_trust_root)


def test_an_unknown_kind_is_not_recorded_and_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path, sha = wheel_with(tmp_path, {"kind": "Google"})
    with caplog.at_level(logging.WARNING, logger="lockkeys.lock"):
        found = file_identities(path, WHEEL, sha, production_trust_root)
    assert found == FileIdentities(WHEEL, frozenset(), ("Google",))
    assert WHEEL in caplog.text and "Google" in caplog.text
    assert release_identities([found]) == ()


def test_a_file_without_material_loads_no_trust_root(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / WHEEL, tmp_path / WHEEL)

    def no_root() -> bytes:
        raise AssertionError("the trust root was asked for")

    assert file_identities(tmp_path / WHEEL, WHEEL, "0" * 64, no_root) is None


def test_an_oversized_attestation_file_is_refused(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / WHEEL, tmp_path / WHEEL)
    (tmp_path / f"{WHEEL}.provenance").write_bytes(b" " * (2 * 1024 * 1024))
    with pytest.raises(InputError, match="too large"):
        file_identities(tmp_path / WHEEL, WHEEL, "0" * 64, production_trust_root)


def test_an_identity_counts_only_when_every_file_with_material_has_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    other = PublisherIdentity("GitHub", "someone/else", "release.yml")
    both = FileIdentities("a.whl", frozenset({ABI3INFO, other}))
    one = FileIdentities("b.tar.gz", frozenset({ABI3INFO}))
    with caplog.at_level(logging.WARNING, logger="lockkeys.lock"):
        assert release_identities([both, one]) == (ABI3INFO,)
    assert "someone/else" in caplog.text
    assert release_identities([]) == ()


def _config(tmp_path: Path, default: str) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "requirements.in").write_text("abi3info\n")
    config = tmp_path / "lockkeys.toml"
    config.write_text('requirements = ["requirements.in"]\n' + default)
    return config


def test_publishers_setting(tmp_path: Path) -> None:
    plain = load_config(_config(tmp_path / "a", ""))
    record = load_config(_config(tmp_path / "b", '[default]\npublishers = "record"\n'))
    ignore = load_config(_config(tmp_path / "c", '[default]\npublishers = "ignore"\n'))
    assert plain.default.publishers == record.default.publishers == "record"
    assert ignore.default.publishers == "ignore"
    # The inputs digest covers it (the default leaves older locks' digests as they were).
    assert plain.inputs_digest(["abi3info"]) == record.inputs_digest(["abi3info"])
    assert ignore.inputs_digest(["abi3info"]) != record.inputs_digest(["abi3info"])


@pytest.mark.parametrize(
    ("value", "message"),
    [("require-recorded", "not supported yet"), ("sometimes", "unknown value")],
)
def test_publishers_refused_values(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        load_config(_config(tmp_path, f'[default]\npublishers = "{value}"\n'))
    assert "default.publishers" in str(caught.value)


def test_an_unreadable_lone_attestation_is_refused(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / WHEEL, tmp_path / WHEEL)
    (tmp_path / f"{WHEEL}.publish.attestation").write_text('{"version": 1}')
    with pytest.raises(VerificationError, match="cannot be read") as caught:
        file_identities(tmp_path / WHEEL, WHEEL, "0" * 64, production_trust_root)
    assert caught.value.file == WHEEL


def test_a_lone_attestation_by_an_issuer_lockkeys_cannot_check_is_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The staging-signed rfc8785 wheel: an e-mail identity, not a Trusted Publisher."""
    name = "rfc8785-0.1.2-py3-none-any.whl"
    shutil.copy(FIXTURES / name, tmp_path / name)
    shutil.copy(FIXTURES / f"{name}.publish.attestation", tmp_path / f"{name}.publish.attestation")
    sha = hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()
    with caplog.at_level(logging.WARNING, logger="lockkeys.lock"):
        found = file_identities(tmp_path / name, name, sha, production_trust_root)
    assert found is not None and not found.identities
    assert name in caplog.text and "not recorded" in caplog.text
