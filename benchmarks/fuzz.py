#!/usr/bin/env python3
"""Run lockkeys' fuzz targets (tests/support/fuzzing.py) for many inputs, outside pytest.

    python benchmarks/fuzz.py --long                 # >= 100,000 inputs per target
    python benchmarks/fuzz.py --inputs 5000          # any count
    python benchmarks/fuzz.py --long --target lock   # one target (repeatable)
    python benchmarks/fuzz.py --long --jobs 2        # targets in parallel processes

The test suite runs the same targets and mutations through hypothesis (quick profile). Here the
same kinds of input (arbitrary bytes, and structure-aware mutations of valid seeds: flipped
bits, truncations, duplicated/reordered/cut packets, changed packet versions, lines nested
thousands deep, renamed and duplicated wheel members) are drawn from a seeded PRNG, which costs
far less per input than hypothesis' bookkeeping; input number N of a run is reproducible from
``--seed`` and N.

For each target: how many inputs ran, how many were accepted and how many refused with
lockkeys' own error, every finding (any other exception, or an input slower than
``--max-seconds``; the input is saved under ``--findings``), the slowest input and the peak
resident memory of the process. The exit status is 1 when anything was found.
This is a script, not a test.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import logging
import random
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

LONG = 100_000


def run_target(
    name: str, inputs: int, seed: int, max_seconds: float, findings_dir: str
) -> dict[str, Any]:
    from lockkeys.errors import LockkeysError
    from tests.support.fuzzing import RANDOM_INPUTS, TARGETS

    logging.disable(logging.WARNING)  # parsers log ignored links and subkeys: not findings
    _strategy, check = TARGETS[name]
    make = RANDOM_INPUTS[name]
    stats: dict[str, Any] = {"target": name, "inputs": 0, "accepted": 0, "refused": 0}
    findings: list[str] = []
    slowest = 0.0
    started = time.perf_counter()
    for number in range(inputs):
        rng = random.Random(f"{seed}:{name}:{number}")
        data = make(rng)
        start = time.perf_counter()
        try:
            accepted = check(data)
        except LockkeysError:  # the checks catch these; counted if one slips through
            accepted = False
        except Exception as exc:
            accepted = None
            text = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:500]
            findings.append(f"input {number}: {text}")
            out = Path(findings_dir) / f"{name}-{number}.bin"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
        elapsed = time.perf_counter() - start
        slowest = max(slowest, elapsed)
        if elapsed > max_seconds:
            findings.append(f"input {number}: took {elapsed:.2f} s (limit {max_seconds} s)")
        stats["inputs"] += 1
        if accepted is not None:
            stats["accepted" if accepted else "refused"] += 1
    stats["findings"] = findings
    stats["seconds"] = round(time.perf_counter() - started, 1)
    stats["slowest_input_seconds"] = round(slowest, 3)
    stats["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return stats


def main() -> int:
    from tests.support.fuzzing import TARGETS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--long", action="store_true", help=f"{LONG:,} inputs per target")
    parser.add_argument("--inputs", type=int, default=2000, help="inputs per target")
    parser.add_argument("--target", action="append", choices=sorted(TARGETS))
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--jobs", type=int, default=1, help="targets run in parallel")
    parser.add_argument("--max-seconds", type=float, default=5.0, help="slowest input allowed")
    parser.add_argument("--findings", default="fuzz-findings", help="folder for found inputs")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = parser.parse_args()
    inputs = max(LONG, args.inputs) if args.long else args.inputs
    names = args.target or sorted(TARGETS)
    results = []
    with concurrent.futures.ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = {
            pool.submit(run_target, n, inputs, args.seed, args.max_seconds, args.findings): n
            for n in names
        }
        for future in concurrent.futures.as_completed(futures):
            stats = future.result()
            results.append(stats)
            if not args.json:
                found = stats["findings"]
                print(
                    f"{stats['target']:15} {stats['inputs']:>8,} inputs "
                    f"({stats['accepted']:,} accepted, {stats['refused']:,} refused with "
                    f"lockkeys' error)  slowest {stats['slowest_input_seconds']:.3f} s  "
                    f"peak RSS {stats['peak_rss_mib']} MiB  {stats['seconds']} s  "
                    + (f"FOUND {len(found)}: {found[0]}" if found else "nothing found"),
                    flush=True,
                )
    if args.json:
        print(json.dumps(sorted(results, key=lambda r: r["target"]), indent=2))
    return 1 if any(r["findings"] for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
