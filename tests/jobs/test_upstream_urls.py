"""What a tenant reads never names the internal upstream (a mirror such as the replay server,
here at ``http://127.0.0.1:<port>``): errors and data show the public SEC URLs, while the
worker's log keeps the real ones."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import redis.asyncio as aioredis

from acquire.client import AcquireClient
from acquire.models import ItemState, JobState, SecFilingsRequest
from acquire.settings import Settings
from acquire.testing.replay import Fault, ReplayServer
from tests.support.jobs import run_real_worker


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def job_log() -> Iterator[_Records]:
    # The worker's startup replaces the "acquire" logger's handlers; a child's are left alone.
    handler, logger = _Records(), logging.getLogger("acquire.jobs")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


async def test_errors_and_data_carry_public_urls_not_the_mirror(
    settings: Settings, redis: aioredis.Redis, upstream: ReplayServer, job_log: _Records
) -> None:
    mirror = upstream.url.removeprefix("http://")  # 127.0.0.1:<port>
    # NVDA's submissions answer 503 until its item gives up; TSLA's FY2025 10-K is not recorded.
    upstream.inject(r"^/data\.sec\.gov/submissions/CIK0001045810", *[Fault(503)] * 40)
    async with await AcquireClient.connect(settings) as client:
        job = await client.submit("acme", SecFilingsRequest(companies=["NVDA", "TSLA"], years=[2024, 2025]))
        await run_real_worker(settings)
        status = await job.status()
        items = {i.key: i for i in await job.items()}
        events = [e.model_dump(mode="json") for e in await client.events.read("acme", job.job_id)]
        result = (await job.result()).model_dump(mode="json")
        documents = [d.model_dump(mode="json") for d in await job.documents()]
    assert status.state == JobState.PARTIALLY_FAILED
    assert items["NVDA"].state == ItemState.FAILED
    assert items["NVDA"].error is not None and "https://data.sec.gov/submissions/" in items["NVDA"].error
    tsla = {f["fiscal_year"]: f for f in items["TSLA"].data["filings"]}
    assert tsla[2025]["error"].startswith("SEC has no https://www.sec.gov/Archives/")
    assert tsla[2024]["document_url"].startswith("https://www.sec.gov/Archives/")
    seen_by_tenant = json.dumps(
        [status.model_dump(mode="json"), [i.model_dump(mode="json") for i in items.values()], events, result,
         documents]
    )  # fmt: skip
    assert documents and all(d["document_url"].startswith("https://www.sec.gov/") for d in documents)
    assert mirror not in seen_by_tenant
    assert any(mirror in message for message in job_log.messages), job_log.messages
