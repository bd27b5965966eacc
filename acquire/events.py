"""Progress events as models: one per event type, each with its typed ``data``.

:data:`JobEvent` is their union, discriminated by ``event``; the client, the SSE router and the
CLI all parse stream entries with :func:`parse_event`, so they see the same models:

>>> async for event in job.events():
...     if isinstance(event, StepComplete):
...         print(event.data.step, event.data.progress)

``data`` models keep fields they do not know (a newer worker's), so re-serialising an event
(the SSE router does) loses nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from acquire.models import EventType, ItemState, JobKind, JobState

__all__ = [
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
]


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")


class JobQueuedData(_Data):
    kind: JobKind


class JobStartedData(_Data):
    attempt: int = 1


class StepCompleteData(_Data):
    step: str
    progress: int | None = Field(None, description="0-100 after the step (absent: unchanged).")


class ItemEventData(_Data):
    item: str = Field(description="The item's key (a company).")
    state: ItemState
    error: str | None = None


class JobRetryingData(_Data):
    attempt: int = 1
    error: str | None = None
    retry_in: float | None = Field(None, description="Seconds until the next attempt.")


class _FinalData(_Data):
    summary: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    error_type: str | None = None


class JobCompletedData(_FinalData):
    state: JobState = Field(JobState.COMPLETED, description="completed or partially_failed")


class JobFailedData(_FinalData):
    state: JobState = JobState.FAILED


class _Event(BaseModel):
    """What every event has. ``id`` is the Redis Stream id: monotonic, usable to resume."""

    model_config = ConfigDict(frozen=True)

    id: str
    job_id: str
    at: datetime


class JobQueued(_Event):
    event: Literal[EventType.JOB_QUEUED] = EventType.JOB_QUEUED
    data: JobQueuedData


class JobStarted(_Event):
    event: Literal[EventType.JOB_STARTED] = EventType.JOB_STARTED
    data: JobStartedData = JobStartedData()


class StepComplete(_Event):
    event: Literal[EventType.STEP_COMPLETE] = EventType.STEP_COMPLETE
    data: StepCompleteData


class ItemCompleted(_Event):
    event: Literal[EventType.ITEM_COMPLETED] = EventType.ITEM_COMPLETED
    data: ItemEventData


class ItemFailed(_Event):
    event: Literal[EventType.ITEM_FAILED] = EventType.ITEM_FAILED
    data: ItemEventData


class JobRetrying(_Event):
    event: Literal[EventType.JOB_RETRYING] = EventType.JOB_RETRYING
    data: JobRetryingData = JobRetryingData()


class JobCompleted(_Event):
    event: Literal[EventType.JOB_COMPLETED] = EventType.JOB_COMPLETED
    data: JobCompletedData = JobCompletedData()


class JobFailed(_Event):
    event: Literal[EventType.JOB_FAILED] = EventType.JOB_FAILED
    data: JobFailedData = JobFailedData()


#: Any progress event; ``event`` tells which (and so the type of ``data``).
JobEvent = Annotated[
    JobQueued
    | JobStarted
    | StepComplete
    | ItemCompleted
    | ItemFailed
    | JobRetrying
    | JobCompleted
    | JobFailed,
    Field(discriminator="event"),
]

#: The model of each event type.
EVENT_MODELS: dict[EventType, type[_Event]] = {
    EventType.JOB_QUEUED: JobQueued,
    EventType.JOB_STARTED: JobStarted,
    EventType.STEP_COMPLETE: StepComplete,
    EventType.ITEM_COMPLETED: ItemCompleted,
    EventType.ITEM_FAILED: ItemFailed,
    EventType.JOB_RETRYING: JobRetrying,
    EventType.JOB_COMPLETED: JobCompleted,
    EventType.JOB_FAILED: JobFailed,
}

_ADAPTER: TypeAdapter[JobEvent] = TypeAdapter(JobEvent)


def parse_event(data: Any) -> JobEvent:
    """An event from its JSON form (a dict, or JSON text as the SSE router sends it).

    Raises :class:`pydantic.ValidationError` for an unknown type or malformed data.
    """
    if isinstance(data, str | bytes):
        return _ADAPTER.validate_json(data)
    return _ADAPTER.validate_python(data)
