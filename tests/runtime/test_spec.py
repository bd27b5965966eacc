"""A job's soft time limit leaves it time to report before arq's hard limit (acquire.runtime.spec)."""

from __future__ import annotations

import pytest

from acquire.settings import Settings
from tests.support.jobs import TEST_SPEC


@pytest.mark.parametrize(("hard", "soft"), [(1, 0.5), (2, 1.5), (5, 4.5), (20, 18.0), (300, 270.0)])
def test_the_soft_limit_is_a_tenth_below_the_hard_one_and_at_least_half_a_second(
    settings: Settings, hard: int, soft: float
) -> None:
    limits = TEST_SPEC.timeouts(settings.model_copy(update={"acquire_job_timeout": hard}))
    assert limits == pytest.approx((soft, hard))
