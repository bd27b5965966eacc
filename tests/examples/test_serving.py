"""``python -m examples.starlette_app`` serves with the client limits (a real process)."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import httpx

from acquire.settings import Settings

from .conftest import KEY_ACME

ROOT = Path(__file__).resolve().parents[2]


async def test_the_example_app_bounds_request_heads(settings: Settings) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ACQUIRE_", "SEC_", "REDIS_"))}
    env.update(
        REDIS_URL=settings.redis_url,
        SEC_USER_AGENT=settings.sec_user_agent,
        PORT="0",
        EXAMPLE_API_KEYS=f"{KEY_ACME}:acme",
        PYTHONPATH=str(ROOT),
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "examples.starlette_app", cwd=ROOT, env=env, stderr=asyncio.subprocess.PIPE
    )
    assert process.stderr is not None
    try:
        async with asyncio.timeout(60):
            port = None
            while port is None:  # uvicorn names the port it bound once it is listening
                line = (await process.stderr.readline()).decode()
                assert line, "the example exited before listening"
                if match := re.search(r"Uvicorn running on http://127\.0\.0\.1:(\d+)", line):
                    port = int(match[1])
            async with httpx.AsyncClient() as http:
                assert (await http.get(f"http://127.0.0.1:{port}/healthz")).json() == {"status": "ok"}
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            # 17 KiB of a request head that never ends, past the 16 KiB limit; one write, and no
            # more, so the server has read all of it when it closes (no reset racing its answer).
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: test\r\n" + b"X-Pad: " + b"a" * 17_408)
            await writer.drain()
            answer = await reader.read()  # the server answers and closes
            writer.close()
        assert answer.startswith(b"HTTP/1.1 400 "), answer
    finally:
        process.terminate()
        await process.wait()
