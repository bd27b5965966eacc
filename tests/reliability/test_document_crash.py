"""A worker SIGKILLed between downloading a filing and storing it: no dangling reference."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from acquire.client import AcquireClient
from acquire.models import JobState, SecFilingsRequest
from acquire.settings import Settings
from acquire.store import keys
from acquire.store.blobs import DirectoryBlobs
from acquire.testing.reliability.fleet import Fleet, fleet_env
from acquire.testing.replay import ReplayServer
from tests.support.jobs import run_real_worker

HOOK = Path(__file__).parent / "kill_on_document_write"
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(420)
async def test_a_worker_killed_before_the_store_write_leaves_no_reference(
    settings: Settings, redis: aioredis.Redis, upstream: ReplayServer, tmp_path: Path
) -> None:
    folder = tmp_path / "documents"
    quick = settings.model_copy(
        update={"acquire_document_store": f"file://{folder}", "acquire_job_timeout": 5}
    )
    async with await AcquireClient.connect(quick) as client:
        job = await client.submit("acme", SecFilingsRequest(companies=["NVDA"], years=[2024]))
        env = fleet_env(
            quick,
            ACQUIRE_DOCUMENT_STORE=f"file://{folder}",
            ACQUIRE_JOB_TIMEOUT="5",
            PYTHONPATH=os.pathsep.join([str(HOOK), str(ROOT)]),
        )
        with Fleet(env, tmp_path / "logs") as fleet:
            fleet.start(1)
            assert fleet.wait(0, timeout=300) == -9, fleet.log(0)  # a busy machine starts slowly

        # Killed mid-write: half a temporary file, no object, no reference, no index entry.
        assert [p.name for p in folder.rglob("*") if p.is_file()] == [".partial-crash"]
        assert not (await job.status()).state.final
        assert await job.documents() == []
        assert await redis.zcard(keys.document_index()) == 0

        # The job is delivered again (after arq's in-progress lock expires) and stores the filing once.
        await run_real_worker(quick)
        status = await job.status()
        assert status.state == JobState.COMPLETED, status
        documents = await job.documents()
        assert len(documents) == 1
        blobs = DirectoryBlobs(folder)
        ref = documents[0]
        shas = [sha for sha in (ref.sha256, ref.text_sha256, ref.sections_sha256) if sha is not None]
        assert len(shas) == 3 and all(blobs.path(sha).is_file() for sha in shas)  # every reference resolves
        stored = sorted(p.name for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
        assert stored == sorted(shas)  # one copy each
        assert len(await job.document(ref.accession)) == ref.size
        filing = (await job.result()).companies[0].filings[0]
        assert filing.document_id == ref.sha256 and filing.store_uri == ref.uri
