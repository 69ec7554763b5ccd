"""Issue 12, items 2, 3 and 8: hostile signature files and certificates, one packet reader.

Keys are the committed fixture keys (made by Sequoia through pysequoia); the odd packets (an
unknown-version signature, a v5 subkey) are built here from RFC 9580's framing. Agreement with
GnuPG and Sequoia's `sqv` on third-party vectors is in tests/test_vectors.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lockkeys._internal.cli import main
from lockkeys._internal.openpgp import armor as armor_module
from lockkeys._internal.openpgp import framing
from lockkeys._internal.openpgp.armor import armor, decode
from lockkeys._internal.openpgp.engine import EngineCert, Verified
from lockkeys._internal.openpgp.framing import TAG_PUBLIC_SUBKEY, TAG_SIGNATURE, encode_packet
from lockkeys._internal.openpgp.protect import iter_packets
from lockkeys._internal.openpgp.sequoia import SequoiaEngine
from lockkeys._internal.trust.certs import Keyring, load_certificate, parse_certificate
from lockkeys._internal.trust.signatures import load_signatures, parse_signatures
from lockkeys._internal.trust.signing import sign_files
from lockkeys._internal.trust.threshold import (
    MAX_PACKETS_PER_SIGNER,
    Reason,
    evaluate_threshold,
)
from lockkeys.errors import InputError

KEYS = Path(__file__).resolve().parent.parent / "fixtures" / "data" / "keys"


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def signed(tmp_path: Path) -> Path:
    """A file signed by alice (fixture key), signature in FILE.asc."""
    data = tmp_path / "payload.bin"
    data.write_bytes(b"payload for hostile-input tests\n" * 100)
    sign_files([data], KEYS / "alice.secret.asc")
    return data


def packets_of(path: Path) -> list[bytes]:
    return [p.raw for block in decode(path.read_bytes(), str(path)) for p in block.packets]


def unknown_version_signature(version: int = 10) -> bytes:
    """A signature packet of a version nobody implements (RFC 9580 section 5.2: unknown
    versions must be ignored): version octet, type 0, algorithm 27, SHA-256, then filler."""
    return encode_packet(TAG_SIGNATURE, bytes([version, 0x00, 27, 8]) + bytes(70))


def forged(valid: bytes, n: int) -> bytes:
    """A small bogus v4 binary signature naming the same issuer (fingerprint subpacket) as
    ``valid``, with garbage in place of the Ed25519 values: what a flood is made of."""
    facts = parse_signatures(valid, "valid")[0].facts
    assert facts.issuer_fingerprint is not None
    issuer = bytes([22, 33, 4]) + bytes.fromhex(facts.issuer_fingerprint)
    created = bytes([5, 2]) + (1_700_000_000 + n).to_bytes(4, "big")
    hashed = issuer + created
    mpis = (bytes([1, 0, 0x80]) + n.to_bytes(31, "big")) * 2
    body = bytes([4, 0x00, 22, 8]) + len(hashed).to_bytes(2, "big") + hashed
    body += bytes([0, 0]) + (n % 65536).to_bytes(2, "big") + mpis
    return encode_packet(TAG_SIGNATURE, body)


class CountingEngine(SequoiaEngine):
    def __init__(self) -> None:
        self.calls = 0

    def verify_detached(
        self, path: Path, signature: bytes, certificates: list[EngineCert]
    ) -> Verified | str:
        self.calls += 1
        return super().verify_detached(path, signature, certificates)


# --- item 8: one framing reader ---------------------------------------------------------------


def test_item8_one_packet_reader_for_armor_signatures_keys_and_protect(
    signed: Path, tmp_path: Path
) -> None:
    assert armor_module.split_packets is framing.split_packets
    partial = bytes([0xC0 | TAG_SIGNATURE, 0xE0 | 5]) + bytes(32) + bytes([4]) + bytes(4)
    with pytest.raises(InputError, match="partial-length"):
        parse_signatures(partial, "sig")
    with pytest.raises(InputError, match="partial-length"):
        parse_certificate(partial.replace(bytes([0xC2]), bytes([0xC6]), 1), "cert")
    with pytest.raises(ValueError, match="partial-length"):
        list(iter_packets(partial))
    indeterminate = bytes([0x80 | (TAG_SIGNATURE << 2) | 3]) + bytes(20)
    with pytest.raises(InputError, match="indeterminate"):
        parse_signatures(indeterminate, "sig")
    reserved = bytes([0xC0, 1, 0])
    with pytest.raises(InputError, match="reserved tag 0"):
        parse_signatures(reserved, "sig")


def test_item8_signature_facts_come_from_pysequoia(signed: Path) -> None:
    import pysequoia

    (sig,) = load_signatures(Path(f"{signed}.asc"))
    theirs = pysequoia.Sig.from_bytes(sig.packet)
    assert sig.facts.issuer_fingerprint == theirs.issuer_fingerprint.upper()
    assert sig.facts.created == theirs.created
    assert sig.facts.version == theirs.version == 4
    assert sig.facts.hash_algorithm == str(theirs.hash_algorithm).rsplit(".", 1)[-1]


# --- item 3: unknown versions are "not counted"; v5 subkeys ignored with a note -----------------


def test_item3_unknown_signature_version_not_counted_known_one_still_counts(
    signed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asc = Path(f"{signed}.asc")
    asc.write_text(armor(unknown_version_signature() + packets_of(asc)[0], "SIGNATURE"))
    code, out, err = run(
        capsys, "verify-signature", signed, "--signer", KEYS / "alice.asc", "--json"
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["met"] is True
    (uncounted,) = report["uncounted"]
    assert uncounted["reason"] == "unsupported"
    assert "version 10" in uncounted["detail"]


def test_item3_only_unknown_versions_is_threshold_not_met_not_unreadable(
    signed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Path(f"{signed}.asc").write_text(armor(unknown_version_signature(5), "SIGNATURE"))
    code, _, err = run(capsys, "verify-signature", signed, "--signer", KEYS / "alice.asc")
    assert code == 1, err
    assert "unsupported" in err and "version 5" in err


def v5_subkey_certificate(path: Path) -> bytes:
    """alice's certificate with a v5 public-subkey packet (and a copy of a binding) added."""
    packets = decode(path.read_bytes(), str(path))[0].packets
    sub = next(p for p in packets if p.tag == TAG_PUBLIC_SUBKEY)
    binding = packets[packets.index(sub) + 1]
    material = sub.body[6:]
    v5 = bytes([5]) + sub.body[1:6] + len(material).to_bytes(4, "big") + material
    return b"".join(p.raw for p in packets) + encode_packet(TAG_PUBLIC_SUBKEY, v5) + binding.raw


def test_item3_v5_subkey_ignored_with_a_note_rest_of_certificate_used(
    signed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cert = tmp_path / "alice-v5.asc"
    cert.write_text(armor(v5_subkey_certificate(KEYS / "alice.asc"), "PUBLIC KEY BLOCK"))
    code, out, err = run(capsys, "key", "show", cert, "--json")
    assert code == 0, err
    (shown,) = json.loads(out)
    assert any("version 5" in n for n in shown["notes"]), shown["notes"]
    assert {"sign"} <= {c for k in shown["subkeys"] for c in k["capabilities"]}
    code, out, err = run(capsys, "key", "show", cert)
    assert code == 0 and "note: ignored a subkey" in out
    code, _, err = run(capsys, "verify-signature", signed, "--signer", cert)
    assert code == 0, err


# --- item 2: signature floods -------------------------------------------------------------------


def test_item2_flood_of_8000_packets_refused_as_hostile_without_verifying(
    signed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asc = Path(f"{signed}.asc")
    (valid,) = packets_of(asc)
    asc.write_bytes(b"".join(forged(valid, n) for n in range(8000)) + valid)  # binary
    assert asc.stat().st_size < 1024 * 1024
    engine = CountingEngine()
    keyring = Keyring([load_certificate(KEYS / "alice.asc", name="alice")])
    result = evaluate_threshold(signed, load_signatures(asc), keyring, 1, engine=engine)
    assert engine.calls == 0
    assert not result.met
    (hostile,) = result.uncounted
    assert hostile.reason == Reason.HOSTILE_FILE and "8001 signature packets" in hostile.detail
    code, _, err = run(capsys, "verify-signature", signed, "--signer", KEYS / "alice.asc")
    assert code == 1 and "hostile-signature-file" in err


def test_item2_bogus_packets_under_the_cap_cost_no_engine_call(signed: Path) -> None:
    """The file is hashed once per digest; packets whose 16-bit digest quick check fails
    never reach the engine, and the valid one still counts."""
    asc = Path(f"{signed}.asc")
    (valid,) = packets_of(asc)
    bogus = [forged(valid, n) for n in range(MAX_PACKETS_PER_SIGNER - 1)]
    # Corrupt the quick-check octets too, as a flood that does not know the file would.
    sigs = parse_signatures(armor(b"".join(bogus) + valid, "SIGNATURE").encode(), str(asc))
    engine = CountingEngine()
    keyring = Keyring([load_certificate(KEYS / "alice.asc", name="alice")])
    result = evaluate_threshold(signed, sigs, keyring, 1, engine=engine)
    assert result.met
    assert engine.calls <= 1 + sum(1 for s in sigs[:-1] if s.packet[-10:] == valid[-10:])
    assert engine.calls == 1


def test_item2_counting_stops_once_the_threshold_is_met(tmp_path: Path) -> None:
    data = tmp_path / "f.bin"
    data.write_bytes(b"x" * 1000)
    for name in ("alice", "bob", "carol"):
        sign_files([data], KEYS / f"{name}.secret.asc")
    names = ("alice", "bob", "carol")
    keyring = Keyring(load_certificate(KEYS / f"{n}.asc", name=n) for n in names)
    engine = CountingEngine()
    result = evaluate_threshold(
        data, load_signatures(Path(f"{data}.asc")), keyring, 2, engine=engine
    )
    assert result.met and len(result.counted) == 2
    assert engine.calls == 2
    assert [u.reason for u in result.uncounted] == [Reason.NOT_NEEDED]


def test_item2_same_signer_repeated_is_decided_without_verifying(signed: Path) -> None:
    asc = Path(f"{signed}.asc")
    sign_files([signed], KEYS / "alice.secret.asc")  # a second, different valid signature
    engine = CountingEngine()
    keyring = Keyring(load_certificate(KEYS / f"{n}.asc", name=n) for n in ("alice", "bob"))
    result = evaluate_threshold(signed, load_signatures(asc), keyring, 2, engine=engine)
    assert not result.met
    assert engine.calls == 1
    assert [u.reason for u in result.uncounted] == [Reason.DUPLICATE_SIGNER]


def test_item2_hostile_rule_is_per_trusted_signer(signed: Path) -> None:
    """8 packets per trusted signer is the cap: 8 naming alice pass, 9 do not."""
    asc = Path(f"{signed}.asc")
    (valid,) = packets_of(asc)
    keyring = Keyring([load_certificate(KEYS / "alice.asc", name="alice")])
    ok = parse_signatures(
        armor(b"".join(forged(valid, n) for n in range(7)) + valid, "SIGNATURE").encode(), "ok"
    )
    assert evaluate_threshold(signed, ok, keyring, 1).met
    too_many = parse_signatures(
        armor(b"".join(forged(valid, n) for n in range(8)) + valid, "SIGNATURE").encode(), "bad"
    )
    result = evaluate_threshold(signed, too_many, keyring, 1)
    assert not result.met and result.uncounted[0].reason == Reason.HOSTILE_FILE


@pytest.mark.skipif(
    shutil.which("gpgv") is None or shutil.which("sqv") is None, reason="needs gpgv and sqv"
)
@pytest.mark.parametrize("unknown_first", [False, True])
def test_item3_agrees_with_sqv_and_gpgv_on_an_unknown_version_packet(
    signed: Path, tmp_path: Path, unknown_first: bool
) -> None:
    """sqv accepts the file either way (exit 0, alice's fingerprint); gpgv reports VALIDSIG
    for the v4 signature when it comes first and exits 2 for the packet it cannot read (it
    stops at an unknown packet that comes first). lockkeys counts the v4 signature in both
    orders, as sqv does and RFC 9580 section 5.2 asks (unknown versions are ignored)."""
    import subprocess

    from gnupg import dearmor, gpgv

    asc = Path(f"{signed}.asc")
    (valid,) = packets_of(asc)
    odd = unknown_version_signature()
    asc.write_text(armor(odd + valid if unknown_first else valid + odd, "SIGNATURE"))
    keyring = Keyring([load_certificate(KEYS / "alice.asc", name="alice")])
    ours = evaluate_threshold(signed, load_signatures(asc), keyring, 1)
    assert [c.fingerprint for c in ours.counted] == [keyring.fingerprints()[0]]
    sqv = subprocess.run(
        ["sqv", "--keyring", str(KEYS / "alice.asc"), str(asc), str(signed)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert sqv.returncode == 0 and sqv.stdout.split() == [keyring.fingerprints()[0]]
    ring = dearmor(KEYS / "alice.asc", tmp_path / "alice.gpg")
    outcome = gpgv(ring, asc, signed)
    assert outcome.returncode == 2  # gpgv: "packet(2) with unknown version 10"
    assert outcome.keywords().count("VALIDSIG") == (0 if unknown_first else 1)


# --- fuzzing findings (benchmarks/fuzz.py), kept as regression tests ---------------------------


def odd_issuer_fingerprint(body: bytes) -> bytes:
    """The signature body with its issuer-fingerprint subpacket (33) claiming key version 9:
    Sequoia parses it but cannot serialize it again ("Unknown kind of fingerprint")."""
    out = bytearray(body)
    hashed_len = int.from_bytes(body[4:6], "big")
    unhashed_len = int.from_bytes(body[6 + hashed_len : 8 + hashed_len], "big")
    for start, length in ((6, hashed_len), (8 + hashed_len, unhashed_len)):
        pos = start
        while pos < start + length:  # one-octet subpacket lengths in these fixtures
            if out[pos + 1] & 0x7F == 33:
                out[pos + 2] = 9
            pos += 1 + out[pos]
    return bytes(out)


def test_fuzz_finding_signature_sequoia_cannot_reserialize_is_not_counted(signed: Path) -> None:
    asc = Path(f"{signed}.asc")
    body = framing.split_packets(packets_of(asc)[0], "sig")[0].body
    odd = encode_packet(TAG_SIGNATURE, odd_issuer_fingerprint(body))
    (sig,) = parse_signatures(odd, "odd.sig")  # used to raise RuntimeError from pysequoia
    keyring = Keyring([load_certificate(KEYS / "alice.asc", name="alice")])
    result = evaluate_threshold(signed, [sig], keyring, 1)
    assert not result.met


def test_fuzz_finding_certificate_sequoia_cannot_reserialize_is_input_error() -> None:
    packets = decode((KEYS / "alice.asc").read_bytes(), "alice")[0].packets
    mangled = b"".join(
        encode_packet(p.tag, odd_issuer_fingerprint(p.body)) if p.tag == TAG_SIGNATURE else p.raw
        for p in packets
    )
    with pytest.raises(InputError):  # used to raise RuntimeError (exit 70)
        parse_certificate(mangled, "odd.asc")
