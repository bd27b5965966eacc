"""Pins the public names: removing or renaming one is a breaking change and must be deliberate."""

from __future__ import annotations

import importlib

import pytest

import acquire


def test_public_names_are_pinned() -> None:
    assert sorted(acquire.__all__) == sorted(
        [
            "AcquireClient",
            "AcquireWorkerSettings",
            "AcquireError",
            "AnalysisWorkerSettings",
            "ConfigurationError",
            "EmbeddedRedis",
            "EventType",
            "ItemCompleted",
            "ItemFailed",
            "ItemState",
            "ItemStatus",
            "JobCompleted",
            "JobEvent",
            "JobFailed",
            "JobFailedError",
            "JobHandle",
            "JobKind",
            "JobNotFinishedError",
            "JobNotFoundError",
            "JobQueued",
            "JobResult",
            "JobRetrying",
            "JobStarted",
            "JobState",
            "JobStatus",
            "NotFoundError",
            "OrgQueueFullError",
            "PermanentError",
            "RateLimitedError",
            "ResultFormatError",
            "RiskDriftRequest",
            "RiskDriftResult",
            "SecFilingsRequest",
            "SecFilingsResult",
            "Settings",
            "StepComplete",
            "TransientError",
            "WorkerHooks",
            "WorkerSettings",
            "XbrlFactsRequest",
            "XbrlFactsResult",
            "YahooRequest",
            "YahooResult",
            "__version__",
            "build_worker_settings",
            "compose_hooks",
            "get_settings",
            "parse_request",
            "task_functions",
            "worker_hooks",
        ]
    )


#: The ``__all__`` of each public subpackage. Adding a name is a line here; removing or renaming
#: one is a breaking change.
SUBPACKAGES: dict[str, list[str]] = {
    "acquire.web": [
        "COOKIE_NAME",
        "AcquireRouter",
        "Authorize",
        "EventFanout",
        "FanoutStats",
        "InvalidTokenError",
        "StreamEvent",
        "Subscription",
        "TokenSigner",
        "api_key_authorizer",
        "bearer_or_api_key",
        "create_router",
    ],
    "acquire.results": [
        "CompanyItem",
        "DriftFilings",
        "DriftYears",
        "FilingRecord",
        "FilingStatus",
        "JobResult",
        "RESULT_MODELS",
        "ResultModel",
        "RiskDriftResult",
        "SecCompanyResult",
        "SecFilingsResult",
        "XbrlCompanyResult",
        "XbrlFactsResult",
        "YahooCompanyResult",
        "YahooResult",
        "company_results",
        "load_result",
    ],
    "acquire.events": [
        "EVENT_MODELS",
        "ItemCompleted",
        "ItemEventData",
        "ItemFailed",
        "JobCompleted",
        "JobCompletedData",
        "JobEvent",
        "JobFailed",
        "JobFailedData",
        "JobQueued",
        "JobQueuedData",
        "JobRetrying",
        "JobRetryingData",
        "JobStarted",
        "JobStartedData",
        "StepComplete",
        "StepCompleteData",
        "parse_event",
    ],
    "acquire.webhooks": [
        "DEFAULT_TOLERANCE",
        "Signer",
        "WebhookMessage",
        "WebhookVerificationError",
        "build_message",
        "encode_payload",
        "generate_secret",
        "sign",
        "verify",
    ],
    "acquire.analysis": [
        "CategoryDrift",
        "ChangeStatus",
        "FactorChange",
        "FactorText",
        "HeatmapCell",
        "Item1ANotFoundError",
        "Item1ASection",
        "Lexicon",
        "Matching",
        "RiskCategory",
        "RiskDriftReport",
        "RiskFactor",
        "SectionStats",
        "Segmentation",
        "SegmentedSection",
        "SimilarityScores",
        "SummaryRewriter",
        "ToneScores",
        "analyze_risk_drift",
        "analyze_sections",
        "classify",
        "default_lexicon",
        "extract_item1a",
        "load_lm_master_dictionary",
        "match_factors",
        "score_tone",
        "segment_risk_factors",
        "similarity",
        "split_risk_factors",
    ],
}


@pytest.mark.parametrize("name", sorted(SUBPACKAGES))
def test_subpackage_public_names_are_pinned(name: str) -> None:
    module = importlib.import_module(name)
    assert sorted(module.__all__) == sorted(SUBPACKAGES[name])
    for attribute in module.__all__:
        assert getattr(module, attribute) is not None, f"{name}.{attribute}"


@pytest.mark.parametrize("old", ["JobNotFound", "JobNotFinished", "SettingsError"])
def test_deprecated_aliases_warn_and_resolve(old: str) -> None:
    with pytest.warns(DeprecationWarning, match=old):
        alias = getattr(acquire, old)
    assert issubclass(alias, acquire.AcquireError) and old not in acquire.__all__


def test_every_public_name_resolves() -> None:
    for name in acquire.__all__:
        if name not in ("WorkerSettings", "AnalysisWorkerSettings"):
            assert getattr(acquire, name) is not None, name


def test_event_names_are_the_documented_ones() -> None:
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
