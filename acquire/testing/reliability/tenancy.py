"""Cross-tenant reads: every read path tried by one org on another org's jobs, leaks counted.

Used by the tenancy test and ``bench/reliability.py``. A *leak* is any answer that reveals
something about a job of another org: a status, items, a result, an event, a token, or the
job's id in a listing. Refusals (``JobNotFoundError``, 401/404) are not leaks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount

from acquire.client import AcquireClient, JobHandle
from acquire.errors import AcquireError
from acquire.web import api_key_authorizer, create_router

__all__ = ["KEYS", "count_leaks"]

#: API keys of the tenants the router knows.
KEYS = {org: f"{org}-key-0123456789abcdef" for org in ("acme", "globex", "initech")}
_SECRET = "tenancy-secret-0123456789abcdef0123"  # noqa: S105 - signs the scenario's own test tokens


async def _client_leaks(client: AcquireClient, intruder: str, victim: JobHandle[Any]) -> list[str]:
    leaks: list[str] = []
    foreign = client.job(intruder, victim.job_id)
    for name in ("status", "items", "result"):
        try:
            answer: Any = await getattr(foreign, name)()
        except AcquireError:
            continue
        if answer:  # an empty item list reveals nothing
            leaks.append(f"client {name}() of {victim.org}/{victim.job_id} as {intruder}")
    try:
        async for _ in foreign.events():
            leaks.append(f"client events() of {victim.org}/{victim.job_id} as {intruder}")
            break
    except AcquireError:
        pass
    listed = [s.job_id for s in await client.list_jobs(intruder, 1000)]
    if victim.job_id in listed:
        leaks.append(f"client list_jobs({intruder}) lists {victim.org}/{victim.job_id}")
    return leaks


async def _router_leaks(
    http: httpx.AsyncClient, intruder: str, victim: JobHandle[Any], token: str
) -> list[str]:
    leaks: list[str] = []
    headers = {"X-API-Key": KEYS[intruder]}
    base = f"/jobs/{victim.job_id}"
    attempts = [
        ("GET", "/jobs?limit=1000", headers),
        ("GET", base, headers),
        ("GET", f"{base}/result", headers),
        ("GET", f"{base}/events", headers),
        ("POST", f"{base}/token", headers),
        # the victim's own token, presented for it by the intruder, is fine; a token the
        # intruder minted for its own job must not open the victim's stream
        ("GET", f"{base}/events?token={token}", headers),
    ]
    for method, path, hdrs in attempts:
        response = await http.request(method, path, headers=hdrs)
        body = response.text
        if path.startswith("/jobs?"):
            if victim.job_id in body:
                leaks.append(f"GET /jobs as {intruder} lists {victim.job_id}")
        elif response.status_code < 400 or victim.job_id in body:
            leaks.append(f"{method} {path} as {intruder}: {response.status_code} {body[:120]}")
    return leaks


async def count_leaks(
    client: AcquireClient, victims: Sequence[JobHandle[Any]], intruders: dict[str, JobHandle[Any]]
) -> tuple[int, list[str]]:
    """Try every read path of every victim job as every other org (``intruders``: org -> one of
    its own jobs, whose token it uses). Returns (attempts, leaks)."""
    router = create_router(
        client, api_key_authorizer({k: org for org, k in KEYS.items()}), token_secret=_SECRET
    )
    app = Starlette(routes=[Mount("/acquire", router)])
    leaks: list[str] = []
    attempts = 0
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test/acquire"
    ) as http:
        tokens = {}
        for org, own in intruders.items():
            minted = await http.post(f"/jobs/{own.job_id}/token", headers={"X-API-Key": KEYS[org]})
            assert minted.status_code == 200, minted.text  # the org can read its own job
            tokens[org] = minted.json()["token"]
        for victim in victims:
            for intruder in intruders:
                if intruder == victim.org:
                    continue
                leaks += await _client_leaks(client, intruder, victim)
                leaks += await _router_leaks(http, intruder, victim, tokens[intruder])
                attempts += 11
    await router.aclose()
    return attempts, leaks
