"""The dashboard in a real headless Chromium, against the example app, real Redis and a worker.

The browser submits a job through the form, follows it live over EventSource and renders the
result; the page is saved to ``artifacts/dashboard.png``. Selenium is synchronous, so the
browser is driven from a thread while this event loop serves the app and runs the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from arq.worker import Worker
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from acquire.client import AcquireClient
from acquire.models import JobState, SecFilingsRequest
from acquire.settings import Settings
from acquire.worker import create_worker
from examples.starlette_app import create_app

from .browser import chromium
from .conftest import API_KEYS, KEY_ACME, SECRET, serve

pytestmark = pytest.mark.usefixtures("browser_binaries")

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"


def _attrs(driver: WebDriver, css: str, name: str) -> list[str | None]:
    return [node.get_attribute(name) for node in driver.find_elements(By.CSS_SELECTOR, css)]


def _connect(driver: WebDriver, base: str) -> WebDriverWait[WebDriver]:
    wait = WebDriverWait(driver, 45)
    driver.get(f"{base}/")
    driver.find_element(By.ID, "api-key").send_keys(KEY_ACME)
    driver.find_element(By.CSS_SELECTOR, "#auth-form button").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "auth-status"), "connected"))
    return wait


def _submit_sec_job_and_read_page(base: str) -> dict[str, object]:
    with chromium() as driver:
        wait = _connect(driver, base)
        Select(driver.find_element(By.ID, "kind")).select_by_value("sec_filings")
        companies = driver.find_element(By.ID, "sec-companies")
        assert companies.is_displayed() and not driver.find_element(By.ID, "rd-ticker").is_displayed()
        years = driver.find_element(By.ID, "sec-years")
        years.clear()
        years.send_keys("1900")
        driver.find_element(By.ID, "submit-job").click()  # refused by the API: shown, naming the field
        wait.until(ec.visibility_of_element_located((By.ID, "form-errors")))
        refusal = driver.find_element(By.ID, "form-errors").text
        years.clear()
        years.send_keys("2024")
        driver.find_element(By.ID, "submit-job").click()
        wait.until(
            ec.presence_of_element_located((By.CSS_SELECTOR, '#job-detail[data-job-state="completed"]'))
        )
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "table.filings tbody tr")))
        ARTIFACTS.mkdir(exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "dashboard-sec.png"))
        detail = driver.find_element(By.ID, "job-detail")
        page: dict[str, object] = {
            "refusal": refusal,
            "job_id": detail.get_attribute("data-job-id"),
            "progress": driver.find_element(By.ID, "detail-progress").get_attribute("aria-valuenow"),
            "events": _attrs(driver, "#detail-events li", "data-event"),
            "filings": [
                [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
                for tr in driver.find_elements(By.CSS_SELECTOR, "table.filings tbody tr")
            ],
            "rows": _attrs(driver, "#jobs-body tr", "data-job-state"),
            "summary": {
                tr.get_attribute("data-key"): tr.find_element(By.TAG_NAME, "td").text
                for tr in driver.find_elements(By.CSS_SELECTOR, ".summary-table tr")
            },
        }
        # the stored filing's sections: a click lists them, a click on one shows its text
        row = driver.find_element(By.CSS_SELECTOR, "table.filings tbody tr")
        row.find_element(By.XPATH, ".//button[text()='Sections']").click()
        item7 = '#filing-sections button[data-item="7"]'
        wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, item7)))
        page["sections"] = _attrs(driver, "#filing-sections button", "data-item")
        driver.find_element(By.CSS_SELECTOR, item7).click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "section-text"), "Item 7"))
        page["section_7"] = driver.find_element(By.ID, "section-text").text[:200]
        driver.save_screenshot(str(ARTIFACTS / "dashboard-sec-sections.png"))
        return page


async def test_sec_filings_job_submitted_and_followed_in_the_browser(
    settings: Settings, redis: aioredis.Redis, live_worker: Worker
) -> None:
    app = create_app(settings, api_keys=API_KEYS, token_secret=SECRET)
    async with serve(app) as base:
        page = await asyncio.to_thread(_submit_sec_job_and_read_page, base)
    status = await redis.keys("acquire:*")
    assert status  # the job really went through Redis
    assert "years.0: year must be between 1993" in str(page["refusal"])
    assert page["progress"] == "100"
    events = page["events"]
    assert isinstance(events, list)
    assert events[0] == "job_queued" and events[-1] == "job_completed"
    assert {"job_started", "step_complete", "item_completed"} <= set(events)
    filings = page["filings"]
    assert isinstance(filings, list) and len(filings) == 1
    assert filings[0][:3] == ["NVDA", "10-K", "2024"] and filings[0][-2:] == ["completed", "DownloadSections"]
    sections = page["sections"]
    assert isinstance(sections, list) and sections[:2] == ["1", "1A"] and "7" in sections
    assert str(page["section_7"]).startswith("Item 7.")
    assert page["rows"] == ["completed"]
    assert page["summary"] == {
        "companies": "1",
        "companies_completed": "1",
        "filings": "1",
        "filings_failed": "0",
    }


def _row_state(driver: WebDriver, job_id: str, state: str) -> str | None:
    row = f'#jobs-body tr[data-job-id="{job_id}"][data-job-state="{state}"]'
    WebDriverWait(driver, 45).until(ec.presence_of_element_located((By.CSS_SELECTOR, row)))
    return driver.find_element(By.CSS_SELECTOR, row).get_attribute("data-job-state")


async def test_jobs_submitted_elsewhere_appear_without_a_click(
    settings: Settings, redis: aioredis.Redis, live_worker: Worker
) -> None:
    app = create_app(settings, api_keys=API_KEYS, token_secret=SECRET)
    browser = chromium()
    async with serve(app) as base, await AcquireClient.connect(settings) as client:
        driver = await asyncio.to_thread(browser.__enter__)
        try:
            await asyncio.to_thread(_connect, driver, base)
            assert await asyncio.to_thread(_attrs, driver, "#jobs-body tr", "data-job-id") == []
            # Submitted by another program while the page is open: the list refresh finds it,
            # and the page then follows it to its end.
            job = await client.submit("acme", SecFilingsRequest(companies=["NVDA"], years=[2024]))
            state = await asyncio.to_thread(_row_state, driver, job.job_id, "completed")
        finally:
            await asyncio.to_thread(browser.__exit__, None, None, None)
    assert state == "completed"
    assert (await job.status()).state == JobState.COMPLETED


# ---- risk drift ------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _worker(settings: Settings) -> AsyncIterator[None]:
    """Workers on both queues (they are the same queue unless ACQUIRE_ANALYSIS_QUEUE is set)."""
    tasks, workers = [], []
    for analysis in {False, settings.acquire_analysis_queue != settings.acquire_queue}:
        worker = create_worker(settings, analysis=analysis, extra_functions=[])
        workers.append(worker)
        tasks.append(asyncio.create_task(worker.async_run()))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task, worker in zip(tasks, workers, strict=True):
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await worker.close()


def _heatmap_cells(driver: WebDriver) -> dict[tuple[str, str], dict[str, str | None]]:
    return {
        (cell.get_attribute("data-category") or "", cell.get_attribute("data-column") or ""): {
            "value": cell.get_attribute("data-value"),
            "risk": cell.get_attribute("data-risk"),
            "text": cell.text,
        }
        for cell in driver.find_elements(By.CSS_SELECTOR, "#heatmap td[data-category]")
    }


def _submit_risk_drift_and_read_heatmap(base: str) -> dict[str, Any]:
    with chromium() as driver:
        driver.set_window_size(1400, 1500)
        wait = _connect(driver, base)
        kind = Select(driver.find_element(By.ID, "kind"))
        assert kind.first_selected_option.get_attribute("value") == "risk_drift"  # the default
        assert driver.find_element(By.ID, "rd-ticker").get_attribute("value") == "NVDA"
        assert driver.find_element(By.ID, "rd-current").get_attribute("value") == "2025"
        assert driver.find_element(By.ID, "rd-previous").get_attribute("value") == "2024"
        driver.find_element(By.ID, "submit-job").click()
        wait.until(
            ec.presence_of_element_located((By.CSS_SELECTOR, '#job-detail[data-job-state="completed"]'))
        )
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, '#heatmap table[data-metric="words"]')))
        words = _heatmap_cells(driver)
        Select(driver.find_element(By.ID, "heatmap-metric")).select_by_value("count")
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, '#heatmap table[data-metric="count"]')))
        count = _heatmap_cells(driver)
        Select(driver.find_element(By.ID, "heatmap-metric")).select_by_value("words")
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, '#heatmap table[data-metric="words"]')))
        removed = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#removed-factors li")]
        new = driver.find_element(By.ID, "new-factors").text
        summary = driver.find_element(By.ID, "executive-summary").text
        events = [
            li.get_attribute("data-event")
            for li in driver.find_elements(By.CSS_SELECTOR, "#detail-events li")
        ]
        ARTIFACTS.mkdir(exist_ok=True)
        driver.execute_script("document.getElementById('job-detail').scrollIntoView()")
        driver.save_screenshot(str(ARTIFACTS / "dashboard.png"))
        job_summary = {
            tr.get_attribute("data-key"): tr.find_element(By.TAG_NAME, "td").text
            for tr in driver.find_elements(By.CSS_SELECTOR, ".summary-table tr")
        }
        return {
            "words": words,
            "count": count,
            "removed": removed,
            "new": new,
            "summary": summary,
            "events": events,
            "job_summary": job_summary,
        }


async def test_risk_drift_job_shows_a_heatmap_in_the_browser(
    settings: Settings, redis: aioredis.Redis
) -> None:
    app = create_app(settings, api_keys=API_KEYS, token_secret=SECRET)
    async with _worker(settings), serve(app) as base:
        page = await asyncio.to_thread(_submit_risk_drift_and_read_heatmap, base)
    assert page["events"][0] == "job_queued" and page["events"][-1] == "job_completed"
    assert "step_complete" in page["events"]
    words, count = page["words"], page["count"]
    categories = {category for category, _ in words}
    assert {"macroeconomic", "geopolitical_trade", "capital_liquidity"} <= categories
    assert {column for _, column in words} == {"previous", "current", "change"}
    assert len(words) == 3 * len(categories)
    # Every row is consistent: change = current - previous, and the colour follows the change.
    for category in categories:
        previous, current, change = (
            float(words[category, c]["value"] or "nan") for c in ("previous", "current", "change")
        )
        assert change == current - previous
        expected = "increased" if change > 0 else "decreased" if change < 0 else "unchanged"
        assert {words[category, c]["risk"] for c in ("previous", "current", "change")} == {expected}
    # Figures read from the two NVIDIA 10-Ks: Macroeconomic risk grew by 9 words (494 -> 503).
    assert words["macroeconomic", "previous"]["value"] == "494"
    assert words["macroeconomic", "current"]["value"] == "503"
    assert words["macroeconomic", "change"] == {"value": "9", "risk": "increased", "text": "+9"}
    # The one removed factor (indebtedness) left capital & liquidity with one factor fewer.
    assert count["capital_liquidity", "change"]["value"] == "-1"
    assert count["capital_liquidity", "change"]["risk"] == "decreased"
    assert len(page["removed"]) == 1 and page["removed"][0].startswith(
        "Our indebtedness could adversely affect"
    )
    assert page["new"] == "None."
    assert page["summary"].startswith("Item 1A went from 24 risk factors")
    assert page["job_summary"]["counts · removed"] == "1"
    assert page["job_summary"]["factors · previous"] == "24"
