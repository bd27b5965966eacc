"""One-line progress of a followed job, as the CLI's ``watch`` and the demo print it."""

from __future__ import annotations

from acquire.events import (
    ItemCompleted,
    ItemFailed,
    JobCompleted,
    JobEvent,
    JobFailed,
    JobRetrying,
    StepComplete,
)

__all__ = ["describe_event", "event_progress", "progress_line"]


def progress_line(kind: str, job_id: str, progress: int, label: str, width: int = 30) -> str:
    """``kind job-id [####......]  40% label`` (the first 8 characters of the id)."""
    filled = round(width * max(0, min(100, progress)) / 100)
    return f"{kind:<12} {job_id[:8]} [{'#' * filled}{'.' * (width - filled)}] {progress:3d}% {label}"


def event_progress(event: JobEvent, progress: int) -> int:
    """The job's progress after ``event``, given ``progress`` before it."""
    if isinstance(event, JobCompleted):
        return 100
    if isinstance(event, StepComplete) and event.data.progress is not None:
        return event.data.progress
    return progress


def describe_event(event: JobEvent) -> str:
    """A short label for ``event``: the step, the item and its outcome, or the error."""
    if isinstance(event, StepComplete):
        return event.data.step
    if isinstance(event, ItemCompleted | ItemFailed):
        return f"{event.event.value.split('_')[1]} {event.data.item}"
    if isinstance(event, JobRetrying):
        return f"retrying: {event.data.error or ''}"
    if isinstance(event, JobFailed):
        return f"failed: {event.data.error or ''}"
    return event.event.value.removeprefix("job_")
