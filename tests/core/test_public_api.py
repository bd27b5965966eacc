"""Pins the public names: removing or renaming one is a breaking change and must be deliberate."""

from __future__ import annotations

import acquire


def test_public_names_are_pinned() -> None:
    assert sorted(acquire.__all__) == sorted(
        [
            "AcquireClient",
            "AcquireError",
            "AnalysisWorkerSettings",
            "ConfigurationError",
            "EmbeddedRedis",
            "EventType",
            "ItemState",
            "ItemStatus",
            "JobEvent",
            "JobHandle",
            "JobKind",
            "JobNotFinishedError",
            "JobNotFoundError",
            "JobState",
            "JobStatus",
            "NotFoundError",
            "PermanentError",
            "RateLimitedError",
            "RiskDriftRequest",
            "SecFilingsRequest",
            "Settings",
            "TransientError",
            "WorkerSettings",
            "XbrlFactsRequest",
            "YahooRequest",
            "__version__",
            "build_worker_settings",
            "get_settings",
            "parse_request",
        ]
    )


def test_every_public_name_resolves() -> None:
    for name in acquire.__all__:
        if name not in ("WorkerSettings", "AnalysisWorkerSettings"):
            assert getattr(acquire, name) is not None, name


def test_event_names_match_the_original_design() -> None:
    names = {e.value for e in acquire.EventType}
    assert {"job_started", "step_complete", "job_completed", "job_failed"} <= names
    assert names == {
        "job_queued",
        "job_started",
        "step_complete",
        "item_completed",
        "item_failed",
        "job_retrying",
        "job_completed",
        "job_failed",
    }
