"""The :class:`JobContext` a job's code receives: progress, items, topics, services."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from acquire.models import EventType, ItemState, ItemStatus
from acquire.runtime.services import Envelope, Services, Spread
from acquire.serialization import dumps
from acquire.store.jobs import ItemCounts
from acquire.store.transition import Transition
from acquire.store.wake import wake_workers

__all__ = ["JobContext", "Skip", "describe_error", "now_utc"]

log = logging.getLogger("acquire.jobs")


def now_utc() -> datetime:
    return datetime.now(UTC)


def describe_error(exc: BaseException) -> tuple[str, str]:
    return type(exc).__name__, str(exc) or repr(exc)


def _item_data(data: BaseModel | Mapping[str, Any] | None) -> dict[str, Any]:
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json", exclude_none=True)
    return dict(data or {})


class Skip(BaseException):
    """The job is already final (a duplicate delivery) or expired: stop without writing.

    A ``BaseException`` so that a job's own ``except Exception`` cannot swallow it.
    """


class JobContext:
    """Handed to a job's ``run``: progress reporting, items, topics and shared services."""

    def __init__(
        self,
        services: Services,
        envelope: Envelope,
        attempt: int,
        queue: str,
        start: Transition | None = None,
    ) -> None:
        self.services = services
        self.queue = queue
        self.settings = services.settings
        self.store = services.store
        self.job_id = envelope.job_id
        self.org = envelope.org
        self.kind = envelope.kind
        self.attempt = attempt
        self.envelope = envelope
        #: Item counters as of this process's last item update (saves a read at the end).
        self.counts = ItemCounts(0, 0, 0, counted=False)
        self._start = start
        self._start_task: asyncio.Task[int] | None = None
        self._task: asyncio.Task[Any] | None = None
        self._cancelling = 0
        self._expired = False

    # ---- the deferred start and the soft time limit (see acquire.runtime.watchdog) ------------

    def watch(self, soft: float) -> None:
        """While the job's code runs: start write after 20 ms, soft limit after ``soft`` s."""
        self._task = task = asyncio.current_task()
        self._cancelling = task.cancelling() if task is not None else 0
        now = asyncio.get_running_loop().time()
        self.services.watchdog.watch(self, started=now, deadline=now + soft)

    def unwatch(self) -> None:
        """The job's code has returned or raised."""
        self.services.watchdog.unwatch(self)

    def expire(self) -> None:
        """The soft time limit passed: cancel the job's code (called by the watchdog)."""
        self._expired = True
        if self._task is not None:
            self._task.cancel()

    def soft_limit_hit(self) -> bool:
        """On ``CancelledError``: whether it was the soft limit alone (not also a shutdown).

        Like ``asyncio.timeout``, withdraws the watchdog's cancellation request when it was.
        """
        if not self._expired or self._task is None:
            return False
        return self._task.uncancel() <= self._cancelling

    def flush_start(self) -> None:
        """Write ``job_started`` now, in the background (called by the watchdog)."""
        if self._start is not None and self._start_task is None:
            self._start_task = asyncio.ensure_future(self._write_start(self._start))

    async def _write_start(self, start: Transition) -> int:
        return await self.store.apply_transitions(self.org, self.job_id, [start])

    async def started(self) -> None:
        """Make sure ``job_started`` is written before anything else about this attempt."""
        if self._start is None:
            return
        self.flush_start()
        assert self._start_task is not None
        applied = await self._start_task
        if applied != 1:
            raise Skip("expired" if applied < 0 else "already final")

    async def pending_start(self) -> list[Transition]:
        """At the end of the attempt: the start transition if it was never written."""
        if self._start is None:
            return []
        if self._start_task is not None:
            await self.started()
            self._start = None
            return []
        start, self._start = self._start, None
        return [start]

    # ---- what jobs call ------------------------------------------------------------------

    async def step(self, name: str, progress: int) -> None:
        """Report a finished step; emitted once per step even if the job is retried."""
        await self.started()
        await self.store.update_status(
            self.org,
            self.job_id,
            {"step": name, "progress": max(0, min(100, progress))},
            event=EventType.STEP_COMPLETE,
            data={"step": name, "progress": progress},
            dedupe=f"step:{name}",
        )

    async def set_total(self, total: int) -> None:
        await self.started()
        await self.store.update_status(self.org, self.job_id, {"items_total": total})

    async def item(
        self,
        key: str,
        state: ItemState,
        *,
        data: BaseModel | Mapping[str, Any] | None = None,
        error: BaseException | str | None = None,
    ) -> None:
        """Record one item's outcome (counted once, whatever retries happen)."""
        await self.started()
        error_type = message = None
        if isinstance(error, BaseException):
            error_type, message = describe_error(error)
        elif error is not None:
            message = error
        redact = self.services.redact
        if message is not None and redact.active:
            log.info("item %s of job %s: %s: %s", key, self.job_id, error_type or state.value, message)
            message = redact.text(message)
        self.counts = await self.store.set_item(
            self.org,
            self.job_id,
            ItemStatus(
                key=key,
                state=state,
                error=message,
                error_type=error_type,
                data=redact.tree(_item_data(data)),
                updated_at=now_utc(),
            ),
        )

    async def publish(self, topic: str, data: Mapping[str, Any]) -> None:
        """Append a result to a message-bus stream (at least once; ``job_id`` + ``item`` dedupe)."""
        await self.started()
        await self.services.redis.xadd(
            topic,
            {
                "org": self.org,
                "job_id": self.job_id,
                "kind": self.kind.value,
                "data": dumps(self.services.redact.tree(data)),
            },
            maxlen=self.settings.acquire_topic_maxlen,
            approximate=True,
        )

    async def spread(self, items: Sequence[tuple[str, dict[str, Any]]]) -> Spread:
        """Run one arq job per item, spread over every worker; they finish this job together.

        Item job ids are derived from the job id, so a re-run of this job after a crash does
        not enqueue the items twice. They enter the queue through the org's admission gate
        (:mod:`acquire.store.fairness`) unless ``ACQUIRE_ORG_MAX_INFLIGHT_ITEMS`` is 0.
        """
        await self.set_total(len(items))
        function = f"{self.kind.value}_item"
        if self.services.fair.enabled:
            jobs = [
                (f"{self.job_id}.{index}", function, self._item_envelope(key, payload))
                for index, (key, payload) in enumerate(items)
            ]
            if await self.services.fair.spread(self.org, self.queue, jobs):
                await wake_workers(self.services.redis, self.queue)
            return Spread()
        for index, (key, payload) in enumerate(items):
            await self.services.redis.enqueue_job(
                function,
                self._item_envelope(key, payload),
                _job_id=f"{self.job_id}.{index}",
                _queue_name=self.queue,
            )
        await wake_workers(self.services.redis, self.queue)
        return Spread()

    def _item_envelope(self, key: str, payload: dict[str, Any]) -> dict[str, Any]:
        envelope = self.envelope.model_copy(update={"item": key, "item_payload": payload})
        return envelope.model_dump(mode="json")
