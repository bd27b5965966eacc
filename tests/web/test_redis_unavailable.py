"""While Redis is away the router answers 503 with Retry-After (not a 500), and recovers after."""

from __future__ import annotations

from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount

from acquire.client import AcquireClient
from acquire.settings import Settings
from acquire.testing.embedded import EmbeddedRedis
from tests.support.web import ACME, sec_body, serve

from .conftest import make_router
from .server_log import ServerLog


async def test_router_answers_503_while_redis_is_down_and_200_once_back(
    settings: Settings, tmp_path: Path, server_log: ServerLog
) -> None:
    server = EmbeddedRedis(tmp_path / "redis").start()
    # No reconnects: the outage outlasts the client's retry budget at once.
    own = settings.model_copy(update={"redis_url": server.url, "acquire_redis_retries": 0})
    client = await AcquireClient.connect(own)
    router = make_router(client)
    try:
        async with (
            serve(Starlette(routes=[Mount("/acquire", router)])) as base,
            httpx.AsyncClient(headers=ACME, timeout=30) as http,
        ):
            url = f"{base}/acquire"
            assert (await http.get(f"{url}/jobs")).status_code == 200
            server.stop(kill=True)
            answers = [
                await http.get(f"{url}/jobs"),
                await http.post(f"{url}/jobs", json=sec_body("NVDA")),
                await http.get(f"{url}/jobs/" + "A" * 22),
            ]
            for answer in answers:
                assert answer.status_code == 503, answer.text
                assert answer.json() == {"detail": "the job store is unavailable; retry shortly"}
                assert answer.headers["retry-after"] == "2"
            server.start()
            assert (await http.post(f"{url}/jobs", json=sec_body("NVDA"))).status_code == 202
    finally:
        await router.aclose()
        await client.close()
        server.stop()
    assert server_log.tracebacks == []
    assert any("job store unavailable for POST /acquire/jobs" in m for m in server_log.messages)
