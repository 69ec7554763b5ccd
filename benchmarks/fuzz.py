#!/usr/bin/env python3
"""Run lockkeys' fuzz targets (tests/support/fuzzing.py) for many inputs, outside pytest.

    python benchmarks/fuzz.py --long                 # >= 100,000 inputs per target
    python benchmarks/fuzz.py --examples 5000        # any count
    python benchmarks/fuzz.py --long --target lock   # one target (repeatable)

For each target: how many inputs ran, how many ended in success and how many in lockkeys' own
error, every finding (any other exception, or an input slower than --max-seconds), the slowest
input, and the process's peak resident memory. Hypothesis drives generation (arbitrary bytes and
structure-aware mutations of valid seeds); on a finding it shrinks the input and the script
prints it, then goes on with the next target. The exit status is 1 when anything was found.
This is a script, not a test: the quick profile of the same targets runs in the test suite.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, given, settings  # noqa: E402

from lockkeys.errors import LockkeysError  # noqa: E402
from tests.support.fuzzing import TARGETS  # noqa: E402

LONG = 100_000


class SlowInput(Exception):
    pass


def run_target(name: str, examples: int, max_seconds: float) -> dict[str, Any]:
    strategy, check = TARGETS[name]
    stats: dict[str, Any] = {"target": name, "inputs": 0, "accepted": 0, "refused": 0}
    slowest = [0.0]

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy())
    def run(example: Any) -> None:
        stats["inputs"] += 1
        start = time.perf_counter()
        try:
            accepted = check(example)
        except LockkeysError:  # the checks catch these; counted if one slips through
            accepted = False
        stats["accepted" if accepted else "refused"] += 1
        elapsed = time.perf_counter() - start
        slowest[0] = max(slowest[0], elapsed)
        if elapsed > max_seconds:
            raise SlowInput(f"one input took {elapsed:.2f} s (limit {max_seconds} s)")

    started = time.perf_counter()
    try:
        run()
        stats["findings"] = []
    except Exception as exc:  # a finding: report it and go on
        stats["findings"] = [
            "".join(traceback.format_exception_only(type(exc), exc)).strip()[:2000]
        ]
    stats["seconds"] = round(time.perf_counter() - started, 1)
    stats["slowest_input_seconds"] = round(slowest[0], 3)
    stats["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return stats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--long", action="store_true", help=f"{LONG:,} inputs per target")
    parser.add_argument("--examples", type=int, default=2000, help="inputs per target")
    parser.add_argument("--target", action="append", choices=sorted(TARGETS))
    parser.add_argument("--max-seconds", type=float, default=5.0, help="slowest input allowed")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # parsers log ignored links and subkeys; not findings
    examples = LONG if args.long else args.examples
    results = []
    for name in args.target or sorted(TARGETS):
        stats = run_target(name, examples, args.max_seconds)
        results.append(stats)
        if not args.json:
            found = stats["findings"]
            print(
                f"{name:15} {stats['inputs']:>8,} inputs ({stats['accepted']:,} accepted, "
                f"{stats['refused']:,} refused with lockkeys' error)  "
                f"slowest {stats['slowest_input_seconds']:.3f} s  "
                f"peak RSS {stats['peak_rss_mib']} MiB  {stats['seconds']} s  "
                + ("FOUND: " + found[0] if found else "nothing found"),
                flush=True,
            )
    if args.json:
        print(json.dumps(results, indent=2))
    return 1 if any(r["findings"] for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
