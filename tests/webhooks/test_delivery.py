"""Webhook signing and delivery, checked by an independent receiver over real loopback sockets.

The receiver is a small h11 server that records every request's raw bytes; signatures are
verified with the ``standardwebhooks`` reference package, not with our own code.
"""

from __future__ import annotations

import base64
import json
import socket
import string
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
import redis.asyncio as aioredis
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError as ReferenceVerificationError

from acquire.errors import ConfigurationError
from acquire.settings import Settings
from acquire.store import keys
from acquire.store.jobs import JobStore
from acquire.webhooks import (
    Signer,
    WebhookMessage,
    WebhookVerificationError,
    build_message,
    encode_payload,
    generate_secret,
    verify,
)
from acquire.webhooks.delivery import (
    WebhookAttempt,
    WebhookOutcome,
    decide,
    deliver,
    deliver_once,
    retry_delay,
)
from tests.support.webhooks import JOB_ID, SECRET_A, SECRET_B, SECRET_C, Receiver, hook_settings

FINISHED = datetime(2025, 1, 31, 12, 0, 0, tzinfo=UTC)


def message(settings: Settings) -> WebhookMessage:
    return build_message(JOB_ID, "completed", {"rows": 3}, settings=settings, occurred_at=FINISHED)


# ---- signatures, checked by the reference implementation --------------------------------------


async def test_delivered_webhook_verifies_with_standardwebhooks(receiver: Receiver) -> None:
    settings = hook_settings()
    msg = build_message(
        JOB_ID, "completed", {"rows": 3, "name": "Ünïcode"}, settings=settings, occurred_at=FINISHED
    )
    record = await deliver(msg, f"{receiver.url}/hooks/acquire?token=s3cret", settings=settings, attempt=1)

    assert record.outcome == WebhookOutcome.DELIVERED and record.status_code == 200
    assert record.error is None and record.retry_in is None and record.address == "127.0.0.1"
    assert "s3cret" not in record.url and record.url == f"{receiver.url}/hooks/acquire"
    [seen] = receiver.requests
    assert seen.method == "POST" and seen.target == "/hooks/acquire?token=s3cret"
    assert seen.body == msg.body  # the exact bytes that were signed
    assert seen.headers["host"] == f"127.0.0.1:{receiver.port}"
    assert seen.headers["content-type"] == "application/json"
    payload = Webhook(SECRET_A).verify(seen.body, seen.headers)
    assert payload == {
        "job_id": JOB_ID,
        "status": "completed",
        "data": {"rows": 3, "name": "Ünïcode"},
        "timestamp": "2025-01-31T12:00:00.000Z",
    }
    assert seen.body == json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    assert seen.headers["webhook-id"] == f"msg_{JOB_ID}"


async def test_rotation_sends_one_signature_per_secret_and_both_verify(receiver: Receiver) -> None:
    settings = hook_settings(secret=f"{SECRET_A}, {SECRET_B}")
    msg = build_message(JOB_ID, "failed", {"error": "boom"}, settings=settings)
    record = await deliver(msg, receiver.url + "/h", settings=settings, attempt=1)
    assert record.outcome == WebhookOutcome.DELIVERED
    [seen] = receiver.requests
    assert len(seen.headers["webhook-signature"].split(" ")) == 2
    for secret in (SECRET_A, SECRET_B):
        assert Webhook(secret).verify(seen.body, seen.headers)["status"] == "failed"
    with pytest.raises(ReferenceVerificationError):
        Webhook(SECRET_C).verify(seen.body, seen.headers)


async def test_tampered_body_fails_verification(receiver: Receiver) -> None:
    settings = hook_settings()
    msg = build_message(JOB_ID, "completed", {"rows": 3}, settings=settings)
    await deliver(msg, receiver.url, settings=settings, attempt=1)
    [seen] = receiver.requests
    tampered = seen.body.replace(b'"rows":3', b'"rows":4')
    assert tampered != seen.body
    with pytest.raises(ReferenceVerificationError):
        Webhook(SECRET_A).verify(tampered, seen.headers)
    with pytest.raises(WebhookVerificationError, match="no matching signature"):
        verify(tampered, seen.headers, SECRET_A)
    assert verify(seen.body, seen.headers, SECRET_A)["data"] == {"rows": 3}


def test_sign_matches_the_reference_signer() -> None:
    body = b'{"a":1}'
    ours = Signer(SECRET_B).sign("msg_x", 1_700_000_000, body)
    theirs = Webhook(SECRET_B).sign("msg_x", datetime.fromtimestamp(1_700_000_000, UTC), body.decode())
    assert ours == theirs


def test_verify_checks_headers_tolerance_and_versions() -> None:
    settings = hook_settings()
    msg = build_message(JOB_ID, "completed", {}, settings=settings, now=FINISHED)
    now = FINISHED.timestamp()
    assert verify(msg.body, msg.headers, SECRET_A, now=now + 299)["status"] == "completed"
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(msg.body, msg.headers, SECRET_A, now=now + 301)
    with pytest.raises(WebhookVerificationError, match="too new"):
        verify(msg.body, msg.headers, SECRET_A, now=now - 301)
    with pytest.raises(WebhookVerificationError, match="missing"):
        verify(msg.body, {k: v for k, v in msg.headers.items() if k != "webhook-id"}, SECRET_A, now=now)
    with pytest.raises(WebhookVerificationError, match="integer"):
        verify(msg.body, {**msg.headers, "webhook-timestamp": "1e9"}, SECRET_A, now=now)
    with pytest.raises(WebhookVerificationError, match="no matching"):  # a different id
        verify(msg.body, {**msg.headers, "webhook-id": "msg_other"}, SECRET_A, now=now)
    # Unknown versions and garbage tokens are skipped, a valid v1 among them still counts.
    noisy = {**msg.headers, "webhook-signature": "v1a,xyz v1,%%% " + msg.headers["webhook-signature"]}
    assert verify(msg.body, noisy, SECRET_A, now=now)["job_id"] == JOB_ID
    only_other = {**msg.headers, "webhook-signature": msg.headers["webhook-signature"].replace("v1,", "v2,")}
    with pytest.raises(WebhookVerificationError):
        verify(msg.body, only_other, SECRET_A, now=now)
    upper = {k.upper(): v for k, v in msg.headers.items()}
    assert verify(msg.body, upper, Signer([SECRET_C, SECRET_A]), now=now)["job_id"] == JOB_ID


@hsettings(max_examples=60, deadline=None)
@given(
    job_id=st.text(string.ascii_letters + string.digits + "_-", min_size=22, max_size=22),
    data=st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8) | st.none(), max_size=4),
    first=st.integers(1_500_000_000, 2_000_000_000),
    later=st.integers(0, 86_400),
)
def test_retries_of_a_message_keep_its_id_and_body(
    job_id: str, data: dict[str, object], first: int, later: int
) -> None:
    settings = hook_settings(secret=f"{SECRET_A},{SECRET_B}")
    t1 = datetime.fromtimestamp(first, UTC)
    t2 = t1 + timedelta(seconds=later)
    one = build_message(job_id, "completed", data, settings=settings, now=t1, occurred_at=t1)
    two = build_message(job_id, "completed", data, settings=settings, now=t2, occurred_at=t1)
    assert one.msg_id == two.msg_id == one.headers["webhook-id"] == two.headers["webhook-id"]
    assert one.body == two.body
    assert (one.timestamp, two.timestamp) == (first, first + later)
    for msg in (one, two):
        for secret in (SECRET_A, SECRET_B):
            assert verify(msg.body, msg.headers, secret, now=msg.timestamp) == json.loads(msg.body)


async def test_the_same_message_retried_over_the_wire_keeps_its_id(receiver: Receiver) -> None:
    settings = hook_settings()
    receiver.answer(500)
    records = []
    for attempt in (1, 2):
        msg = build_message(JOB_ID, "completed", {"n": 1}, settings=settings, occurred_at=FINISHED)
        records.append(await deliver(msg, receiver.url, settings=settings, attempt=attempt))
    assert [r.outcome for r in records] == [WebhookOutcome.RETRY, WebhookOutcome.DELIVERED]
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == f"msg_{JOB_ID}"
    assert first.body == second.body
    for seen in receiver.requests:
        Webhook(SECRET_A).verify(seen.body, seen.headers)
    assert {r.msg_id for r in records} == {f"msg_{JOB_ID}"}


# ---- retry decisions against a live receiver ---------------------------------------------------


async def test_500_is_retried_with_exponential_backoff(receiver: Receiver) -> None:
    settings = hook_settings()
    msg = message(settings)
    delays = []
    for attempt in (1, 2, 3):
        receiver.answer(500)
        record = await deliver(msg, receiver.url, settings=settings, attempt=attempt)
        assert record.outcome == WebhookOutcome.RETRY and record.status_code == 500
        assert record.error == "HTTP 500" and record.next_retry_at is not None
        delays.append(record.retry_in)
    # Equal jitter: attempt n waits between half and all of 5 s * 2**(n-1).
    for n, delay in enumerate(delays, 1):
        assert delay is not None and 5 * 2 ** (n - 1) / 2 <= delay <= 5 * 2 ** (n - 1)
    assert len(receiver.requests) == 3


async def test_429_with_retry_after_is_honoured(receiver: Receiver) -> None:
    settings = hook_settings()
    receiver.answer(429, {"retry-after": "7"})
    msg = message(settings)
    record = await deliver_once(receiver.url, msg.body, msg.headers, settings=settings, attempt=1)
    assert (record.outcome, record.retry_in, record.status_code) == (WebhookOutcome.RETRY, 7.0, 429)
    assert record.next_retry_at is not None and record.next_retry_at > record.at


async def test_malformed_retry_after_falls_back_to_backoff(receiver: Receiver) -> None:
    settings = hook_settings()
    receiver.answer(503, {"retry-after": "soon"})
    record = await deliver(message(settings), receiver.url, settings=settings, attempt=1)
    assert record.outcome == WebhookOutcome.RETRY and record.retry_in is not None
    assert 2.5 <= record.retry_in <= 5.0


async def test_410_gone_gives_up_and_is_recorded(receiver: Receiver) -> None:
    settings = hook_settings()
    receiver.answer(410)
    record = await deliver(message(settings), receiver.url, settings=settings, attempt=1)
    assert (record.outcome, record.status_code, record.retry_in) == (WebhookOutcome.GAVE_UP, 410, None)
    assert record.error == "HTTP 410"


@pytest.mark.parametrize("status", [200, 202, 204])
async def test_2xx_is_delivered(receiver: Receiver, status: int) -> None:
    settings = hook_settings()
    receiver.answer(status)
    record = await deliver(message(settings), receiver.url, settings=settings, attempt=1)
    assert (record.outcome, record.status_code, record.error) == (WebhookOutcome.DELIVERED, status, None)


async def test_last_attempt_gives_up(receiver: Receiver) -> None:
    settings = hook_settings(webhook_max_tries=3)
    receiver.answer(503, {"retry-after": "1"})
    record = await deliver(message(settings), receiver.url, settings=settings, attempt=3)
    assert (record.outcome, record.status_code) == (WebhookOutcome.GAVE_UP, 503)


async def test_connection_refused_is_retried() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the block ends: nothing listens
    settings = hook_settings()
    record = await deliver(message(settings), f"http://127.0.0.1:{port}/", settings=settings, attempt=1)
    assert record.outcome == WebhookOutcome.RETRY and record.status_code is None
    assert record.error is not None and record.error.startswith("ConnectError")


async def test_a_receiver_that_never_answers_times_out(receiver: Receiver) -> None:
    settings = hook_settings(webhook_timeout=1.0)
    receiver.hold.clear()
    record = await deliver(message(settings), receiver.url, settings=settings, attempt=1)
    assert record.outcome == WebhookOutcome.RETRY and record.status_code is None
    assert record.error is not None and "timed out" in record.error.lower()
    assert len(receiver.requests) == 1


def test_decide_policy() -> None:
    assert decide(attempt=1, max_tries=8, status_code=204) == (WebhookOutcome.DELIVERED, None)
    assert decide(attempt=8, max_tries=8, status_code=200) == (WebhookOutcome.DELIVERED, None)
    assert decide(attempt=1, max_tries=8, status_code=410) == (WebhookOutcome.GAVE_UP, None)
    assert decide(attempt=1, max_tries=8, permanent=True) == (WebhookOutcome.GAVE_UP, None)
    assert decide(attempt=1, max_tries=8, status_code=400, retry_after=0.0) == (WebhookOutcome.RETRY, 0.0)
    assert decide(attempt=1, max_tries=8, status_code=503, retry_after=1e9) == (WebhookOutcome.RETRY, 86400.0)
    assert retry_delay(50) <= 3600 and retry_delay(50) >= 1800


async def test_attempt_record_round_trips_via_the_store(redis: aioredis.Redis, receiver: Receiver) -> None:
    settings = hook_settings()
    receiver.answer(500)
    record = await deliver(message(settings), receiver.url, settings=settings, attempt=1)
    store = JobStore(redis)
    await store.record_webhook("acme", JOB_ID, record.model_dump(mode="json"))
    [stored] = await store.get_webhooks("acme", JOB_ID)
    assert WebhookAttempt.model_validate(stored) == record
    assert await cast(Awaitable[int], redis.llen(keys.job_webhooks("acme", JOB_ID))) == 1


# ---- configuration and input errors ------------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("c2VjcmV0c2VjcmV0c2VjcmV0", "must start with"),
        ("whsec_not base64!", "not valid base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "at least 16"),
    ],
)
def test_bad_secrets_are_named_not_shown(secret: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem) as info:
        build_message(JOB_ID, "completed", {}, settings=hook_settings(secret=f"{SECRET_A},{secret}"))
    assert "secret #2" in str(info.value) and secret not in str(info.value)
    assert "WEBHOOK_SECRET" in str(info.value)


def test_missing_secret_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="WEBHOOK_SECRET is not set"):
        build_message(JOB_ID, "completed", {}, settings=Settings())


def test_generated_secret_works_with_the_reference_and_is_never_shown() -> None:
    secret = generate_secret()
    signer = Signer(secret)
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert secret.removeprefix("whsec_") not in repr(signer)
    stamp = int(datetime.now(UTC).timestamp())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(stamp),
        "webhook-signature": signer.sign("msg_1", stamp, b"{}"),
    }
    assert Webhook(secret).verify(b"{}", headers) == {}


def test_payload_encoding_is_compact_sorted_and_strict() -> None:
    assert encode_payload({"b": 1, "a": [1, 2], "c": {"z": 1, "y": FINISHED}}) == (
        b'{"a":[1,2],"b":1,"c":{"y":"2025-01-31T12:00:00.000Z","z":1}}'
    )
    with pytest.raises(ValueError, match="webhook data"):
        encode_payload({"x": float("nan")})
    with pytest.raises(ValueError, match="webhook data"):
        encode_payload({"x": object()})
    with pytest.raises(ValueError, match="msg_id"):
        build_message(JOB_ID, "completed", {}, settings=hook_settings(), msg_id="has.dot")
    with pytest.raises(ValueError, match="timezone-aware"):
        build_message(JOB_ID, "completed", {}, settings=hook_settings(), now=datetime(2025, 1, 1))
