"""Webhook delivery as its own retried arq job.

Enqueued by the runtime when a job with a ``callback_url`` reaches a final status (with a
fixed arq job id, so at most one delivery job exists per job). Each attempt is recorded on
the job (``acquire.store.keys.job_webhooks``); a retry is rescheduled with arq's ``Retry`` after
the delay :mod:`acquire.webhooks.delivery` decided.
"""

from __future__ import annotations

import json
import time
from typing import Any

from arq import func
from arq.worker import Retry

from acquire import metrics
from acquire.errors import AcquireError, JobNotFoundError
from acquire.logs import job_context
from acquire.runtime.run import WEBHOOK_FUNCTION, Services
from acquire.settings import Settings
from acquire.store import keys
from acquire.webhooks.delivery import WebhookOutcome, deliver
from acquire.webhooks.message import build_message

__all__ = ["deliver_webhook", "webhook_function"]


def _data(status: Any, result: bytes | None) -> dict[str, Any]:
    data: dict[str, Any] = {"kind": status.kind.value, "summary": status.summary}
    if status.error:
        data["error"], data["error_type"] = status.error, status.error_type
    if result:
        # The stored result is its model's JSON (acquire.results.schemas.WebhookPayload).
        data["result"] = json.loads(result)
    return data


async def deliver_webhook(ctx: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    """One delivery attempt of a job's completion webhook."""
    services: Services = ctx["acquire"]
    org, job_id = str(payload.get("org")), str(payload.get("job_id"))
    job_context.set({"job_id": job_id, "org": org})
    try:
        status = await services.store.get_status(org, job_id)
    except (JobNotFoundError, ValueError):
        return {"outcome": "gave_up", "error": "job not found (expired?)"}
    url = status.request.get("callback_url")
    if not url or not status.state.final:
        return {"outcome": "gave_up", "error": "no callback_url or job not final"}
    attempt = int(ctx.get("job_try", 1))
    result = await services.redis.get(keys.job_result(org, job_id))
    try:
        message = build_message(
            job_id,
            status.state.value,
            _data(status, result),
            settings=services.settings,
            occurred_at=status.finished_at,
        )
    except AcquireError as exc:  # e.g. WEBHOOK_SECRET missing: never send unsigned webhooks
        record = {"attempt": attempt, "outcome": "gave_up", "error": str(exc)}
        _count(WebhookOutcome.GAVE_UP, None)
        await services.store.record_webhook(org, job_id, record)
        return record
    started = time.perf_counter()
    result = await deliver(message, str(url), settings=services.settings, attempt=attempt)
    _count(result.outcome, time.perf_counter() - started)
    await services.store.record_webhook(org, job_id, result.model_dump(mode="json"))
    if result.outcome == WebhookOutcome.RETRY:
        raise Retry(defer=result.retry_in or 1.0)
    return {"outcome": result.outcome.value, "attempt": attempt}


def _count(outcome: WebhookOutcome, seconds: float | None) -> None:
    """Delivery attempts in the job metrics, ``source="webhook"``: a delivery that ended counts
    in ``worker_jobs_total`` (and ``worker_job_failures`` when it gave up); ``seconds`` is the
    attempt's time (None when nothing was sent)."""
    webhook = metrics.for_kind("webhook")
    if seconds is not None:
        webhook.observe(seconds)
    if outcome == WebhookOutcome.RETRY:
        webhook.retries += 1
        return
    webhook.total += 1
    if outcome == WebhookOutcome.GAVE_UP:
        webhook.failures += 1


def webhook_function(settings: Settings) -> Any:
    """The arq function, allowed one more try than deliveries so arq never gives up first."""
    return func(deliver_webhook, name=WEBHOOK_FUNCTION, max_tries=settings.webhook_max_tries + 1)
