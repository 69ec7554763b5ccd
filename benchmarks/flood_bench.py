#!/usr/bin/env python3
"""Signature flood (threat-model row 21, issue 12 item 2): how long a hostile signature file
takes to be refused.

    python benchmarks/flood_bench.py [--size-mib 24] [--packets 8000] [--repeat 3]

Makes a ``--size-mib`` file of pseudo-random bytes, signs it once with a fresh Ed25519 key
(``lockkeys key generate``), then writes a *binary* signature file of ``--packets`` bogus v4
signature packets that all name that key's signing subkey as issuer (under the 1 MiB cap),
followed by the one valid signature. Timed, whole process, median of ``--repeat`` runs:

- ``lockkeys verify-signature FILE --signer CERT --signature FLOOD`` (target: refused, exit 1,
  in under 2 s);
- for comparison, the honest case: the same command with the valid signature alone;
- the peer, for information: ``gpgv`` on the flood (it reads every packet).

The exit status is 0 whatever the figures say; a lockkeys exit other than 1 on the flood (or
other than 0 on the honest file) aborts with status 2. This is a script, not a test.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lockkeys._internal.openpgp.armor import decode  # noqa: E402
from lockkeys._internal.openpgp.framing import TAG_SIGNATURE, encode_packet  # noqa: E402
from lockkeys._internal.trust.signatures import parse_signatures  # noqa: E402

MIB = 1024 * 1024


def lockkeys_cmd() -> list[str]:
    beside = Path(sys.executable).with_name("lockkeys")
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "lockkeys"]


def forged(issuer_fpr: str, n: int) -> bytes:
    """A bogus v4 binary signature naming ``issuer_fpr``, with garbage Ed25519 values."""
    issuer = bytes([22, 33, 4]) + bytes.fromhex(issuer_fpr)
    created = bytes([5, 2]) + (1_700_000_000 + n).to_bytes(4, "big")
    hashed = issuer + created
    mpis = (bytes([1, 0, 0x80]) + n.to_bytes(31, "big")) * 2
    body = bytes([4, 0x00, 22, 8]) + len(hashed).to_bytes(2, "big") + hashed
    body += bytes([0, 0]) + (n % 65536).to_bytes(2, "big") + mpis
    return encode_packet(TAG_SIGNATURE, body)


CPU: list[float] = []  # user+system seconds of each timed child, in order


def timed(argv: list[str], expect: int) -> float:
    """Wall time of one run; its CPU time (user + system) is appended to CPU."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    if expect >= 0 and proc.returncode != expect:
        print(f"unexpected exit {proc.returncode} from {argv}:\n{proc.stderr}", file=sys.stderr)
        raise SystemExit(2)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size-mib", type=int, default=24)
    parser.add_argument("--packets", type=int, default=8000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--gpgv-runs", type=int, default=1, help="gpgv is slow: runs of it")
    args = parser.parse_args()
    lk = lockkeys_cmd()
    with tempfile.TemporaryDirectory(prefix="lkflood.") as tmp:
        work = Path(tmp)
        data = work / "big-1.0-py3-none-any.whl"
        block = os.urandom(MIB)
        with open(data, "wb") as handle:
            for i in range(args.size_mib):
                handle.write(i.to_bytes(8, "big") + block[8:])
        subprocess.run(
            [*lk, "key", "generate", "bench", "--out-dir", str(work / "keys"),
             "--uid", "Flood bench (TEST ONLY) <bench@test.invalid>"],
            check=True, capture_output=True,
        )  # fmt: skip
        cert = work / "keys" / "bench.asc"
        subprocess.run(
            [*lk, "sign", str(data), "--key", str(work / "keys" / "bench.secret.asc")],
            check=True, capture_output=True,
        )  # fmt: skip
        honest = Path(f"{data}.asc")
        (valid,) = [p.raw for b in decode(honest.read_bytes(), "x") for p in b.packets]
        issuer = parse_signatures(valid, "valid")[0].facts.issuer_fingerprint
        assert issuer is not None
        flood = work / "flood.sig"
        flood.write_bytes(b"".join(forged(issuer, n) for n in range(args.packets)) + valid)
        size = flood.stat().st_size
        verify = [*lk, "verify-signature", str(data), "--signer", str(cert)]
        flood_argv = [*verify, "--signature", str(flood)]
        honest_argv = [*verify, "--signature", str(honest)]
        ring = work / "ring.gpg"
        gpgv = shutil.which("gpgv")
        gpg = shutil.which("gpg")
        if gpgv and gpg:
            home = work / "gnupg"
            home.mkdir(mode=0o700)
            subprocess.run(
                [gpg, "--homedir", str(home), "--batch", "--dearmor", "-o", str(ring), str(cert)],
                check=True, capture_output=True,
            )  # fmt: skip
        timed(flood_argv, 1)  # warm-up
        floods, honests, peers = [], [], []
        flood_cpu, honest_cpu = [], []
        for number in range(args.repeat):
            floods.append(timed(flood_argv, 1))
            flood_cpu.append(CPU[-1])
            honests.append(timed(honest_argv, 0))
            honest_cpu.append(CPU[-1])
            if gpgv and gpg and number < args.gpgv_runs:
                peers.append(
                    timed(
                        [gpgv, "--homedir", str(work / "gnupg"), "--keyring", str(ring),
                         str(flood), str(data)],
                        -1,
                    )
                )  # fmt: skip
        load = os.getloadavg()[0]
    med = statistics.median(floods)
    print(f"file: {args.size_mib} MiB; flood: {args.packets} bogus packets + 1 valid, {size:,} B")
    print(f"lockkeys verify-signature on the flood (refused, exit 1): median {med:.2f} s "
          f"(runs: {', '.join(f'{t:.2f}' for t in floods)})")  # fmt: skip
    print(f"  CPU time (user+system) of that process: median {statistics.median(flood_cpu):.2f} s")
    print(f"lockkeys verify-signature, honest signature alone: "
          f"median {statistics.median(honests):.2f} s, "
          f"CPU {statistics.median(honest_cpu):.2f} s")  # fmt: skip
    if peers:
        pm = statistics.median(peers)
        print(f"gpgv on the flood (for information): median {pm:.2f} s; "
              f"lockkeys/gpgv = {med / pm:.2f}x")  # fmt: skip
    print(f"target: refused in under 2 s: {'PASS' if med < 2.0 else 'FAIL'} (wall), "
          f"{'PASS' if statistics.median(flood_cpu) < 2.0 else 'FAIL'} (CPU)")  # fmt: skip
    print(f"1-minute load average at the end: {load:.2f} (2 cores shared)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
