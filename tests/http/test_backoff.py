"""The one backoff helper: bounds of both jitter strategies."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from acquire.http.backoff import equal_jitter, full_jitter

attempts = st.integers(min_value=1, max_value=10_000)
bases = st.floats(min_value=0.001, max_value=60)


@given(attempts, bases, st.integers(0, 2**32))
def test_equal_jitter_keeps_half_the_step_and_the_cap(attempt: int, base: float, seed: int) -> None:
    cap = base * 50
    step = min(cap, base * 2.0 ** (min(attempt, 40) - 1))
    delay = equal_jitter(attempt, base=base, cap=cap, rng=random.Random(seed))
    assert step / 2 <= delay <= step <= cap


@given(attempts, bases, st.integers(0, 2**32))
def test_full_jitter_stays_within_the_step(attempt: int, base: float, seed: int) -> None:
    cap = base * 50
    step = min(cap, base * 2.0 ** (min(attempt, 40) - 1))
    assert 0 <= full_jitter(attempt, base=base, cap=cap, rng=random.Random(seed)) <= step


class _Edge(random.Random):
    """Always draws the low (or high) end of the range."""

    def __init__(self, high: bool) -> None:
        super().__init__(0)
        self.high = high

    def uniform(self, a: float, b: float) -> float:
        return b if self.high else a


def test_delays_double_per_attempt_until_the_cap() -> None:
    low = [equal_jitter(n, base=1.0, cap=8.0, rng=_Edge(high=False)) for n in range(1, 7)]
    high = [equal_jitter(n, base=1.0, cap=8.0, rng=_Edge(high=True)) for n in range(1, 7)]
    assert low == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert high == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert full_jitter(3, base=1.0, cap=8.0, rng=_Edge(high=True)) == 4.0
