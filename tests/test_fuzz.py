"""Fuzzing as part of the suite (issue 12): every parser of untrusted input, under arbitrary
bytes and structure-aware mutations of valid inputs, ends in success or lockkeys' own error.

Quick profile here: ``LOCKKEYS_FUZZ_EXAMPLES`` examples per target (default 2,000), a
per-input deadline, no example database (hermetic). The long run is
``python benchmarks/fuzz.py --long`` (at least 100,000 inputs per target); the README records
its counts and findings. Targets and mutations: tests/support/fuzzing.py.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from tests.support.fuzzing import TARGETS

EXAMPLES = int(os.environ.get("LOCKKEYS_FUZZ_EXAMPLES", "2000"))

QUICK = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=10),  # generous: the machine is shared; the long run measures
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_fuzz_target_ends_in_success_or_lockkeys_error(target: str) -> None:
    strategy, check = TARGETS[target]

    @QUICK
    @given(strategy())
    def run(example: Any) -> None:
        check(example)

    run()
