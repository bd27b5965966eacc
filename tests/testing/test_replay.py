from __future__ import annotations

import gzip

import httpx

from acquire.testing.replay import Fault, ReplayServer

UA = {"User-Agent": "acquire tests tests@example.com"}


async def test_serves_sec_file_gzip_and_plain(upstream: ReplayServer) -> None:
    async with httpx.AsyncClient(headers=UA) as client:
        r = await client.get(f"{upstream.url}/data.sec.gov/submissions/CIK0001045810.json")
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "gzip"
    assert r.json()["cik"] == "0001045810"


async def test_missing_files_answer_like_sec(upstream: ReplayServer) -> None:
    async with httpx.AsyncClient(headers=UA) as client:
        archives = await client.get(f"{upstream.url}/www.sec.gov/Archives/edgar/data/1/2/nothing.htm")
        data = await client.get(f"{upstream.url}/data.sec.gov/submissions/CIK0000000001.json")
    assert archives.status_code == 403 and b"AccessDenied" in archives.content
    assert data.status_code == 404 and b"NoSuchKey" in data.content


async def test_undeclared_user_agent_is_refused(upstream: ReplayServer) -> None:
    async with httpx.AsyncClient(headers={"User-Agent": "python-httpx"}) as client:
        r = await client.get(f"{upstream.url}/www.sec.gov/files/company_tickers.json")
    assert r.status_code == 403 and b"Undeclared Automated Tool" in r.content


async def test_injected_faults_come_in_order_then_recording(upstream: ReplayServer) -> None:
    upstream.inject(r"company_tickers", Fault(503, b"busy"), Fault(429, b"slow down"))
    url = f"{upstream.url}/www.sec.gov/files/company_tickers.json"
    async with httpx.AsyncClient(headers=UA) as client:
        codes = [(await client.get(url)).status_code for _ in range(3)]
    assert codes == [503, 429, 200]
    assert [r.status for r in upstream.requests_to("www.sec.gov")] == [503, 429, 200]


async def test_sec_throttle_answers_rate_page(tmp_path: object) -> None:
    with ReplayServer(sec_max_rps=2, sec_block_seconds=60) as server:
        url = f"{server.url}/www.sec.gov/files/company_tickers.json"
        async with httpx.AsyncClient(headers=UA) as client:
            codes = [(await client.get(url)).status_code for _ in range(4)]
            last = await client.get(url)
    assert codes[:2] == [200, 200]
    assert codes[2:] == [403, 403]
    assert b"Request Rate Threshold Exceeded" in last.content


async def test_yahoo_exchange_matched_ignoring_crumb(upstream: ReplayServer) -> None:
    async with httpx.AsyncClient() as client:
        r = await client.get(
            f"{upstream.url}/query2.finance.yahoo.com/v10/finance/quoteSummary/ADH",
            params={"formatted": "false", "modules": "assetProfile", "crumb": "x"},
        )
    assert r.status_code == 404
    assert "No fundamentals data found" in r.text


def test_fixture_files_are_gzipped(replay: ReplayServer) -> None:
    big = replay.root / "sec/data.sec.gov/api/xbrl/companyfacts/CIK0000320193.json.gz"
    assert gzip.decompress(big.read_bytes())[:1] == b"{"
