"""A job with a callback_url ends with a signed webhook, delivered and recorded by the worker."""

from __future__ import annotations

import base64
import json

import jsonschema
import pytest
import redis.asyncio as aioredis
from standardwebhooks.webhooks import Webhook

from acquire import metrics
from acquire.client import AcquireClient
from acquire.jobs.webhook import webhook_function
from acquire.models import SecFilingsRequest
from acquire.results.schemas import all_schemas
from acquire.settings import Settings
from tests.support.jobs import drain_with
from tests.support.webhooks import Receiver

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


@pytest.fixture
def hook_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"webhook_secret": SECRET, "webhook_allow_hosts": "127.0.0.1"})


async def test_completion_webhook_is_signed_delivered_and_recorded(
    hook_settings: Settings, redis: aioredis.Redis, receiver: Receiver
) -> None:
    async with await AcquireClient.connect(hook_settings) as client:
        job = await client.submit(
            "acme", SecFilingsRequest(companies=["NVDA"], years=[2024], callback_url=f"{receiver.url}/hooks")
        )
        await drain_with(hook_settings, [webhook_function(hook_settings)])
        assert len(receiver.requests) == 1
        request = receiver.requests[0]
        payload = Webhook(SECRET).verify(request.body, request.headers)
        assert payload["job_id"] == job.job_id and payload["status"] == "completed"
        assert payload["data"]["summary"] == {"count": 1}
        # the typed result rides along, and the payload fits the published schema
        assert payload["data"]["result"] == (await job.result()).model_dump(mode="json")
        jsonschema.validate(payload, all_schemas()["webhook"])
        attempts = await client.store.get_webhooks("acme", job.job_id)
        assert [a["outcome"] for a in attempts] == ["delivered"]
        assert attempts[0]["status_code"] == 200


async def test_webhook_retries_then_gives_up_on_410(
    hook_settings: Settings, redis: aioredis.Redis, receiver: Receiver
) -> None:
    receiver.answer(503, {"retry-after": "0"})
    receiver.answer(410)
    webhook = metrics.for_kind("webhook")
    before = (webhook.total, webhook.failures, webhook.retries, sum(webhook.buckets))
    async with await AcquireClient.connect(hook_settings) as client:
        job = await client.submit(
            "acme", SecFilingsRequest(companies=["BOOM"], years=[2024], callback_url=f"{receiver.url}/hooks")
        )
        await drain_with(hook_settings, [webhook_function(hook_settings)])
        attempts = await client.store.get_webhooks("acme", job.job_id)
        assert [(a["status_code"], a["outcome"]) for a in attempts] == [(503, "retry"), (410, "gave_up")]
        bodies = {r.body for r in receiver.requests}
        assert len(bodies) == 1  # the same message both times
        assert json.loads(next(iter(bodies)))["status"] == "failed"
        ids = {r.headers["webhook-id"] for r in receiver.requests}
        assert ids == {f"msg_{job.job_id}"}
    # One delivery that ended (gave up) after one retry; both attempts timed.
    after = (webhook.total, webhook.failures, webhook.retries, sum(webhook.buckets))
    assert [b - a for a, b in zip(before, after, strict=True)] == [1, 1, 1, 2]


async def test_internal_callback_is_blocked_without_allow_list(
    settings: Settings, redis: aioredis.Redis, receiver: Receiver
) -> None:
    guarded = settings.model_copy(update={"webhook_secret": SECRET, "webhook_allow_hosts": ""})
    failures = metrics.for_kind("webhook").failures
    async with await AcquireClient.connect(guarded) as client:
        job = await client.submit(
            "acme", SecFilingsRequest(companies=["NVDA"], years=[2024], callback_url=f"{receiver.url}/hooks")
        )
        await drain_with(guarded, [webhook_function(guarded)])
        attempts = await client.store.get_webhooks("acme", job.job_id)
        assert attempts[0]["outcome"] == "gave_up" and "blocked" in attempts[0]["error"]
    assert receiver.requests == []
    assert metrics.for_kind("webhook").failures == failures + 1
