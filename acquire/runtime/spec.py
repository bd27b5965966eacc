"""What a job kind is made of: its steps (``run``, ``run_item``), how its items assemble, its limits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from acquire.models import ANALYSIS_KINDS, ItemState, ItemStatus, JobKind
from acquire.runtime.context import JobContext
from acquire.runtime.services import Outcome, Spread
from acquire.settings import Settings
from acquire.store.jobs import StoredResult

__all__ = ["AssembleFn", "JobSpec", "Req", "Res", "RunFn", "RunItemFn"]


#: A job's request model and result model.
Req = TypeVar("Req")
Res = TypeVar("Res", bound=StoredResult)

RunFn = Callable[[JobContext, Req], Awaitable["Outcome[Res] | Spread"]]
RunItemFn = Callable[[JobContext, Req, str, dict[str, Any]], Awaitable[BaseModel | Mapping[str, Any]]]
AssembleFn = Callable[[Req, list[ItemStatus]], "Outcome[Res]"]


def _default_assemble(request: Any, items: list[ItemStatus]) -> Outcome[dict[str, Any]]:
    done = [i for i in items if i.state == ItemState.COMPLETED]
    return Outcome(
        result={"items": [i.model_dump(mode="json") for i in items]},
        summary={"items": len(items), "completed": len(done)},
    )


# Typed Any: the default fits whatever result a kind without items declares.
_DEFAULT_ASSEMBLE: Any = _default_assemble


@dataclass(frozen=True)
class JobSpec(Generic[Req, Res]):
    """One job kind: its steps, and optionally its per-item steps when it spreads out.

    Generic in the kind's request and result models: a
    ``JobSpec[SecFilingsRequest, SecFilingsResult]`` takes only steps of that request and an
    ``assemble`` that builds that result, so a spec mixing kinds does not type-check.
    """

    kind: JobKind
    run: RunFn[Req, Res]
    run_item: RunItemFn[Req] | None = None
    #: Builds the result of a spread job from its items (by default, a list of them).
    assemble: AssembleFn[Req, Res] = _DEFAULT_ASSEMBLE

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
        # A tenth of the limit, but at least half a second (or half a short limit): the job
        # must still be able to report its timeout before arq's hard limit cancels it.
        return hard - max(hard * 0.1, min(hard * 0.5, 0.5)), hard

    def queue(self, settings: Settings) -> str:
        return settings.acquire_analysis_queue if self.analysis else settings.acquire_queue
