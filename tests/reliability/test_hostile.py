"""Scenario 4: hostile input. Property-based tests over the request models, the router and
the CLI, and hand-written poison in the queue of a real worker process."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import pickle
import signal
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import redis.asyncio as aioredis
from arq.jobs import Job
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.routing import Mount

from acquire import serialization
from acquire.cli.main import main as cli_main
from acquire.client import AcquireClient
from acquire.models import FORM_TYPES, METRICS, JobKind, JobState, SecFilingsRequest, parse_request
from acquire.settings import Settings
from acquire.testing.reliability.fleet import Fleet, fleet_env
from acquire.testing.replay import ReplayServer
from acquire.web import api_key_authorizer, create_router

KEY = "k" * 32
HYPOTHESIS = hsettings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))

# ---- strategies ---------------------------------------------------------------------------

_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20)
json_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)
_FIELDS = [
    "kind",
    "companies",
    "years",
    "form_types",
    "metrics",
    "period",
    "parts",
    "range",
    "start",
    "end",
    "interval",
    "ticker",
    "include_amendments",
    "download",
    "callback_url",
]
_PLAUSIBLE = (
    st.sampled_from(["NVDA", "AAPL", "320193", "0", "brk-b", "A:B", "", " "])
    | st.sampled_from([2023, 2024, 1900, -1, 10**20])
    | st.sampled_from([*FORM_TYPES, *METRICS, "annual", "1d", "profile", "http://127.0.0.1/x", "2024-01-01"])
)
#: Dicts that look like requests: a real kind, real field names, half-right values.
requests_like = st.fixed_dictionaries(
    {"kind": st.sampled_from([k.value for k in JobKind]) | json_values},
    optional={name: json_values | _PLAUSIBLE | st.lists(_PLAUSIBLE, max_size=4) for name in _FIELDS[1:]},
)


# ---- request models -----------------------------------------------------------------------


@HYPOTHESIS
@given(data=requests_like | st.dictionaries(st.text(max_size=10), json_values, max_size=6))
def test_request_models_raise_only_validation_errors_naming_the_field(data: dict[str, Any]) -> None:
    try:
        parse_request(data)
    except ValidationError as exc:
        for error in exc.errors():
            assert error["loc"], f"an error names no field: {error}"
            assert error["msg"]


@HYPOTHESIS
@given(text=st.text(max_size=200) | json_values.map(json.dumps) | st.binary(max_size=100))
def test_request_text_raises_only_validation_errors(text: str | bytes) -> None:
    with contextlib.suppress(ValidationError):
        parse_request(text)


# ---- router -------------------------------------------------------------------------------

_header_text = st.text(alphabet=string.printable.strip("\r\n\x0b\x0c"), max_size=40)
_ids = st.text(max_size=30) | st.sampled_from(["", "..", "%00", "a" * 300, "AAAAAAAAAAAAAAAAAAAAAA"])


@st.composite
def hostile_requests(draw: st.DrawFn) -> tuple[str, str, dict[str, str], bytes]:
    job_id = quote(draw(_ids), safe="") or "x"
    method, path = draw(
        st.sampled_from(
            [
                ("POST", "/jobs"),
                ("GET", "/jobs"),
                ("GET", f"/jobs/{job_id}"),
                ("GET", f"/jobs/{job_id}/result"),
                ("GET", f"/jobs/{job_id}/events"),
                ("POST", f"/jobs/{job_id}/token"),
                ("DELETE", f"/jobs/{job_id}"),
            ]
        )
    )
    query = draw(
        st.sampled_from(
            [
                "",
                "?limit=",
                "?limit=-1",
                "?limit=99999999999999999999",
                "?limit=5",
                "?token=v1.a.b",
                "?last_event_id=abc",
                f"?token={quote(draw(_header_text))}",
            ]
        )
    )
    headers = {"X-API-Key": draw(st.sampled_from([KEY, "", "wrong" * 8]) | _header_text)}
    for name in draw(
        st.lists(
            st.sampled_from(["content-type", "idempotency-key", "last-event-id", "authorization", "cookie"]),
            max_size=3,
        )
    ):
        headers[name] = draw(st.sampled_from(["application/json", "text/plain", "a" * 200]) | _header_text)
    body = draw(
        st.binary(max_size=300)
        | json_values.map(lambda v: json.dumps(v).encode())
        | requests_like.map(lambda v: json.dumps(v).encode())
    )
    return method, path + query, headers, body


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A loop of this test's own: hypothesis drives a synchronous function."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def test_router_never_answers_500_nor_writes_on_rejection(
    settings: Settings, redis_url: str, loop: asyncio.AbstractEventLoop
) -> None:
    async def open_app() -> tuple[AcquireClient, Any, aioredis.Redis]:
        client = await AcquireClient.connect(settings)
        router = create_router(client, api_key_authorizer({KEY: "acme"}), token_secret="s" * 32)
        raw = aioredis.Redis.from_url(redis_url)
        await raw.flushdb()
        return client, router, raw

    client, router, raw = loop.run_until_complete(open_app())
    app = Starlette(routes=[Mount("/acquire", router)])
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test/acquire")
    seen: dict[int, int] = {}

    async def send(method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        before = set(await raw.keys("*"))
        async with asyncio.timeout(10):
            response = await http.request(method, path, headers=headers, content=body)
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        assert response.status_code < 500, (method, path, headers, body, response.text)
        if response.status_code >= 400:
            assert set(await raw.keys("*")) == before, (
                f"{method} {path} wrote to Redis and answered {response.status_code}"
            )

    @HYPOTHESIS
    @given(request=hostile_requests())
    def check(request: tuple[str, str, dict[str, str], bytes]) -> None:
        loop.run_until_complete(send(*request))

    try:
        check()
    finally:
        loop.run_until_complete(http.aclose())
        loop.run_until_complete(router.aclose())
        loop.run_until_complete(client.close())
        loop.run_until_complete(raw.aclose())
    assert any(400 <= code < 500 for code in seen), seen  # hostile input was actually refused


# ---- CLI ----------------------------------------------------------------------------------

_argv_words = st.sampled_from(
    [
        "submit",
        "status",
        "result",
        "watch",
        "--org",
        "acme",
        "-x",
        "--json",
        "{}",
        "[1]",
        '{"kind": 1}',
        "sec_filings",
        "xbrl_facts",
        "yahoo",
        "risk_drift",
        "--companies",
        "NVDA",
        "A:B",
        "--years",
        "2024",
        "abc",
        "--ticker",
        "--metrics",
        "--parts",
        "--form-types",
        "--callback-url",
        "http://[::1",
        "--idempotency-key",
        "a b",
        "--",
        "",
        "\x00",
        "AAAAAAAAAAAAAAAAAAAAAA",
        "../../etc/passwd",
    ]
) | st.text(max_size=12)


def test_cli_returns_an_exit_code_and_never_a_traceback(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", settings.redis_url)
    for name in ("SEC_USER_AGENT", "ACQUIRE_QUEUE"):
        monkeypatch.delenv(name, raising=False)
    codes: dict[int, int] = {}

    @hsettings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
    @given(argv=st.lists(_argv_words, max_size=8))
    def check(argv: list[str]) -> None:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli_main(argv)
            except SystemExit as exc:  # argparse's usage errors and --help: an exit, not a crash
                code = exc.code if isinstance(exc.code, int) else 2
        assert isinstance(code, int), (argv, code)
        assert "Traceback" not in out.getvalue() + err.getvalue(), (argv, err.getvalue())
        codes[code] = codes.get(code, 0) + 1

    check()
    assert any(code != 0 for code in codes), codes


# ---- poison in the queue of a real worker process -----------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_worker_process_never_runs_pickle_or_garbage(
    settings: Settings, redis: aioredis.Redis, upstream: ReplayServer, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self) -> tuple[Any, ...]:
            return (open, (str(marker), "w"))

    queue = settings.acquire_queue
    poison = {
        "evil": pickle.dumps({"t": 1, "f": "sec_filings", "a": [Exploit()], "k": {}, "et": 1}),
        "junk": b"\x00\xffnot json",
        "nojson": b'{"t": 1, "f": "sec_filings", "a": [',
        "badenv": serialization.serialize(
            {"t": 1, "f": "sec_filings", "a": [{"job_id": 1}], "k": {}, "et": 1}
        ),
        "badfunc": serialization.serialize(
            {"t": 1, "f": "os.system", "a": ["touch " + str(marker)], "k": {}}
        ),
    }
    for job_id, payload in poison.items():
        await redis.set(f"arq:job:{job_id}", payload)
        await redis.zadd(queue, {job_id: 1})
    async with await AcquireClient.connect(settings) as client:
        with Fleet(fleet_env(settings), tmp_path / "logs") as fleet:
            fleet.start(1)
            good = await client.submit("acme", SecFilingsRequest(companies=["NVDA"], years=[2024]))
            status = await good.wait(timeout=90)
            fleet.signal(0, signal.SIGTERM)
            assert await asyncio.to_thread(fleet.wait, 0, 60) == 0, fleet.log(0)[-3000:]
        assert status.state == JobState.COMPLETED  # the worker kept going
        assert not marker.exists()
        for job_id in poison:
            info = await Job(job_id, client.redis, _deserializer=serialization.deserialize).result_info()
            assert info is not None, job_id
            assert info.success is False or info.result == {"state": "rejected"}, (job_id, info.result)
