"""The stall guard ends a response whose client stopped reading, and leaves others alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.types import Message

from acquire.web.responses import GuardedEventSourceResponse

SCOPE = {"type": "http", "http_version": "1.1", "method": "GET", "path": "/", "headers": []}


async def _receive_nothing() -> Message:
    await asyncio.Event().wait()  # the client never disconnects
    return {"type": "http.disconnect"}


async def _events(n: int) -> AsyncIterator[str]:
    for i in range(n):
        yield f"event {i}"


async def test_a_client_that_stops_reading_is_dropped() -> None:
    sent: list[Message] = []
    blocked = asyncio.Event()

    async def send(message: Message) -> None:
        sent.append(message)
        if len(sent) == 3:  # after the start and one event the socket "fills up"
            blocked.set()
            await asyncio.Event().wait()

    response = GuardedEventSourceResponse(_events(100), ping=0, stall_timeout=0.2)
    await asyncio.wait_for(response(SCOPE, _receive_nothing, send), timeout=10)
    assert blocked.is_set() and response.stalled
    assert len(sent) == 3  # nothing more was attempted after the stall


async def test_a_reading_client_gets_every_event() -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    response = GuardedEventSourceResponse(_events(50), ping=0, stall_timeout=0.2)
    await asyncio.wait_for(response(SCOPE, _receive_nothing, send), timeout=10)
    bodies = [m["body"] for m in sent if m["type"] == "http.response.body" and m.get("body")]
    assert len(bodies) == 50 and not response.stalled
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
