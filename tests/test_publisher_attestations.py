"""Issue 16, verification core: real published PEP 740 attestations, verified offline.

The material in ``fixtures/pep740/`` is third-party (Trail of Bits' test assets, see its
README): attestations Sigstore signed for real releases, with the files they cover, and the
production and staging trust roots as sigstore-python bundles them. Nothing here is lockkeys'
own output, and nothing is fetched.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from lockkeys._internal.publishers.attestation import (
    attestations_of,
    verify_attestation,
)
from lockkeys._internal.publishers.identity import (
    PublisherIdentity,
    identity_from_config,
)
from lockkeys.errors import InputError, VerificationError

VECTORS = Path(__file__).resolve().parent.parent / "fixtures" / "pep740"
PRODUCTION = (VECTORS / "sigstore-production.trusted_root.json").read_bytes()
STAGING = (VECTORS / "sigstore-staging.trusted_root.json").read_bytes()

SDIST = "pypi_attestations-0.0.19.tar.gz"
SDIST_IDENTITY = PublisherIdentity("GitHub", "trailofbits/pypi-attestations", "release.yml")
WHEEL = "abi3info-2024.10.8-py3-none-any.whl"
WHEEL_IDENTITY = PublisherIdentity("GitHub", "woodruffw/abi3info", "release.yml")


def _sha256(name: str) -> str:
    return hashlib.sha256((VECTORS / name).read_bytes()).hexdigest()


def _attestation(name: str) -> bytes:
    return (VECTORS / f"{name}.publish.attestation").read_bytes()


def test_the_published_sdist_verifies_for_its_publisher() -> None:
    verified = verify_attestation(
        _attestation(SDIST), SDIST, _sha256(SDIST), SDIST_IDENTITY, PRODUCTION
    )
    assert verified.identity == SDIST_IDENTITY
    assert verified.sha256 == "9bb1add04b1b4e182be6b0b80931593f7a291eb49d69b4fd728a5d4cbcdc4bd3"
    assert verified.build_config_uri == (
        "https://github.com/trailofbits/pypi-attestations/.github/workflows/release.yml"
        "@refs/tags/v0.0.19"
    )


@pytest.mark.parametrize(
    ("identity", "found"),
    [
        (PublisherIdentity("GitHub", "trailofbits/other", "release.yml"), "build config"),
        (PublisherIdentity("GitHub", "trailofbits/pypi-attestations", "ci.yml"), "build config"),
        (PublisherIdentity("GitLab", "trailofbits/pypi-attestations", "release.yml"), "issuer"),
    ],
    ids=["another-repository", "another-workflow", "another-forge"],
)
def test_the_sdist_is_refused_for_another_publisher(
    identity: PublisherIdentity, found: str
) -> None:
    with pytest.raises(VerificationError) as info:
        verify_attestation(_attestation(SDIST), SDIST, _sha256(SDIST), identity, PRODUCTION)
    assert info.value.file == SDIST
    assert "the attestation is not by" in info.value.message
    assert found in (info.value.found or "")
    assert "trailofbits/pypi-attestations/.github/workflows/release.yml" in (info.value.found or "")


def test_repository_names_compare_without_case() -> None:
    identity = PublisherIdentity("GitHub", "TrailOfBits/PyPI-Attestations", "release.yml")
    assert verify_attestation(_attestation(SDIST), SDIST, _sha256(SDIST), identity, PRODUCTION)


def test_other_bytes_are_refused() -> None:
    other = _sha256(WHEEL)  # a real published file, but not this one
    with pytest.raises(VerificationError) as info:
        verify_attestation(_attestation(SDIST), SDIST, other, SDIST_IDENTITY, PRODUCTION)
    assert "sha256 is not this file's" in info.value.message
    assert info.value.expected == f"sha256 {other}"


def test_the_attestation_of_another_file_is_refused() -> None:
    name = "pypi_attestations-0.0.20.tar.gz"
    with pytest.raises(VerificationError) as info:
        verify_attestation(_attestation(SDIST), name, _sha256(SDIST), SDIST_IDENTITY, PRODUCTION)
    assert "about another file" in info.value.message
    assert info.value.found == SDIST


def test_the_wrong_trust_root_refuses_a_production_attestation() -> None:
    with pytest.raises(VerificationError) as info:
        verify_attestation(_attestation(SDIST), SDIST, _sha256(SDIST), SDIST_IDENTITY, STAGING)
    assert "Sigstore verification failed" in info.value.message
    assert "issuer" not in (info.value.found or "")  # refused before any identity was read


def test_a_staging_attestation_is_refused_under_the_production_root() -> None:
    name = "rfc8785-0.1.2-py3-none-any.whl"
    # Whatever identity is pinned, the chain does not reach the production Fulcio CA.
    identity = PublisherIdentity("GitHub", "trailofbits/rfc8785.py", "release.yml")
    with pytest.raises(VerificationError) as info:
        verify_attestation(_attestation(name), name, _sha256(name), identity, PRODUCTION)
    assert info.value.file == name
    assert "Sigstore verification failed" in info.value.message
    # Under its own (staging) root the chain verifies and only the identity differs: an
    # e-mail identity from GitHub's OAuth issuer, not a Trusted Publisher.
    with pytest.raises(VerificationError) as info:
        verify_attestation(_attestation(name), name, _sha256(name), identity, STAGING)
    assert "the attestation is not by" in info.value.message
    assert "https://github.com/login/oauth" in (info.value.found or "")


def test_a_provenance_object_holds_publisher_and_attestations() -> None:
    provenance = (VECTORS / f"{WHEEL}.provenance").read_bytes()
    pairs = attestations_of(provenance, WHEEL)
    assert len(pairs) == 1
    publisher, attestation = pairs[0]
    assert publisher["kind"] == "GitHub"
    assert publisher["repository"] == "woodruffw/abi3info"
    verified = verify_attestation(attestation, WHEEL, _sha256(WHEEL), WHEEL_IDENTITY, PRODUCTION)
    assert verified.identity == WHEEL_IDENTITY


def test_the_wheels_provenance_is_refused_for_the_sdists_bytes() -> None:
    sdist = "abi3info-2024.10.8.tar.gz"
    _, attestation = attestations_of((VECTORS / f"{WHEEL}.provenance").read_bytes(), WHEEL)[0]
    with pytest.raises(VerificationError) as info:
        verify_attestation(attestation, sdist, _sha256(sdist), WHEEL_IDENTITY, PRODUCTION)
    assert "about another file" in info.value.message


def test_a_tampered_statement_is_refused() -> None:
    document = json.loads(_attestation(SDIST))
    document["envelope"]["signature"] = document["envelope"]["signature"][:-8] + "AAAAAAA="
    with pytest.raises(VerificationError):
        verify_attestation(
            json.dumps(document).encode(), SDIST, _sha256(SDIST), SDIST_IDENTITY, PRODUCTION
        )


def test_unreadable_material_is_a_refusal_not_a_crash() -> None:
    with pytest.raises(VerificationError) as info:
        verify_attestation(b"{}", SDIST, _sha256(SDIST), SDIST_IDENTITY, PRODUCTION)
    assert "cannot be read" in info.value.message
    with pytest.raises(VerificationError):
        attestations_of(b"not json", SDIST)


def test_config_identities_bind_only_what_the_certificate_carries() -> None:
    identity = identity_from_config(
        "pydantic-release", {"github": "pydantic/pydantic", "workflow": "ci.yml"}, "pyproject.toml"
    )
    assert identity.to_pylock() == {
        "kind": "GitHub",
        "repository": "pydantic/pydantic",
        "workflow": "ci.yml",
    }
    with pytest.raises(InputError) as info:
        identity_from_config(
            "x",
            {"github": "o/r", "workflow": "ci.yml", "environment": "pypi"},
            "pyproject.toml",
        )
    assert "environment" in info.value.message
    assert "not bind" in (info.value.fix or "")


def test_a_run_without_identities_does_not_load_the_sigstore_libraries() -> None:
    code = (
        "import sys, lockkeys.api, lockkeys._internal.publishers.attestation; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sigstore', 'pypi_attestations', 'tuf')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]", out
