"""The dashboard at a desktop and a phone width, in a real headless Chromium.

Jobs of every kind finish before the page opens; the page is opened the way ``acquire demo``
links to it (the API key in the URL fragment). At each width every form and every finished
job's detail is measured: no element may stick out of its card. A finished job shows the
whole timeline its stream holds. Screenshots go to ``artifacts/dashboard-{width}.png``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from arq.worker import Worker
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait
from starlette.types import Receive, Scope, Send

from acquire.client import AcquireClient
from acquire.settings import Settings
from acquire.store import keys
from acquire.testing.demo import DEMO_JOBS
from examples.starlette_app import create_app

from .browser import chromium, full_page_screenshot, overflows, set_viewport
from .conftest import API_KEYS, KEY_ACME, SECRET, serve

pytestmark = pytest.mark.usefixtures("browser_binaries")

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
WIDTHS = (1400, 390)
KINDS = ("risk_drift", "sec_filings", "xbrl_facts", "yahoo")


def _open(driver: WebDriver, base: str) -> dict[str, Any]:
    driver.get(f"{base}/#key={KEY_ACME}")
    WebDriverWait(driver, 45).until(ec.text_to_be_present_in_element((By.ID, "auth-status"), "connected"))
    return {
        "url": driver.current_url,
        "stored": driver.execute_script("return sessionStorage.getItem('acquire.apiKey')"),
    }


def _show_job(driver: WebDriver, job_id: str) -> list[str | None]:
    """Select the job's row; its detail once the result and the final event are shown."""
    wait = WebDriverWait(driver, 45)
    row = f'#jobs-body tr[data-job-id="{job_id}"]'

    def click(driver: WebDriver) -> bool:
        try:  # the list is redrawn whenever it refreshes: a row found a moment ago may be gone
            driver.find_element(By.CSS_SELECTOR, row).click()
        except (NoSuchElementException, StaleElementReferenceException):
            return False
        return True

    wait.until(click)
    detail = f'#job-detail[data-job-id="{job_id}"][data-job-state="completed"]'
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, detail)))
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#detail-result details")))
    last = '#detail-events li:last-child[data-event="job_completed"]'
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, last)))
    events = driver.find_elements(By.CSS_SELECTOR, "#detail-events li")
    return [li.get_attribute("data-event") for li in events]


def _measure(base: str, job_ids: dict[str, str]) -> dict[int, dict[str, Any]]:
    pages: dict[int, dict[str, Any]] = {}
    with chromium() as driver:
        for width in WIDTHS:
            set_viewport(driver, width, 1000)
            page: dict[str, Any] = {"opened": _open(driver, base), "overflows": {}, "events": {}}
            page["viewport"] = driver.execute_script("return innerWidth")
            page["overflows"]["empty detail"] = overflows(driver)
            for kind in KINDS:
                Select(driver.find_element(By.ID, "kind")).select_by_value(kind)
                page["overflows"][f"{kind} form"] = overflows(driver)
            for kind, job_id in job_ids.items():
                page["events"][kind] = _show_job(driver, job_id)
                page["overflows"][f"{kind} detail"] = overflows(driver)
            jobs_table = driver.find_element(By.CSS_SELECTOR, "#jobs-table").find_element(By.XPATH, "..")
            page["jobs_table"] = [jobs_table.get_property(p) for p in ("scrollWidth", "clientWidth")]
            _show_job(driver, job_ids["risk_drift"])
            full_page_screenshot(driver, ARTIFACTS / f"dashboard-{width}.png")
            pages[width] = page
            driver.delete_all_cookies()
            driver.execute_script("sessionStorage.clear()")
    return pages


@pytest.mark.timeout(300)  # four jobs, then a browser measuring two widths
async def test_no_element_overflows_its_card_at_desktop_and_phone_widths(
    settings: Settings, redis: aioredis.Redis, live_worker: Worker
) -> None:
    for width in WIDTHS:
        (ARTIFACTS / f"dashboard-{width}.png").unlink(missing_ok=True)
    app = create_app(settings, api_keys=API_KEYS, token_secret=SECRET)
    seen: list[str] = []  # every request line the server received

    async def recording(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            seen.append(f"{scope['path']}?{scope['query_string'].decode()}")
        await app(scope, receive, send)

    async with serve(recording) as base, await AcquireClient.connect(settings) as client:
        jobs = {spec["kind"]: await client.submit("acme", spec) for spec in DEMO_JOBS}
        for job in jobs.values():
            assert (await job.wait(timeout=120)).state.value == "completed"
        stored = {}
        for kind, job in jobs.items():
            entries = await redis.xrange(keys.job_events("acme", job.job_id))
            stored[kind] = [fields[b"event"].decode() for _, fields in entries]
        pages = await asyncio.to_thread(_measure, base, {kind: job.job_id for kind, job in jobs.items()})
    assert set(stored) == set(KINDS)
    # The key travelled in the fragment and then in headers only: no request line carries it.
    assert any(line.startswith("/acquire/jobs?") for line in seen)
    assert [line for line in seen if KEY_ACME in line] == []
    for width, page in pages.items():
        assert page["viewport"] == width
        # Opened connected from the link; the key is gone from the address bar at once.
        assert page["opened"] == {"url": f"{base}/", "stored": KEY_ACME}
        assert page["overflows"] == {name: [] for name in page["overflows"]}, width
        assert len(page["overflows"]) == 1 + 2 * len(KINDS)
        # Every job finished before the page opened: its whole timeline is read from the stream.
        assert page["events"] == stored
        for events in stored.values():
            assert events[0] == "job_queued" and events[-1] == "job_completed" and "job_started" in events
        scroll_width, client_width = page["jobs_table"]
        assert scroll_width <= client_width  # the jobs list fits without scrolling, even on a phone
        assert (ARTIFACTS / f"dashboard-{width}.png").stat().st_size > 10_000
