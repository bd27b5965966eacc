"""Slow and misdirecting clients, over raw loopback sockets: a body that never arrives is a 408
once the router's deadline passes, and no redirect is built from the request's Host header."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from acquire.client import AcquireClient
from tests.support.web import ACME, serve

from .conftest import Web, make_router
from .server_log import ServerLog


def _address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    return host, int(port)


async def _upload_head(web: Web, *, length: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(*_address(web.url))
    writer.write(
        b"POST /acquire/jobs HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        + f"X-API-Key: {ACME['X-API-Key']}\r\nContent-Length: {length}\r\n\r\n".encode()
    )
    await writer.drain()
    return reader, writer


async def _response(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection."""
    async with asyncio.timeout(20):  # a guard against hanging forever, not a synchronisation
        return await reader.read()


async def test_a_body_that_stops_arriving_is_a_408_and_the_connection_closes(web_factory: Any) -> None:
    web: Web = await web_factory(body_timeout=0.3)
    reader, writer = await _upload_head(web, length=1000)
    writer.write(b'{"kind": "sec_filings", ')
    await writer.drain()
    answer = await _response(reader)  # returns only once the server has closed the connection
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), answer
    assert b"connection: close" in head.lower()
    assert body == b'{"detail":"the request body did not arrive within 0.3 s"}'


async def test_the_deadline_covers_the_whole_body_not_each_chunk(web_factory: Any) -> None:
    web: Web = await web_factory(body_timeout=0.3)
    reader, writer = await _upload_head(web, length=10_000)
    async with asyncio.timeout(20):  # a guard against hanging forever, not a synchronisation
        while True:  # the attack itself: one byte per 50 ms, each well inside 0.3 s
            try:
                async with asyncio.timeout(0.05):
                    head = await reader.readuntil(b"\r\n\r\n")
                break
            except TimeoutError:
                # Only while nothing came back: a byte sent after the server closed would be
                # answered with a reset that can discard its answer.
                writer.write(b" ")
    writer.close()
    assert head.startswith(b"HTTP/1.1 408 "), head


async def test_a_body_within_the_deadline_is_accepted(web_factory: Any) -> None:
    web: Web = await web_factory(body_timeout=5)
    response = await web.http.post(
        f"{web.url}/jobs", json={"kind": "sec_filings", "companies": ["NVDA"], "years": [2024]}, headers=ACME
    )
    assert response.status_code == 202


def test_the_body_deadline_must_be_positive(client: AcquireClient) -> None:
    with pytest.raises(ValueError, match="body_timeout"):
        make_router(client, body_timeout=0)


async def test_no_redirect_uses_the_host_header(web: Web, client: AcquireClient) -> None:
    evil = {**ACME, "Host": "evil.example"}
    mounted = await web.http.get(f"{web.url}/jobs/", headers=evil)
    assert mounted.status_code == 404
    assert "location" not in mounted.headers
    router = make_router(client)
    async with serve(router) as base, httpx.AsyncClient() as http:
        for path in ["/jobs/", f"/jobs/{'A' * 22}/"]:
            alone = await http.get(f"{base}{path}", headers=evil)
            assert alone.status_code == 404, path
            assert "location" not in alone.headers, path
    await router.aclose()


async def test_a_client_leaving_mid_upload_is_one_log_line(web: Web, server_log: ServerLog) -> None:
    _, writer = await _upload_head(web, length=1000)
    writer.write(b'{"kind": ')
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    async with asyncio.timeout(10):
        await server_log.seen.wait()
    assert server_log.tracebacks == []
    assert server_log.messages == ["client disconnected before sending the body of POST /acquire/jobs"]
