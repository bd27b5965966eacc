"""acquire: financial-data acquisition as typed, observable, multi-tenant arq jobs.

Run a worker with ``arq acquire.WorkerSettings``, enqueue and follow jobs with
:class:`AcquireClient`, and mount :func:`create_router` in a Starlette or FastAPI app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from acquire.client import AcquireClient, JobHandle
from acquire.embedded import EmbeddedRedis
from acquire.errors import (
    AcquireError,
    ConfigurationError,
    JobNotFinished,
    JobNotFound,
    NotFoundError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from acquire.models import (
    EventType,
    ItemState,
    ItemStatus,
    JobEvent,
    JobKind,
    JobState,
    JobStatus,
    RiskDriftRequest,
    SecFilingsRequest,
    XbrlFactsRequest,
    YahooRequest,
    parse_request,
)
from acquire.settings import Settings, SettingsError, get_settings
from acquire.worker import build_worker_settings

if TYPE_CHECKING:
    WorkerSettings: type
    AnalysisWorkerSettings: type

__version__ = "0.1.0"

__all__ = [
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
    "JobNotFinished",
    "JobNotFound",
    "JobState",
    "JobStatus",
    "NotFoundError",
    "PermanentError",
    "RateLimitedError",
    "RiskDriftRequest",
    "SecFilingsRequest",
    "Settings",
    "SettingsError",
    "TransientError",
    "WorkerSettings",
    "XbrlFactsRequest",
    "YahooRequest",
    "__version__",
    "build_worker_settings",
    "get_settings",
    "parse_request",
]

_built: dict[str, type] = {}


def __getattr__(name: str) -> Any:
    # Built on first access, from the environment: `import acquire` alone reads no settings,
    # while `arq acquire.WorkerSettings` gets a class validated against the environment.
    if name in ("WorkerSettings", "AnalysisWorkerSettings"):
        if name not in _built:
            _built[name] = build_worker_settings(analysis=name == "AnalysisWorkerSettings")
        return _built[name]
    raise AttributeError(f"module 'acquire' has no attribute {name!r}")
