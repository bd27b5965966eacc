"""The reconciler: no job is ever left without a final status.

The runtime gives every job it runs a final status. A few things end a job without the
runtime seeing it: arq itself failing it (a function no worker registers, a payload that is
not JSON, its own retry limit), Redis losing the queue entry, or an item job of a spread job
vanishing. Every unfinished job is in the ``acquire:active`` set; every
``ACQUIRE_RECONCILE_INTERVAL`` seconds one worker of the fleet (a background task of the
worker, see :mod:`acquire.worker`) looks at the ones older than ``ACQUIRE_RECONCILE_AFTER``
seconds and compares them with arq's own keys:

- still queued or in progress in arq: alive, look again later;
- arq has a result but the status is not final: arq ended it without acquire, so the job
  fails with arq's reason (e.g. "function 'risk_drift' not found"), or the runtime's final
  write was lost after the job ran, and the job fails saying so;
- a spread job whose item jobs are all gone: missing items fail, the job finishes;
- nothing in arq at all: the job was lost and fails saying so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from arq.constants import in_progress_key_prefix, job_key_prefix, result_key_prefix
from redis.exceptions import ResponseError

from acquire import serialization
from acquire.errors import JobNotFoundError
from acquire.models import ItemState, ItemStatus, JobKind, JobStatus, parse_request
from acquire.runtime.run import Envelope, JobSpec, Services, finish_spread_if_done, write_failed_status
from acquire.store import keys

__all__ = ["ReconcileReport", "reconcile"]

log = logging.getLogger("acquire.reconcile")
_BATCH = 500


@dataclass
class ReconcileReport:
    """What one pass found."""

    checked: int = 0
    alive: int = 0
    failed: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    forgotten: int = 0


async def _arq_alive(services: Services, arq_id: str) -> bool:
    redis = services.redis
    return bool(await redis.exists(job_key_prefix + arq_id, in_progress_key_prefix + arq_id))


async def _arq_outcome(services: Services, arq_id: str) -> tuple[bool, Any] | None:
    raw = await services.redis.get(result_key_prefix + arq_id)
    if raw is None:
        return None
    try:
        data = serialization.deserialize(raw)
        return bool(data.get("s")), data.get("r")
    except (ValueError, AttributeError):
        return False, "unreadable arq result"


async def _reconcile_spread(
    services: Services, status: JobStatus, spec: JobSpec[Any, Any], envelope: Envelope
) -> bool:
    """True when the spread job was finished here; False when some item is still alive."""
    children = [f"{status.job_id}.{n}" for n in range(status.items_total)]
    if services.fair.enabled and await services.fair.waiting_items(
        status.org, spec.queue(services.settings), status.job_id
    ):
        return False  # some item jobs still wait for their org's turn (acquire.store.fairness)
    for child in children:
        if await _arq_alive(services, child):
            return False
    known = {item.key: item for item in await services.store.get_items(status.org, status.job_id)}
    final = {ItemState.COMPLETED, ItemState.FAILED, ItemState.NOT_FOUND}
    missing = status.items_total - sum(1 for i in known.values() if i.state in final)
    for index in range(missing):
        # Item keys of vanished item jobs are unknown; record the loss under a stable name.
        key = f"lost-item-{index}"
        await services.store.set_item(
            status.org,
            status.job_id,
            ItemStatus(
                key=key,
                state=ItemState.FAILED,
                error="item job ended without a result",
                error_type="LostItem",
                updated_at=status.created_at,
            ),
        )
    return await finish_spread_if_done(services, envelope, spec, parse_request(status.request))


async def _reconcile_one(
    services: Services, specs: Mapping[JobKind, JobSpec[Any, Any]], status: JobStatus, report: ReconcileReport
) -> bool:
    """True when the job no longer needs watching."""
    envelope = Envelope(job_id=status.job_id, org=status.org, kind=status.kind, request=status.request)
    if await _arq_alive(services, status.job_id):
        report.alive += 1
        return False
    outcome = await _arq_outcome(services, status.job_id)
    spec = specs.get(status.kind)
    if (
        outcome is not None
        and outcome[0]
        and isinstance(outcome[1], dict)
        and outcome[1].get("state") == "spread"
    ):
        if spec is not None and await _reconcile_spread(services, status, spec, envelope):
            report.finished.append(status.job_id)
            return True
        report.alive += 1
        return False
    if outcome is None:
        reason = (
            "LostJob",
            "the job is no longer in the queue (was Redis flushed or restarted without persistence?)",
        )
    elif outcome[0] and isinstance(outcome[1], dict) and "state" in outcome[1]:
        # The runtime ran it to the end, but its final write never landed (a corrupt record,
        # or a worker that stopped between arq's completion and a retried write).
        reason = (
            "LostResult",
            f"the job ran to the end ({outcome[1]['state']}) but its result was not stored; submit it again",
        )
    else:
        error = outcome[1]
        message = error.message if isinstance(error, serialization.JobError) else str(error)
        reason = ("JobEnded", f"arq ended the job without running it: {message}")
    log.warning("reconciler failing job %s/%s: %s", status.org, status.job_id, reason[1])
    await write_failed_status(services, envelope, *reason)
    report.failed.append(status.job_id)
    return True


async def reconcile(
    services: Services, specs: Mapping[JobKind, JobSpec[Any, Any]], *, older_than: float
) -> ReconcileReport:
    """One pass over unfinished jobs created more than ``older_than`` seconds ago."""
    redis = services.redis
    report = ReconcileReport()
    cutoff = time.time() - older_than
    members = await redis.zrangebyscore(keys.active(), 0, cutoff, start=0, num=_BATCH)
    for raw in members:
        member = raw.decode() if isinstance(raw, bytes) else str(raw)
        report.checked += 1
        try:
            org, job_id = keys.parse_active_member(member)
            status = await services.store.get_status(org, job_id)
        except (ValueError, JobNotFoundError):
            await redis.zrem(keys.active(), member)  # expired or malformed: nothing to finish
            report.forgotten += 1
            continue
        except ResponseError as exc:
            # A record that is not a hash (written by something else): nothing the reconciler
            # can finish, and it must not stop the pass for every other job.
            log.error("reconciler skipping job %s: unreadable status record: %s", member, exc)
            await redis.zrem(keys.active(), member)
            report.forgotten += 1
            continue
        if status.state.final or await _reconcile_one(services, specs, status, report):
            await redis.zrem(keys.active(), member)
        else:
            await redis.zadd(keys.active(), {member: int(time.time())})  # look again next pass
    return report
