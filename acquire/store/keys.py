"""The one place where Redis key names are built.

Key scheme (``{org}`` is a validated organisation id, ``{id}`` a server-generated job id)::

    acquire:{org}:job:{id}            hash    status record (JobStatus fields)
    acquire:{org}:job:{id}:items      hash    item key -> ItemStatus JSON
    acquire:{org}:job:{id}:result     string  result JSON
    acquire:{org}:job:{id}:events     stream  progress events (JobEvent)
    acquire:{org}:job:{id}:webhooks   list    webhook delivery attempts
    acquire:{org}:job:{id}:seen       set     dedupe tokens of events appended once
    acquire:{org}:job:{id}:documents  hash    accession -> the job's reference to a stored document
    acquire:{org}:jobs                zset    job ids by creation time (recent jobs)
    acquire:{org}:idem:{key}          string  idempotency key -> job id
    acquire:active                    zset    "{org}/{id}" of unfinished jobs, for the reconciler
    acquire:{org}:backlog:{queue}     list    the org's item jobs waiting to enter the queue
    acquire:{org}:backlog:{queue}:jobs hash   job id -> its item jobs in that backlog
    acquire:{org}:inflight:{queue}    zset    the org's item jobs on the queue (arq job ids)
    acquire:backlogged:{queue}        set     orgs with a non-empty backlog for the queue
    acquire:ratelimit:{name}          zset    fleet-wide request log of an upstream
    acquire:ratelimit:{name}:waiters  zset    requests waiting for a grant (lease end)
    acquire:pause:{name}              string  fleet-wide pause of an upstream (TTL = block)
    acquire:cache:{namespace}:{key}   string  HTTP cache entry
    acquire:documents:index           zset    sha256 -> time before which it is never swept
    acquire:documents:{sha256}:refs   set     documents keys of the jobs referencing it
    acquire:documents:{sha256}:lock   string  held while the sweeper deletes it
    acquire:documents:{sha256}:data   string  the bytes (Redis document store backend)
    acquire:yahoo:session             hash    shared Yahoo cookie and crumb
    acquire:web:wake:{token}          stream  wakes one web process's SSE reader (short TTL)
    acquire:wake:{queue}              list    wakes an idle worker of an arq queue (one entry)
    acquire:reconcile:{n}             string  the worker running reconciler pass n (short TTL)

Everything under ``acquire:{org}:`` expires with the job's result TTL. Stored documents are
shared by every job and org that fetched them and removed by the sweeper of
:mod:`acquire.store.documents` once no live job references them. arq's own keys
(``arq:job:{id}``, ``arq:result:{id}``, the queue zset) are left to arq.
"""

from __future__ import annotations

from typing import NamedTuple

from acquire.ids import ID_PATTERN, ORG_PATTERN

__all__ = [
    "ID_PATTERN",
    "ORG_PATTERN",
    "SCRIPT_SUFFIXES",
    "JobKeys",
    "active",
    "active_member",
    "cache",
    "document_blob",
    "document_index",
    "document_lock",
    "document_refs",
    "idempotency",
    "job_documents",
    "job_events",
    "job_items",
    "job_keys",
    "job_result",
    "job_status",
    "job_text",
    "job_webhooks",
    "org_jobs",
    "parse_active_member",
    "pause",
    "queue_wake",
    "ratelimit",
    "ratelimit_waiters",
    "reconcile_lease",
    "sse_wake",
    "yahoo_session",
]

PREFIX = "acquire"


def _check(org: str, job_id: str | None = None) -> None:
    # Defence in depth: models validate these at the edge, but a key builder must never be
    # the place where one tenant's input becomes another tenant's key.
    if not ORG_PATTERN.fullmatch(org):
        raise ValueError(f"invalid organisation id {org!r}")
    if job_id is not None and not ID_PATTERN.fullmatch(job_id):
        raise ValueError(f"invalid job id {job_id!r}")


def job_status(org: str, job_id: str) -> str:
    """The hash holding the job's status record; the other keys of the job extend it."""
    _check(org, job_id)
    return f"{PREFIX}:{org}:job:{job_id}"


# Suffixes of a job's other keys, after :func:`job_status` (one spelling for both builders below).
_ITEMS, _RESULT, _EVENTS, _WEBHOOKS, _SEEN = ":items", ":result", ":events", ":webhooks", ":seen"
_DOCUMENTS, _TEXT = ":documents", ":text"
#: The suffixes a Lua script appends to a job's status key for its other keys (a script builds
#: the keys it touches only on some calls, rather than receiving every name as an argument).
SCRIPT_SUFFIXES = {"result": _RESULT, "seen": _SEEN, "text": _TEXT}


class JobKeys(NamedTuple):
    """Every key of one job, built with one validation (the store's hot path)."""

    status: str
    items: str
    result: str
    events: str
    webhooks: str
    seen: str
    #: The status record's long text fields (:func:`job_text`).
    text: str
    #: The job's member in the :func:`active` set.
    active_member: str


def job_keys(org: str, job_id: str) -> JobKeys:
    base = job_status(org, job_id)
    return JobKeys(
        base,
        base + _ITEMS,
        base + _RESULT,
        base + _EVENTS,
        base + _WEBHOOKS,
        base + _SEEN,
        base + _TEXT,
        _member(org, job_id),
    )


def job_items(org: str, job_id: str) -> str:
    return job_status(org, job_id) + _ITEMS


def job_result(org: str, job_id: str) -> str:
    return job_status(org, job_id) + _RESULT


def job_text(org: str, job_id: str) -> str:
    """The hash holding the status record's fields of unbounded length (request, summary, error).

    Kept apart so the status hash holds only short values and Redis keeps it in its compact
    encoding (a listpack while every value fits ``hash-max-listpack-value``, 64 bytes by
    default): a third of the memory of the hash table that one long value turns it into.
    """
    return job_status(org, job_id) + _TEXT


def job_events(org: str, job_id: str) -> str:
    return job_status(org, job_id) + _EVENTS


def job_webhooks(org: str, job_id: str) -> str:
    return job_status(org, job_id) + _WEBHOOKS


def job_documents(org: str, job_id: str) -> str:
    return job_status(org, job_id) + _DOCUMENTS


def org_jobs(org: str) -> str:
    _check(org)
    return f"{PREFIX}:{org}:jobs"


def idempotency(org: str, key: str) -> str:
    _check(org)
    return f"{PREFIX}:{org}:idem:{key}"


def active() -> str:
    return f"{PREFIX}:active"


def active_member(org: str, job_id: str) -> str:
    _check(org, job_id)
    return _member(org, job_id)


def _member(org: str, job_id: str) -> str:
    return f"{org}/{job_id}"


def parse_active_member(member: str) -> tuple[str, str]:
    """``(org, job_id)`` from an :func:`active_member`; ``ValueError`` if malformed."""
    org, _, job_id = member.partition("/")
    _check(org, job_id)
    return org, job_id


def org_backlog(org: str, queue: str) -> str:
    """List of an org's item jobs waiting to enter ``queue`` (:mod:`acquire.store.fairness`)."""
    _check(org)
    return f"{PREFIX}:{org}:backlog:{queue}"


def org_backlog_jobs(org: str, queue: str) -> str:
    """Hash of job id -> how many of its item jobs wait in the org's backlog for ``queue``."""
    _check(org)
    return f"{PREFIX}:{org}:backlog:{queue}:jobs"


def org_in_flight(org: str, queue: str) -> str:
    """Zset of an org's item jobs on ``queue`` (queued there or running), by arq job id."""
    _check(org)
    return f"{PREFIX}:{org}:inflight:{queue}"


def backlogged_orgs(queue: str) -> str:
    """Set of the orgs whose backlog for ``queue`` is not empty."""
    return f"{PREFIX}:backlogged:{queue}"


def ratelimit(name: str) -> str:
    return f"{PREFIX}:ratelimit:{name}"


def ratelimit_waiters(name: str) -> str:
    """Requests waiting for a grant of upstream ``name``, by share, scored by lease end."""
    return f"{PREFIX}:ratelimit:{name}:waiters"


def pause(name: str) -> str:
    return f"{PREFIX}:pause:{name}"


def cache(namespace: str, key: str) -> str:
    return f"{PREFIX}:cache:{namespace}:{key}"


DOCUMENTS = f"{PREFIX}:documents:"


def document_index() -> str:
    return DOCUMENTS + "index"


def document_refs(sha256: str) -> str:
    return f"{DOCUMENTS}{sha256}:refs"


def document_lock(sha256: str) -> str:
    return f"{DOCUMENTS}{sha256}:lock"


def document_blob(sha256: str) -> str:
    return f"{DOCUMENTS}{sha256}:data"


def sse_wake(token: str) -> str:
    """The private wake-up stream of one web process's SSE reader (``token``: random hex)."""
    return f"{PREFIX}:web:wake:{token}"


def queue_wake(queue: str) -> str:
    """The list an idle worker of arq queue ``queue`` blocks on (see :mod:`acquire.store.wake`)."""
    return f"{PREFIX}:wake:{queue}"


def reconcile_lease(period: int) -> str:
    """Held by the one worker of the fleet running reconciler pass ``period``."""
    return f"{PREFIX}:reconcile:{period}"


def yahoo_session() -> str:
    return f"{PREFIX}:yahoo:session"
