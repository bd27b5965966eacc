"""The uvicorn limits the examples and the demo run with, against raw loopback sockets."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from acquire.web.serving import uvicorn_limits

GET = b"GET /ping HTTP/1.1\r\nHost: test\r\n\r\n"


async def _ping(request: Request) -> PlainTextResponse:
    return PlainTextResponse("pong")


@contextlib.asynccontextmanager
async def _server(**limits: Any) -> AsyncIterator[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    app = Starlette(routes=[Route("/ping", _ping)])
    config = uvicorn.Config(app, lifespan="off", log_level="critical", **uvicorn_limits(**limits))
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        await task
        sock.close()


async def _exchange(port: int, request: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    """Send ``request`` and read the first response chunk; the connection stays open."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    async with asyncio.timeout(20):  # a guard against hanging, not a synchronisation
        head = await reader.readuntil(b"\r\n\r\n")
    return reader, writer, head


async def _until_closed(reader: asyncio.StreamReader) -> bytes:
    async with asyncio.timeout(20):
        return await reader.read()


async def test_connections_beyond_the_cap_get_503() -> None:
    async with _server(max_connections=2) as port:
        _, first, head = await _exchange(port, GET)  # answered, and held open (keep-alive)
        assert head.startswith(b"HTTP/1.1 200 ")
        _, second, refused = await _exchange(port, GET)
        assert refused.startswith(b"HTTP/1.1 503 ")
        first.close()
        second.close()


async def test_a_request_head_beyond_the_limit_is_a_400_and_closed() -> None:
    async with _server(max_header_bytes=4096) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        # A request head that never ends, past the limit, in one write so the server has read
        # all of it when it closes (no connection reset racing its answer).
        writer.write(b"GET /ping HTTP/1.1\r\nHost: test\r\nX-Pad: " + b"a" * 5000)
        await writer.drain()
        answer = await _until_closed(reader)
        writer.close()
    assert answer.startswith(b"HTTP/1.1 400 ")


async def test_an_idle_connection_is_closed_after_the_keep_alive_timeout() -> None:
    async with _server(keep_alive_seconds=1) as port:
        reader, writer, head = await _exchange(port, GET)
        assert head.startswith(b"HTTP/1.1 200 ")
        rest = await _until_closed(reader)  # returns once the server has closed the connection
        writer.close()
    assert rest == b"pong"


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="max_connections"):
        uvicorn_limits(max_connections=0)
