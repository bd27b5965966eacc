"""Server-sent events: backlog, live tail, resume by Last-Event-ID, end of stream, tokens."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from acquire.client import AcquireClient
from acquire.settings import Settings
from acquire.store import keys
from acquire.web import COOKIE_NAME
from acquire.web import events as events_module
from tests.support.jobs import drain
from tests.support.web import ACME, GATED_SPEC, GATES, GLOBEX, SECRET, WRITTEN, Sse, sec_body, sse

from .conftest import Web

ALL_EVENTS = [
    "job_queued",
    "job_started",
    "step_complete",
    "item_completed",
    "item_completed",
    "step_complete",
    "job_completed",
]


async def submit(web: Web, *companies: str, headers: dict[str, str] = ACME) -> str:
    response = await web.http.post(f"{web.url}/jobs", json=sec_body(*companies), headers=headers)
    assert response.status_code == 202, response.text
    job_id: str = response.json()["job_id"]
    return job_id


async def stored_ids(client: AcquireClient, job_id: str, org: str = "acme") -> list[str]:
    return [e.id for e in await client.events.read(org, job_id)]


async def test_late_subscriber_gets_every_event_at_once_and_the_stream_ends(
    web: Web, settings: Settings
) -> None:
    job_id = await submit(web, "NVDA", "TSLA")
    await drain(settings)
    stream = await sse(web.http, f"{web.url}/jobs/{job_id}/events", headers=ACME)
    assert stream.status == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert stream.ended
    assert stream.names == ALL_EVENTS
    assert stream.ids == await stored_ids(web.client, job_id)
    assert stream.retry == 2000
    first = stream.events[0]
    assert (
        first.data["event"] == "job_queued"
        and first.data["job_id"] == job_id
        and first.data["id"] == first.id
    )
    assert stream.events[-1].data["data"]["state"] == "completed"


async def test_live_follower_sees_the_job_run_to_completion(web: Web, settings: Settings) -> None:
    GATES["WAITA"] = asyncio.Event()
    job_id = await submit(web, "NVDA", "WAITA")
    worker = asyncio.create_task(drain(settings, [GATED_SPEC]))

    def release(event: Sse) -> None:  # the job waits until this client is following live
        if event.event == "item_completed":
            GATES["WAITA"].set()

    stream = await sse(web.http, f"{web.url}/jobs/{job_id}/events", headers=ACME, on_event=release)
    await worker
    assert stream.ended
    assert stream.names == ALL_EVENTS
    assert stream.ids == await stored_ids(web.client, job_id)
    assert web.router.fanout.stats().events_read >= 3  # the tail came through the fan-out


async def test_reconnect_with_last_event_id_loses_and_duplicates_nothing(
    web: Web, settings: Settings
) -> None:
    GATES["WAITA"], GATES["WAITB"], WRITTEN["WAITA"] = asyncio.Event(), asyncio.Event(), asyncio.Event()
    job_id = await submit(web, "NVDA", "WAITA", "WAITB", "TSLA")
    worker = asyncio.create_task(drain(settings, [GATED_SPEC]))
    url = f"{web.url}/jobs/{job_id}/events"

    # Leave after the first item: the job is blocked at WAITA, so more is certainly to come.
    first = await sse(web.http, url, headers=ACME, until=lambda e: e.event == "item_completed")
    assert not first.ended
    GATES["WAITA"].set()  # events are written while nobody listens...
    await WRITTEN["WAITA"].wait()  # ...up to the WAITB gate
    assert len(await stored_ids(web.client, job_id)) == 5

    def release(event: Sse) -> None:
        if event.data["data"].get("item") == "WAITA":
            GATES["WAITB"].set()  # the rest happens while the second connection is live

    second = await sse(web.http, url, headers={**ACME, "Last-Event-ID": first.ids[-1]}, on_event=release)
    await worker
    assert second.ended
    stored = await stored_ids(web.client, job_id)
    assert first.ids + second.ids == stored
    assert second.names[-1] == "job_completed"
    assert len(stored) == 9  # queued, started, step, 4 items, step, completed

    # The query parameter works the same; resuming at the end is 204 so browsers stop retrying.
    tail = await sse(web.http, url, headers=ACME, params={"last_event_id": stored[-3]})
    assert tail.ids == stored[-2:]
    done = await sse(web.http, url, headers={**ACME, "Last-Event-ID": stored[-1]})
    assert done.status == 204
    assert (await web.http.get(url, headers={**ACME, "Last-Event-ID": "later"})).status_code == 400


async def test_head_on_the_events_route_has_headers_and_no_body(web: Web, settings: Settings) -> None:
    job_id = await submit(web, "NVDA")
    head = await web.http.head(f"{web.url}/jobs/{job_id}/events", headers=ACME)
    assert head.status_code == 200
    assert head.headers["content-type"].startswith("text/event-stream")
    assert head.content == b""
    assert web.router.fanout.stats().subscribers == 0
    missing = await web.http.head(f"{web.url}/jobs/{'A' * 22}/events", headers=ACME)
    assert missing.status_code == 404
    await drain(settings)
    finished = await sse(web.http, f"{web.url}/jobs/{job_id}/events", headers=ACME)
    after_end = await web.http.head(
        f"{web.url}/jobs/{job_id}/events", headers={**ACME, "Last-Event-ID": finished.ids[-1]}
    )
    assert after_end.status_code == 204


async def test_stream_lifetime_is_bounded_and_resumes_without_gaps(
    web_factory: object, settings: Settings
) -> None:
    web: Web = await web_factory(max_stream_seconds=0.3, ping_seconds=0.05)  # type: ignore[operator]
    job_id = await submit(web, "NVDA")
    url = f"{web.url}/jobs/{job_id}/events"
    async with web.http.stream("GET", url, headers=ACME) as response:
        raw = (await response.aread()).decode()
    assert ": ping" in raw  # keep-alive comments while the job sits in the queue
    assert raw.count("event: job_queued") == 1  # then the stream ended without a final event
    queued_id = raw.split("id: ", 1)[1].split("\r\n", 1)[0]
    assert web.router.fanout.stats().subscribers == 0
    await drain(settings)
    rest = await sse(web.http, url, headers={**ACME, "Last-Event-ID": queued_id})
    assert [queued_id, *rest.ids] == await stored_ids(web.client, job_id)


async def test_an_idle_stream_ends_when_its_job_expires(web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events_module, "_EXPIRY_CHECK", 0.05)
    job_id = await submit(web, "NVDA")
    url = f"{web.url}/jobs/{job_id}/events"
    async with web.http.stream("GET", url, headers=ACME) as response:
        lines = response.aiter_lines()
        while await anext(lines) != "event: job_queued":
            pass
        # Whether or not the stream has subscribed yet, its first check finds the job gone.
        await web.client.redis.delete(keys.job_status("acme", job_id))
        rest = [line async for line in lines]  # ends: the next check finds the job gone
    assert not any(line.startswith("event: ") for line in rest)
    assert web.router.fanout.stats().subscribers == 0


async def test_a_stream_that_had_events_since_its_last_check_goes_on_without_reading_its_job(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An event since the last check proves the job is there: a busy stream never reads the
    # job's record (1,000 streams checking at once held every stream's events up ~200 ms).
    # The check is driven by hand here: its timer is an hour, and each re-arm is observed.
    monkeypatch.setattr(events_module, "_EXPIRY_CHECK", 3600.0)
    armed: asyncio.Queue[None] = asyncio.Queue()
    uniform = random.uniform

    def observed(low: float, high: float) -> float:
        armed.put_nowait(None)  # check_soon draws the next period: the route (re-)armed
        return uniform(low, high)

    monkeypatch.setattr(random, "uniform", observed)
    job_id = await submit(web, "NVDA")
    url = f"{web.url}/jobs/{job_id}/events"
    async with web.http.stream("GET", url, headers=ACME) as response:
        lines = response.aiter_lines()
        while await anext(lines) != "event: job_queued":
            pass
        await asyncio.wait_for(armed.get(), 30)  # subscribed, first timer armed
        await web.client.redis.delete(keys.job_status("acme", job_id))  # as if it expired
        events = keys.job_events("acme", job_id)
        fields = {"event": "step_complete", "at": "2026-01-01T00:00:00+00:00", "data": '{"step": "s1"}'}
        await web.client.redis.xadd(events, fields)  # type: ignore[arg-type]
        while await anext(lines) != "event: step_complete":
            pass
        (stream,) = web.router.fanout._streams.values()  # the one live subscription
        (sub,) = stream.subscribers
        sub.interrupt()  # a check: the event since the last one stands for the job
        await asyncio.wait_for(armed.get(), 30)  # re-armed: the stream goes on
        sub.interrupt()  # nothing since: it reads the record, finds it gone and ends
        rest = [line async for line in lines]
    assert not any(line.startswith("event: ") for line in rest)
    assert web.router.fanout.stats().subscribers == 0


async def test_a_malformed_entry_is_skipped_and_the_fan_out_goes_on(web: Web) -> None:
    job_id = await submit(web, "NVDA")
    url = f"{web.url}/jobs/{job_id}/events"
    events = keys.job_events("acme", job_id)
    at = "2026-01-01T00:00:00+00:00"
    async with web.http.stream("GET", url, headers=ACME) as response:
        lines = response.aiter_lines()
        while await anext(lines) != "event: job_queued":
            pass
        # Not an event acquire writes (its data lacks the step), then one that is.
        bad = {"event": "step_complete", "at": at, "data": "{}"}
        good = {"event": "step_complete", "at": at, "data": '{"step": "after"}'}
        await web.client.redis.xadd(events, bad)  # type: ignore[arg-type]
        await web.client.redis.xadd(events, good)  # type: ignore[arg-type]

        async def next_step() -> str:
            while not (line := await anext(lines)).startswith("data: ") or "step_complete" not in line:
                pass
            return line

        # The first step event to arrive is the good one: the bad one was skipped, not fatal.
        assert '"step":"after"' in (await asyncio.wait_for(next_step(), 30)).replace(" ", "")


async def test_a_token_lets_eventsource_in_for_one_job_only(web: Web, settings: Settings) -> None:
    job_id = await submit(web, "NVDA")
    other = await submit(web, "TSLA")
    await drain(settings)
    minted = await web.http.post(f"{web.url}/jobs/{job_id}/token", headers=ACME)
    assert minted.status_code == 200
    token = minted.json()["token"]
    assert minted.json()["events_url"] == f"/acquire/jobs/{job_id}/events"
    assert minted.json()["expires_at"] > time.time()
    url = f"{web.url}/jobs/{job_id}/events"

    ok = await sse(web.http, url, params={"token": token})  # no API key
    assert ok.names == [
        "job_queued",
        "job_started",
        "step_complete",
        "item_completed",
        "step_complete",
        "job_completed",
    ]

    wrong_job = await web.http.get(f"{web.url}/jobs/{other}/events", params={"token": token})
    assert (wrong_job.status_code, wrong_job.json()) == (401, {"detail": "token is for another job"})
    assert web.router.tokens is not None
    expired = web.router.tokens.mint("acme", job_id, now=time.time() - 3600)
    response = await web.http.get(url, params={"token": expired})
    assert (response.status_code, response.json()) == (401, {"detail": "token expired"})
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    response = await web.http.get(url, params={"token": forged})
    assert (response.status_code, response.json()) == (401, {"detail": "token signature is invalid"})
    # A valid token of another org names the job under that org, where it does not exist.
    wrong_org = web.router.tokens.mint("globex", job_id)
    response = await web.http.get(url, params={"token": wrong_org})
    assert (response.status_code, response.json()) == (404, {"detail": "job not found"})
    # Minting for another org's job is a 404 too.
    assert (await web.http.post(f"{web.url}/jobs/{job_id}/token", headers=GLOBEX)).status_code == 404


async def test_the_token_cookie_is_scoped_to_the_jobs_events(web: Web, settings: Settings) -> None:
    job_id = await submit(web, "NVDA")
    other = await submit(web, "TSLA")
    await drain(settings)
    minted = await web.http.post(f"{web.url}/jobs/{job_id}/token", headers=ACME)
    cookie = minted.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=")
    assert f"Path=/acquire/jobs/{job_id}/events" in cookie
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    ok = await sse(web.http, f"{web.url}/jobs/{job_id}/events")  # the client's cookie jar sends it
    assert ok.status == 200 and ok.names[-1] == "job_completed"
    elsewhere = await web.http.get(f"{web.url}/jobs/{other}/events")  # path-scoped: not sent
    assert elsewhere.status_code == 401
    web.http.cookies.clear()
    assert (await web.http.get(f"{web.url}/jobs/{job_id}/events")).status_code == 401


async def test_without_a_secret_tokens_are_refused(web_factory: object) -> None:
    web: Web = await web_factory(token_secret=None)  # type: ignore[operator]
    job_id = await submit(web, "NVDA")
    assert (await web.http.post(f"{web.url}/jobs/{job_id}/token", headers=ACME)).status_code == 404
    from acquire.web import TokenSigner

    token = TokenSigner(SECRET).mint("acme", job_id)
    response = await web.http.get(f"{web.url}/jobs/{job_id}/events", params={"token": token})
    assert response.status_code == 401
    assert response.json() == {"detail": "token authentication is not enabled on this server"}
