"""One-line progress of a followed job, as the CLI's ``watch`` and the demo print it."""

from __future__ import annotations

from acquire.models import JobEvent

__all__ = ["describe_event", "progress_line"]


def progress_line(kind: str, job_id: str, progress: int, label: str, width: int = 30) -> str:
    """``kind job-id [####......]  40% label`` (the first 8 characters of the id)."""
    filled = round(width * max(0, min(100, progress)) / 100)
    return f"{kind:<12} {job_id[:8]} [{'#' * filled}{'.' * (width - filled)}] {progress:3d}% {label}"


def describe_event(event: JobEvent) -> str:
    """A short label for ``event``: the step, the item and its outcome, or the error."""
    data = event.data
    if event.event.value == "step_complete":
        return str(data.get("step", ""))
    if event.event.value in ("item_completed", "item_failed"):
        return f"{event.event.value.split('_')[1]} {data.get('item', '')}"
    if event.event.value == "job_retrying":
        return f"retrying: {data.get('error', '')}"
    if event.event.value == "job_failed":
        return f"failed: {data.get('error', '')}"
    return event.event.value.removeprefix("job_")
