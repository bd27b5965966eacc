"""What a job kind is made of: its steps (``run``, ``run_item``), how its items assemble, its limits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from acquire.models import ANALYSIS_KINDS, ItemState, ItemStatus, JobKind, JobRequest
from acquire.runtime.context import JobContext
from acquire.runtime.services import Outcome, Spread
from acquire.settings import Settings

__all__ = ["AssembleFn", "JobSpec", "RunFn", "RunItemFn"]


RunFn = Callable[[JobContext, Any], Awaitable[Outcome | Spread]]
RunItemFn = Callable[[JobContext, Any, str, dict[str, Any]], Awaitable[BaseModel | Mapping[str, Any]]]
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
