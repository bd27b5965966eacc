"""acquire: financial-data acquisition as typed, observable, multi-tenant arq jobs.

Run a worker with ``arq acquire.WorkerSettings``, enqueue and follow jobs with
:class:`AcquireClient`, and mount :func:`create_router` in a Starlette or FastAPI app.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from acquire.client import AcquireClient, JobHandle
from acquire.errors import (
    DEPRECATED_ALIASES,
    AcquireError,
    ConfigurationError,
    JobFailedError,
    JobNotFinishedError,
    JobNotFoundError,
    NotFoundError,
    OrgQueueFullError,
    PermanentError,
    RateLimitedError,
    ResultFormatError,
    TransientError,
)
from acquire.events import (
    ItemCompleted,
    ItemFailed,
    JobCompleted,
    JobEvent,
    JobFailed,
    JobQueued,
    JobRetrying,
    JobStarted,
    StepComplete,
)
from acquire.models import (
    EventType,
    ItemState,
    ItemStatus,
    JobKind,
    JobState,
    JobStatus,
    RiskDriftRequest,
    SecFilingsRequest,
    XbrlFactsRequest,
    YahooRequest,
    parse_request,
)
from acquire.settings import Settings, get_settings

if TYPE_CHECKING:
    from acquire.results import JobResult, RiskDriftResult, SecFilingsResult, XbrlFactsResult, YahooResult
    from acquire.testing.embedded import EmbeddedRedis
    from acquire.worker import (
        AcquireWorkerSettings,
        WorkerHooks,
        build_worker_settings,
        compose_hooks,
        task_functions,
        worker_hooks,
    )

    WorkerSettings: type[AcquireWorkerSettings]
    AnalysisWorkerSettings: type[AcquireWorkerSettings]

from acquire.version import __version__

#: Result models, loaded on first access (they import the analysis package).
_RESULTS = ("JobResult", "RiskDriftResult", "SecFilingsResult", "XbrlFactsResult", "YahooResult")

__all__ = [
    "AcquireClient",
    "AcquireError",
    "AcquireWorkerSettings",
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

#: Worker helpers, loaded on first access (they import the job runtime).
_WORKER = (
    "AcquireWorkerSettings",
    "WorkerHooks",
    "build_worker_settings",
    "compose_hooks",
    "task_functions",
    "worker_hooks",
)

_built: dict[str, type] = {}


def __getattr__(name: str) -> Any:
    # The worker and the offline tools load on first access, so `import acquire` (and
    # `import acquire.client`) loads no job runtime and reads no settings, while
    # `arq acquire.WorkerSettings` gets a class validated against the environment.
    if name in ("WorkerSettings", "AnalysisWorkerSettings"):
        if name not in _built:
            from acquire.worker import build_worker_settings

            _built[name] = build_worker_settings(analysis=name == "AnalysisWorkerSettings")
        return _built[name]
    if name in _WORKER:
        from acquire import worker

        return getattr(worker, name)
    if name in _RESULTS:
        from acquire import results

        return getattr(results, name)
    if name == "EmbeddedRedis":
        from acquire.testing.embedded import EmbeddedRedis

        return EmbeddedRedis
    if name in DEPRECATED_ALIASES:
        new = DEPRECATED_ALIASES[name]
        warnings.warn(f"acquire.{name} is deprecated; use {new}", DeprecationWarning, stacklevel=2)
        return globals()[new]
    raise AttributeError(f"module 'acquire' has no attribute {name!r}")
