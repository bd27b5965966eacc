"""Retry delays: exponential, capped, jittered so that a fleet's retries do not arrive together."""

from __future__ import annotations

import random

__all__ = ["equal_jitter", "full_jitter"]

# Beyond 2**32 steps every delay is the cap; bounding the exponent keeps the float finite.
_MAX_DOUBLINGS = 32


def _step(attempt: int, base: float, cap: float) -> float:
    return min(cap, base * 2.0 ** min(max(attempt - 1, 0), _MAX_DOUBLINGS))


def equal_jitter(attempt: int, *, base: float, cap: float, rng: random.Random | None = None) -> float:
    """The delay after failed attempt ``attempt`` (1-based): ``base`` doubling, at most ``cap``.

    Half the step is fixed and half random: retries spread out, yet none comes almost at once
    (for retries that cost the other side, like a job or a webhook delivery).
    """
    step = _step(attempt, base, cap)
    return step / 2 + (rng or random).uniform(0, step / 2)


def full_jitter(attempt: int, *, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Anywhere from 0 to the step of ``attempt`` (1-based): the widest spread, for quick retries
    of one request ("full jitter", AWS architecture blog)."""
    return (rng or random).uniform(0, _step(attempt, base, cap))
