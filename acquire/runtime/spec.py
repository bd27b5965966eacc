"""What a job kind is made of: its spec, the services it shares, what it returns."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from arq.connections import ArqRedis
from pydantic import BaseModel

from acquire.models import ANALYSIS_KINDS, ItemState, ItemStatus, JobKind, JobRequest
from acquire.runtime.watchdog import Watchdog
from acquire.settings import Settings
from acquire.store.jobs import JobStore

if TYPE_CHECKING:
    from acquire.runtime.context import JobContext

__all__ = ["AssembleFn", "Envelope", "JobSpec", "Outcome", "RunFn", "RunItemFn", "Services", "Spread"]


@dataclass
class Services:
    """What a worker builds once at startup and every job shares (clients, pools, store)."""

    settings: Settings
    redis: ArqRedis
    store: JobStore
    resources: dict[str, Any] = field(default_factory=dict)
    #: Looks after running jobs' deferred start writes and soft time limits.
    watchdog: Watchdog = field(default_factory=Watchdog)

    def get(self, name: str) -> Any:
        """A shared resource by name (e.g. ``"edgar"``), with a clear error when missing."""
        try:
            return self.resources[name]
        except KeyError:
            raise RuntimeError(f"worker resource {name!r} is not configured") from None


class Envelope(BaseModel):
    """The JSON payload of an acquire arq job."""

    job_id: str
    org: str
    kind: JobKind
    request: dict[str, Any]
    item: str | None = None
    item_payload: dict[str, Any] | None = None


@dataclass
class Outcome:
    """What a job's ``run`` returns: its result and a short summary for the status record."""

    result: Mapping[str, Any]
    summary: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Spread:
    """Returned by ``run`` after :meth:`JobContext.spread`: the item jobs will finish the job."""


RunFn = Callable[["JobContext", Any], Awaitable[Outcome | Spread]]
RunItemFn = Callable[["JobContext", Any, str, dict[str, Any]], Awaitable[dict[str, Any]]]
AssembleFn = Callable[[JobRequest, list[ItemStatus]], Outcome]


def _default_assemble(request: JobRequest, items: list[ItemStatus]) -> Outcome:
    done = [i for i in items if i.state == ItemState.COMPLETED]
    return Outcome(
        result={"items": [i.model_dump(mode="json") for i in items]},
        summary={"items": len(items), "completed": len(done)},
    )


@dataclass(frozen=True)
class JobSpec:
    """One job kind: its steps, and optionally its per-item steps when it spreads out."""

    kind: JobKind
    run: RunFn
    run_item: RunItemFn | None = None
    assemble: AssembleFn = _default_assemble

    @property
    def analysis(self) -> bool:
        """Analysis kinds run on the analysis queue with the analysis time limits.

        Derived from :data:`acquire.models.ANALYSIS_KINDS`, which the client routes by too.
        """
        return self.kind in ANALYSIS_KINDS

    def timeouts(self, settings: Settings) -> tuple[float, float]:
        """(soft, hard) limits in seconds. The soft limit fires first so the job can report it."""
        if self.analysis:
            hard = settings.acquire_analysis_timeout
            return min(settings.acquire_analysis_soft_timeout, hard * 0.95), hard
        hard = settings.acquire_job_timeout
        return hard * 0.9, hard

    def queue(self, settings: Settings) -> str:
        return settings.acquire_analysis_queue if self.analysis else settings.acquire_queue
