#!/usr/bin/env python3
"""Benchmark PEP 740 attestation verification: lockkeys' against the library alone.

Offline, on the real published attestations in ``fixtures/pep740/``. This is a script, not a
test: nothing here belongs in the test suite.

    python benchmarks/attestation_bench.py [--repeat 200] [--json]

Measured in one run, interleaved:

- start-up: the import of ``sigstore`` and ``pypi_attestations`` in a fresh interpreter
  (median of 5), against the same interpreter importing ``lockkeys.api`` and
  ``lockkeys._internal.publishers.attestation`` (which must NOT load them: a lock with no
  publisher identity pays nothing);
- per attestation, after start-up: ``verify_attestation`` (lockkeys: trust root given,
  identity policy, statement checks) against ``pypi_attestations.Attestation.verify`` with
  ``offline=True`` (the library's own check of the same bundle, the same identity and file),
  both on the ``pypi_attestations-0.0.19.tar.gz`` attestation. Target: at most 5 ms per
  attestation (issue 16), where the library alone takes about 2-3 ms.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VECTORS = ROOT / "fixtures" / "pep740"
SDIST = "pypi_attestations-0.0.19.tar.gz"


def _import_seconds(statement: str) -> float:
    """Wall time of a fresh interpreter that runs ``statement``, less a bare interpreter's."""

    def run(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ})
        return time.perf_counter() - start

    bare = statistics.median(run("pass") for _ in range(5))
    return statistics.median(run(statement) for _ in range(5)) - bare


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    lazy = (
        "import sys, lockkeys.api, lockkeys._internal.publishers.attestation; "
        "assert 'sigstore' not in sys.modules and 'pypi_attestations' not in sys.modules"
    )
    libs = "import sigstore.verify, pypi_attestations"
    startup_libs = _import_seconds(libs)
    startup_lockkeys = _import_seconds(lazy)

    from pypi_attestations import Attestation, Distribution, GitHubPublisher

    from lockkeys._internal.publishers.attestation import verify_attestation
    from lockkeys._internal.publishers.identity import PublisherIdentity

    data = (VECTORS / f"{SDIST}.publish.attestation").read_bytes()
    sha256 = hashlib.sha256((VECTORS / SDIST).read_bytes()).hexdigest()
    root = (VECTORS / "sigstore-production.trusted_root.json").read_bytes()
    identity = PublisherIdentity("GitHub", "trailofbits/pypi-attestations", "release.yml")
    publisher = GitHubPublisher(repository="trailofbits/pypi-attestations", workflow="release.yml")
    dist = Distribution(name=SDIST, digest=sha256)
    verify_attestation(data, SDIST, sha256, identity, root)  # warm: verifier and root made once
    Attestation.model_validate_json(data).verify(publisher, dist, offline=True)

    ours: list[float] = []
    peer: list[float] = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        verify_attestation(data, SDIST, sha256, identity, root)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        Attestation.model_validate_json(data).verify(publisher, dist, offline=True)
        peer.append(time.perf_counter() - start)

    def ms(values: list[float]) -> dict[str, float]:
        q = statistics.quantiles(values, n=10)
        return {
            "median_ms": round(statistics.median(values) * 1000, 2),
            "p10_ms": round(q[0] * 1000, 2),
            "p90_ms": round(q[-1] * 1000, 2),
        }

    result = {
        "load": os.getloadavg()[0],
        "startup_sigstore_libs_s": round(startup_libs, 3),
        "startup_lockkeys_api_without_identities_s": round(startup_lockkeys, 3),
        "lockkeys_verify": ms(ours),
        "library_verify": ms(peer),
        "ratio": round(statistics.median(ours) / statistics.median(peer), 2),
        "target_5ms": statistics.median(ours) <= 0.005,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"machine load (1 min): {result['load']:.2f}")
    print(f"import sigstore + pypi_attestations: {startup_libs:.3f} s")
    print(
        f"import lockkeys.api + publishers.attestation (libs not loaded): {startup_lockkeys:.3f} s"
    )
    print(
        f"per attestation: lockkeys {result['lockkeys_verify']['median_ms']} ms "
        f"(p10 {result['lockkeys_verify']['p10_ms']}, p90 {result['lockkeys_verify']['p90_ms']}); "
        f"library alone {result['library_verify']['median_ms']} ms; "
        f"ratio {result['ratio']}x; target <= 5 ms: {'PASS' if result['target_5ms'] else 'FAIL'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
