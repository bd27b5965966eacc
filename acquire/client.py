"""The client API host applications use to enqueue jobs and follow them.

>>> client = await AcquireClient.connect()                       # REDIS_URL from the env
>>> job = await client.submit("acme", SecFilingsRequest(companies=["NVDA"], years=[2024]))
>>> async for event in job.events():                             # resumable, ends when done
...     print(event.event, event.data)
>>> result = await job.result()

Requests are validated before anything reaches Redis; job ids are generated here from 128
random bits, never taken from the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast, overload

from arq.connections import ArqRedis
from redis.exceptions import RedisError

from acquire.connection import connect
from acquire.errors import JobFailedError, JobNotFoundError, ResultFormatError, TransientError
from acquire.events import JobEvent
from acquire.ids import new_job_id
from acquire.models import (
    ANALYSIS_KINDS,
    ItemStatus,
    JobKind,
    JobRequest,
    JobState,
    JobStatus,
    RiskDriftRequest,
    SecFilingsRequest,
    XbrlFactsRequest,
    YahooRequest,
    compact_request,
    parse_request,
    validate_org,
)
from acquire.settings import Settings, get_settings
from acquire.store.documents import DocumentNotFoundError, DocumentStore, StoredDocument
from acquire.store.events import EventReader
from acquire.store.fairness import FairGate
from acquire.store.jobs import JobStore
from acquire.store.wake import QueueEntry

if TYPE_CHECKING:
    from acquire.results import JobResult, RiskDriftResult, SecFilingsResult, XbrlFactsResult, YahooResult

__all__ = ["AcquireClient", "JobHandle", "new_job_id"]

#: The result model a handle's :meth:`JobHandle.result` returns.
R = TypeVar("R", covariant=True)

_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


class JobHandle(Generic[R]):
    """One job of one organisation: status, items, events and its result, typed ``R``.

    ``client.submit(org, SecFilingsRequest(...))`` gives a ``JobHandle[SecFilingsResult]``;
    a handle from :meth:`AcquireClient.job` or a mapping request is a ``JobHandle[JobResult]``
    whose result is the stored kind's model.
    """

    def __init__(self, client: AcquireClient, org: str, job_id: str, kind: JobKind | None = None) -> None:
        self._client = client
        self.org = org
        self.job_id = job_id
        self._kind = kind

    def __repr__(self) -> str:
        return f"JobHandle(org={self.org!r}, job_id={self.job_id!r})"

    async def status(self) -> JobStatus:
        """The status record; :class:`~acquire.errors.JobNotFoundError` if missing or expired."""
        return await self._client.store.get_status(self.org, self.job_id)

    async def items(self) -> list[ItemStatus]:
        return await self._client.store.get_items(self.org, self.job_id)

    async def result(self) -> R:
        """The result, validated as its kind's model (e.g. :class:`~acquire.results.SecFilingsResult`).

        Raises :class:`~acquire.errors.JobNotFinishedError` while the job runs,
        :class:`~acquire.errors.JobFailedError` when it failed without a result, and
        :class:`~acquire.errors.ResultFormatError` when the stored result does not load
        (written by another acquire version; the message names it).
        """
        from acquire.results import load_result  # the result models load the analysis package

        status, body = await self._client.store.read_result(self.org, self.job_id)
        if self._kind is not None and status.kind != self._kind:
            raise ResultFormatError(f"job {self.job_id} is a {status.kind.value} job, not {self._kind.value}")
        if body is None:
            if status.state == JobState.FAILED:
                raise JobFailedError(
                    f"job {self.job_id} failed: {status.error_type}: {status.error}",
                    error_type=status.error_type,
                    error=status.error,
                )
            raise ResultFormatError(f"job {self.job_id} is {status.state.value} but stored no result")
        return cast(R, load_result(status.kind, body, job_id=self.job_id))

    # ---- stored documents (SEC filings jobs) --------------------------------------------

    async def documents(self) -> list[StoredDocument]:
        """The filings this job stored (references: accession, sha256, size, URIs...)."""
        await self.status()
        return await self._client.documents.list_refs(self.org, self.job_id)

    async def document(self, accession: str) -> bytes:
        """A stored filing's bytes, by accession number or sha256.

        Raises :class:`~acquire.store.documents.DocumentNotFoundError` when this job did not
        store it (whoever else did).
        """
        await self.status()
        return (await self._client.documents.read(self.org, self.job_id, accession))[1]

    async def document_text(self, accession: str) -> str:
        """A stored filing's visible text, one paragraph per line (page furniture removed)."""
        await self.status()
        return await self._client.documents.text(self.org, self.job_id, accession)

    async def sections(self, accession: str) -> list[dict[str, Any]]:
        """A stored 10-K's items without their text: item, title, start, end, chars, status."""
        await self.status()
        found = await self._client.documents.sections(self.org, self.job_id, accession)
        return [{k: v for k, v in s.items() if k != "text"} for s in found]

    async def section(self, accession: str, item: str) -> dict[str, Any]:
        """One 10-K item with its text (``job.section(accession, "7")["text"]``)."""
        await self.status()
        for found in await self._client.documents.sections(self.org, self.job_id, accession):
            if found["item"] == item.upper():
                return found
        raise DocumentNotFoundError(f"item {item!r} is not among the stored sections of {accession}")

    async def events(self, after: str = "0") -> AsyncIterator[JobEvent]:
        """Every event after stream id ``after``, then live ones, until the job ends."""
        await self.status()  # raises JobNotFoundError for an unknown job instead of waiting forever
        async for event in self._client.events.follow(self.org, self.job_id, after):
            yield event

    async def wait(self, timeout: float | None = None) -> JobStatus:  # noqa: ASYNC109
        """Wait (following the event stream, not polling) until the job's status is final."""
        async with asyncio.timeout(timeout):
            async for _ in self.events():
                pass
            status = await self.status()
        if not status.state.final:
            raise JobNotFoundError(f"job {self.job_id} expired before finishing")
        return status


class AcquireClient:
    """Enqueue jobs and follow them. Every call names the organisation (tenant)."""

    def __init__(self, redis: ArqRedis, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self.redis = redis
        self.store = JobStore.from_settings(redis, self.settings)
        self.fair = FairGate(redis, self.settings)
        self.events = EventReader(redis)
        self.documents = DocumentStore.from_settings(redis, self.settings)

    @classmethod
    async def connect(cls, settings: Settings | None = None) -> AcquireClient:
        """Connect to ``REDIS_URL`` (or ``settings.redis_url``) with JSON serialisation."""
        settings = settings or get_settings()
        return cls(await connect(settings), settings)

    async def close(self) -> None:
        await self.documents.aclose()
        await self.redis.aclose()

    async def __aenter__(self) -> AcquireClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def job(self, org: str, job_id: str) -> JobHandle[JobResult]:
        """A handle on an existing job (nothing is read until you ask); its result is the model
        of the kind the job was stored with."""
        return JobHandle(self, validate_org(org), job_id)

    @overload
    async def submit(
        self, org: str, request: SecFilingsRequest, *, idempotency_key: str | None = None
    ) -> JobHandle[SecFilingsResult]: ...
    @overload
    async def submit(
        self, org: str, request: XbrlFactsRequest, *, idempotency_key: str | None = None
    ) -> JobHandle[XbrlFactsResult]: ...
    @overload
    async def submit(
        self, org: str, request: YahooRequest, *, idempotency_key: str | None = None
    ) -> JobHandle[YahooResult]: ...
    @overload
    async def submit(
        self, org: str, request: RiskDriftRequest, *, idempotency_key: str | None = None
    ) -> JobHandle[RiskDriftResult]: ...
    @overload
    async def submit(
        self, org: str, request: JobRequest | Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> JobHandle[JobResult]: ...
    async def submit(
        self,
        org: str,
        request: JobRequest | Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> JobHandle[Any]:
        """Validate ``request`` and enqueue it for ``org``; returns a handle on the job.

        With ``idempotency_key``, submitting again returns the job created the first time
        (while it lives) instead of creating another.
        Raises :class:`pydantic.ValidationError` (naming the field) for an invalid request,
        and :class:`~acquire.errors.OrgQueueFullError` when the org already has as many item
        jobs waiting as ``ACQUIRE_ORG_MAX_QUEUED_ITEMS`` allows (nothing is enqueued then).
        """
        validate_org(org)
        parsed = request if not isinstance(request, Mapping) else parse_request(dict(request))
        if idempotency_key is not None and not _IDEMPOTENCY_KEY.fullmatch(idempotency_key):
            raise ValueError("idempotency_key must be 1-128 letters, digits, '.', '_' or '-'")
        companies = getattr(parsed, "companies", None)
        room = None
        if companies and self.fair.enabled and parsed.kind not in ANALYSIS_KINDS:
            room = self.fair.room(org, self.settings.acquire_queue, len(companies))  # checked by create
        job_id = new_job_id()
        status = JobStatus(
            job_id=job_id,
            org=org,
            kind=parsed.kind,
            state=JobState.QUEUED,
            created_at=datetime.now(UTC),
            # Without its default values: the whole request comes back when it is read (and
            # when the worker validates it), and a short one keeps the records compact.
            request=compact_request(parsed),
        )
        queue = (
            self.settings.acquire_analysis_queue
            if parsed.kind in ANALYSIS_KINDS
            else self.settings.acquire_queue
        )
        envelope = {"job_id": job_id, "org": org, "kind": parsed.kind.value, "request": status.request}
        entry = QueueEntry.now(
            queue, job_id, parsed.kind.value, envelope, expires_extra_ms=self.redis.expires_extra_ms
        )
        try:
            # One script: the org's backlog check, the status record, its first event, arq's
            # queue entry, the wake-up.
            stored_id = await self.store.create(
                status, idempotency_key=idempotency_key, enqueue=entry, room=room
            )
        except RedisError as exc:
            # The reply was lost or Redis was unreachable: the script ran entirely or not at
            # all. Never leave a status record for a job that is not on the queue.
            await asyncio.shield(self._undo(org, job_id, entry, idempotency_key))
            raise TransientError("Redis was unavailable while enqueueing the job; submit it again") from exc
        if not stored_id:
            raise TransientError("arq already has a job with this id; submit it again")
        if stored_id.startswith("#") and room is not None:
            raise self.fair.full_error(org, int(stored_id[1:]), room.items)
        return JobHandle(self, org, stored_id, parsed.kind)

    async def _undo(self, org: str, job_id: str, entry: QueueEntry, idempotency_key: str | None) -> None:
        with contextlib.suppress(RedisError):
            await self.redis.zrem(entry.queue, entry.arq_id)
            await self.redis.delete(entry.keys()[0])
            await self.store.delete(org, job_id, idempotency_key=idempotency_key)

    async def list_jobs(self, org: str, limit: int = 50) -> list[JobStatus]:
        """The organisation's most recent jobs, newest first."""
        return await self.store.list_jobs(org, limit)
