"""The per-process fan-out: one reader connection, gap-free joining, slow clients dropped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import redis.asyncio as aioredis
from arq.connections import ArqRedis
from starlette.applications import Starlette
from starlette.routing import Mount

from acquire import serialization
from acquire.client import AcquireClient
from acquire.events import StepComplete
from acquire.models import EventType
from acquire.settings import Settings
from acquire.store.transition import Transition
from acquire.web import EventFanout
from tests.support.jobs import drain
from tests.support.web import ACME, GATED_SPEC, GATES, Sse, sec_body, serve, sse

from .conftest import make_router


def steps(*names: str) -> list[Transition]:
    return [Transition({"step": n}, EventType.STEP_COMPLETE, {"step": n}) for n in names]


@asynccontextmanager
async def followed(client: AcquireClient, **options: Any) -> AsyncIterator[tuple[str, str, EventFanout]]:
    """A queued job (its id and its ``job_queued`` event's id) and a fan-out closed afterwards."""
    job = await client.submit("acme", sec_body("NVDA"))
    (queued,) = await client.events.read("acme", job.job_id)
    fanout = EventFanout(client.redis, **options)
    try:
        yield job.job_id, queued.id, fanout
    finally:
        await fanout.aclose()


async def names_of(sub_events: list[object]) -> list[str]:
    return [e.event.data.step for e in sub_events]  # type: ignore[attr-defined]


async def test_a_slow_subscriber_is_dropped_and_resumes_by_id(client: AcquireClient) -> None:
    async with followed(client, queue_size=3) as (job_id, queued_id, fanout):
        slow = await fanout.subscribe("acme", job_id, queued_id)
        steady = await fanout.subscribe("acme", job_id, queued_id)
        # One atomic write: the reader receives all five in one XREAD and dispatches them at once.
        await client.store.apply_transitions("acme", job_id, steps("s1", "s2", "s3", "s4", "s5"))
        got = [await steady.get() for _ in range(3)]
        received = []
        while (item := await slow.get()) is not None:
            received.append(item)
        assert slow.dropped and slow.closed
        assert [e.event.event for e in received] == [EventType.STEP_COMPLETE] * 3
        assert [e.event.data.step for e in received if isinstance(e.event, StepComplete)] == [
            "s1",
            "s2",
            "s3",
        ]
        assert fanout.stats().dropped == 2  # steady had not read yet either when the batch came
        assert [e is not None for e in got] == [True] * 3

        # Resuming from the last delivered id: the missed entries, then the live tail.
        resumed = await fanout.subscribe("acme", job_id, received[-1].id)
        await client.store.update_status(
            "acme", job_id, {"state": "completed"}, event=EventType.JOB_COMPLETED
        )
        rest = [item async for item in resumed]
        assert [e.event.event.value for e in rest] == ["step_complete", "step_complete", "job_completed"]
        assert [e.id for e in received + rest] == [
            e.id for e in (await client.events.read("acme", job_id))[1:]
        ]
        assert resumed.closed and fanout.stats().subscribers == 0


async def test_a_late_joiner_gets_what_the_reader_already_passed(client: AcquireClient) -> None:
    async with followed(client) as (job_id, queued_id, fanout):
        early = await fanout.subscribe("acme", job_id, queued_id)
        await client.store.apply_transitions("acme", job_id, steps("a", "b", "c"))
        seen = [await early.get() for _ in range(3)]  # the reader's cursor is now past "c"
        late = await fanout.subscribe("acme", job_id, queued_id)
        await client.store.update_status("acme", job_id, {"state": "failed"}, event=EventType.JOB_FAILED)
        late_ids = [e.id async for e in late]
        early_rest = [e.id async for e in early]
        stored = [e.id for e in await client.events.read("acme", job_id)][1:]
        assert late_ids == stored
        assert [e.id for e in seen if e is not None] + early_rest == stored


async def test_fifty_clients_share_one_reader_connection(settings: Settings, redis: aioredis.Redis) -> None:
    pool = aioredis.BlockingConnectionPool.from_url(
        settings.redis_url, max_connections=4, client_name="web-test"
    )
    redis_client = ArqRedis(
        connection_pool=pool,
        job_serializer=serialization.serialize,
        job_deserializer=serialization.deserialize,
        default_queue_name=settings.acquire_queue,
    )
    client = AcquireClient(redis_client, settings)
    router = make_router(client)
    GATES["WAITA"] = asyncio.Event()
    clients = 50
    reached: set[int] = set()
    all_reached = asyncio.Event()

    async def connections() -> dict[str, int]:
        names: dict[str, int] = {}
        for entry in await redis.client_list():
            names[entry["name"]] = names.get(entry["name"], 0) + 1
        return names

    try:
        app = Starlette(routes=[Mount("/acquire", router)])
        limits = httpx.Limits(max_connections=100)
        async with serve(app) as base, httpx.AsyncClient(timeout=30, limits=limits) as http:
            submitted = await http.post(f"{base}/acquire/jobs", json=sec_body("NVDA", "WAITA"), headers=ACME)
            job_id = submitted.json()["job_id"]
            worker = asyncio.create_task(drain(settings, [GATED_SPEC]))

            async def follow(n: int) -> list[str]:
                def on_event(event: Sse) -> None:
                    if event.event == "item_completed":
                        reached.add(n)
                        if len(reached) == clients:
                            all_reached.set()

                stream = await sse(
                    http, f"{base}/acquire/jobs/{job_id}/events", headers=ACME, on_event=on_event
                )
                return stream.ids

            followers = [asyncio.create_task(follow(n)) for n in range(clients)]
            await all_reached.wait()
            during = await connections()
            GATES["WAITA"].set()
            results = await asyncio.gather(*followers)
            await worker
            after = await connections()
    finally:
        stats = router.fanout.stats()
        await router.aclose()
        await client.close()

    stored = [e.id for e in await client.events.read("acme", job_id)]
    assert all(ids == stored for ids in results)
    assert during.get("acquire-sse-fanout") == 1 and after.get("acquire-sse-fanout") == 1
    assert during.get("web-test", 0) <= 4 and after.get("web-test", 0) <= 4
    assert stats.reader_connections == 1
    # Each event was read from Redis once by the reader, not once per client.
    assert 0 < stats.events_read <= len(stored)


async def test_interrupt_ends_one_wait_and_the_subscription_goes_on(client: AcquireClient) -> None:
    async with followed(client) as (job_id, queued_id, fanout):
        sub = await fanout.subscribe("acme", job_id, queued_id)
        waiting = asyncio.create_task(sub.get())
        await asyncio.sleep(0)  # let it park on its waiter
        sub.interrupt()
        assert await waiting is None and not sub.closed
        sub.interrupt()  # with no get pending, the next one returns at once
        assert await sub.get() is None and not sub.closed
        await client.store.apply_transitions("acme", job_id, steps("a"))
        sub.interrupt()  # a queued event wins over an interrupt; the interrupt then ends one wait
        item = await sub.get()
        while item is None:  # the event may still be on its way from the reader
            item = await sub.get()
        assert isinstance(item.event, StepComplete) and item.event.data.step == "a"
        assert item.order > (0, 0) and not item.terminal
        # A timeout ends one wait the same way, with nothing queued; the subscription goes on.
        assert await sub.get(timeout=0.05) is None and not sub.closed
        await client.store.update_status(
            "acme", job_id, {"state": "completed"}, event=EventType.JOB_COMPLETED
        )
        last = await sub.get(timeout=30)
        assert last is not None and last.terminal and sub.closed
