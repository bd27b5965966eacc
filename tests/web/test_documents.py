"""The document routes end to end: a real worker stores NVIDIA's 10-K, the router serves it."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

from acquire.client import AcquireClient
from acquire.models import SecFilingsRequest
from acquire.results import SecFilingsResult
from acquire.settings import Settings
from acquire.store.documents import DocumentNotFoundError
from acquire.testing.replay import ReplayServer
from tests.support.jobs import run_real_worker
from tests.support.web import ACME, GLOBEX

from .conftest import Web

FIXTURES = Path(__file__).parent.parent / "fixtures"
NVDA_2024 = "0001045810-24-000029"
NVDA_BYTES = gzip.decompress(
    (
        FIXTURES / "sec/www.sec.gov/Archives/edgar/data/1045810/000104581024000029/nvda-20240128.htm.gz"
    ).read_bytes()
)
NVDA_SHA = hashlib.sha256(NVDA_BYTES).hexdigest()
NOT_FOUND = (404, b'{"detail":"document not found"}')
JOB_NOT_FOUND = (404, b'{"detail":"job not found"}')


async def _nvda_job(client: AcquireClient, org: str, **options: object) -> str:
    job = await client.submit(org, SecFilingsRequest(companies=["NVDA"], years=[2024], **options))
    return job.job_id


async def test_documents_text_and_sections_of_a_stored_10k(
    web: Web, client: AcquireClient, settings: Settings, upstream: ReplayServer
) -> None:
    job_id = await _nvda_job(client, "acme")
    await run_real_worker(settings)
    base = f"{web.url}/jobs/{job_id}/documents"
    listing = (await web.http.get(base, headers=ACME)).json()["documents"]
    assert [d["accession"] for d in listing] == [NVDA_2024]
    assert listing[0]["sha256"] == NVDA_SHA and listing[0]["size"] == len(NVDA_BYTES)

    response = await web.http.get(f"{base}/{NVDA_2024}", headers=ACME)
    assert response.status_code == 200 and response.content == NVDA_BYTES
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["etag"] == f'"{NVDA_SHA}"'
    assert response.headers["content-length"] == str(len(NVDA_BYTES))
    by_sha = await web.http.get(f"{base}/{NVDA_SHA}", headers=ACME)
    assert by_sha.content == NVDA_BYTES
    again = await web.http.get(f"{base}/{NVDA_2024}", headers={**ACME, "If-None-Match": f'"{NVDA_SHA}"'})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", f'"{NVDA_SHA}"')

    text = await web.http.get(f"{base}/{NVDA_2024}/text", headers=ACME)
    assert text.headers["content-type"].startswith("text/plain") and "NVIDIA" in text.text
    sections = (await web.http.get(f"{base}/{NVDA_2024}/sections", headers=ACME)).json()["sections"]
    items = [s["item"] for s in sections]
    assert items[:3] == ["1", "1A", "1B"] and "7" in items and "text" not in sections[0]
    seven = (await web.http.get(f"{base}/{NVDA_2024}/sections/7", headers=ACME)).json()
    assert seven["text"].startswith("Item 7.") and seven["text"] == text.text[seven["start"] : seven["end"]]

    # the client API reads the same, and the SEC result carries the document id and store URI
    job = client.job("acme", job_id)
    assert await job.document(NVDA_2024) == NVDA_BYTES
    assert await job.document_text(NVDA_2024) == text.text
    assert (await job.section(NVDA_2024, "7"))["text"] == seven["text"]
    assert [s["item"] for s in await job.sections(NVDA_2024)] == items
    result = await job.result()
    assert isinstance(result, SecFilingsResult)  # client.job's handle holds any kind's result
    filing = result.companies[0].filings[0]
    assert filing.document_id == NVDA_SHA and (filing.store_uri or "").startswith("redis:///")
    # fetched once more (another job, another org): still one copy
    blob_keys = [k async for k in client.redis.scan_iter("acquire:documents:*:data")]
    assert len(blob_keys) == 3  # the document, its text and its sections


async def test_sections_only_request_keeps_no_document(
    web: Web, client: AcquireClient, settings: Settings, upstream: ReplayServer
) -> None:
    job_id = await _nvda_job(client, "acme", sections=["1A", "7"])
    await run_real_worker(settings)
    job = client.job("acme", job_id)
    assert [s["item"] for s in await job.sections(NVDA_2024)] == ["1A", "7"]
    with pytest.raises(DocumentNotFoundError):
        await job.document(NVDA_2024)
    base = f"{web.url}/jobs/{job_id}/documents/{NVDA_2024}"
    response = await web.http.get(base, headers=ACME)
    assert (response.status_code, response.content) == NOT_FOUND
    assert (await web.http.get(f"{base}/sections/1A", headers=ACME)).json()["item"] == "1A"


async def test_another_orgs_documents_are_indistinguishable_from_missing_ones(
    web: Web, client: AcquireClient, settings: Settings, upstream: ReplayServer
) -> None:
    acme_job = await _nvda_job(client, "acme")
    # globex's own job lists the same company for another year: it never fetched acme's document
    globex_job = (await client.submit("globex", SecFilingsRequest(companies=["NVDA"], years=[2023]))).job_id
    await run_real_worker(settings)
    acme = f"{web.url}/jobs/{acme_job}/documents"
    globex = f"{web.url}/jobs/{globex_job}/documents"
    assert (await web.http.get(f"{acme}/{NVDA_2024}", headers=ACME)).status_code == 200
    answers = set()
    for path, headers in [
        (f"{acme}/{NVDA_2024}", GLOBEX),  # acme's job, globex's key
        (f"{acme}/{NVDA_SHA}/text", GLOBEX),
        (f"{acme}/{NVDA_2024}/sections/7", GLOBEX),
        (acme, GLOBEX),
    ]:
        response = await web.http.get(path, headers=headers)
        answers.add((response.status_code, response.content))
    assert answers == {JOB_NOT_FOUND}
    answers = set()
    for name in [NVDA_2024, NVDA_SHA, "0000000000-00-000000", "%2e%2e", "a" * 64, NVDA_SHA.upper()]:
        for suffix in ["", "/text", "/sections", "/sections/7", "/sections/..%5C7"]:
            response = await web.http.get(f"{globex}/{name}{suffix}", headers=GLOBEX)
            answers.add((response.status_code, response.content))
    assert answers == {NOT_FOUND}
    # paths that leave the route (an encoded slash, dot segments) match no route at all: 404
    for path in [
        f"{globex}/..%2F..%2F{acme_job}%2Fdocuments%2F{NVDA_2024}",
        f"{globex}/../../{acme_job}/documents/{NVDA_2024}",
    ]:
        response = await web.http.get(path, headers=GLOBEX)
        assert response.status_code == 404 and NVDA_BYTES[:200] not in response.content
    with pytest.raises(DocumentNotFoundError):
        await client.job("globex", globex_job).document(NVDA_SHA)


@pytest.mark.parametrize("suffix", ["", f"/{NVDA_2024}", f"/{NVDA_2024}/text", f"/{NVDA_2024}/sections/7"])
async def test_document_routes_require_authorisation(web: Web, suffix: str) -> None:
    response = await web.http.get(f"{web.url}/jobs/AAAAAAAAAAAAAAAAAAAAAA/documents{suffix}")
    assert response.status_code == 401
