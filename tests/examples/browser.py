"""A real headless Chromium (Debian's chromium + chromedriver) driven by Selenium.

The browser tests need the system packages ``chromium`` and ``chromium-driver`` (Debian and
Ubuntu names). Where they are missing the tests are reported as not run, with the reason;
``.ci/run`` installs them and sets ``REQUIRE_BROWSER_TESTS=1``, which turns a missing browser
into a failure, so CI never skips them silently. ``CHROMIUM`` and ``CHROMEDRIVER`` name other
binaries.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

REQUIRE_ENV = "REQUIRE_BROWSER_TESTS"
PACKAGES = "chromium chromium-driver"
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,2200",
    "--force-device-scale-factor=1",
]


def _find(env: str, *names: str) -> str | None:
    if os.environ.get(env):
        path = os.environ[env]
        return path if os.access(path, os.X_OK) else None
    return next((found for name in names if (found := shutil.which(name))), None)


def binaries() -> tuple[str, str]:
    """(chromium, chromedriver); ``pytest.skip`` or ``pytest.fail`` (CI) when one is missing."""
    chromium_path = _find("CHROMIUM", "chromium", "chromium-browser")
    driver_path = _find("CHROMEDRIVER", "chromedriver")
    if chromium_path and driver_path:
        return chromium_path, driver_path
    missing = [
        name for name, path in (("chromium", chromium_path), ("chromedriver", driver_path)) if not path
    ]
    reason = (
        f"browser tests not run: {' and '.join(missing)} not found "
        f"(Debian/Ubuntu: apt-get install {PACKAGES})"
    )
    if os.environ.get(REQUIRE_ENV):
        pytest.fail(f"{reason}; {REQUIRE_ENV} is set, so a missing browser is a failure", pytrace=False)
    pytest.skip(reason)


@contextlib.contextmanager
def chromium() -> Iterator[webdriver.Chrome]:
    """A fresh browser profile per test; nothing is fetched from the network."""
    chromium_path, driver_path = binaries()
    profile = Path(tempfile.mkdtemp(prefix="acquire-chromium-"))
    options = webdriver.ChromeOptions()
    options.binary_location = chromium_path
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def set_viewport(driver: webdriver.Chrome, width: int, height: int) -> None:
    """An exact viewport, as DevTools' device mode sets it (a window cannot be narrower than
    500 px, and a screenshot beyond the viewport lays the page out at the window's width)."""
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)


def full_page_screenshot(driver: webdriver.Chrome, path: Path) -> None:
    """The whole page at the current viewport width (``save_screenshot`` stops at its bottom)."""
    width, height = driver.execute_script("return [innerWidth, innerHeight]")
    full = driver.execute_script("return document.documentElement.scrollHeight")
    set_viewport(driver, width, full)
    try:
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
    finally:
        set_viewport(driver, width, height)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))


# Every rendered element of a card (and of the top bar) must lie within it horizontally. An
# element inside a scrolling container below the card is judged by that container, which is
# itself such an element. The page itself must not scroll sideways.
_OVERFLOWS_JS = """
const out = [];
const describe = (n) => n.tagName.toLowerCase() + (n.id ? '#' + n.id : '') +
  (n.className && typeof n.className === 'string' ? '.' + n.className.trim().split(/\\s+/).join('.') : '');
for (const box of document.querySelectorAll('.card, .topbar')) {
  const b = box.getBoundingClientRect();
  if (!b.width) continue;
  for (const node of box.querySelectorAll('*')) {
    const r = node.getBoundingClientRect();
    if (!r.width && !r.height) continue;
    let up = node.parentElement, clipped = false;
    while (up && up !== box) {
      if (getComputedStyle(up).overflowX !== 'visible') { clipped = true; break; }
      up = up.parentElement;
    }
    if (clipped || node.closest('.sr-only')) continue;
    if (r.left < b.left - 0.5 || r.right > b.right + 0.5) {
      out.push(`${describe(node)} [${Math.round(r.left)}, ${Math.round(r.right)}] outside ` +
               `${describe(box)} [${Math.round(b.left)}, ${Math.round(b.right)}]`);
    }
  }
}
const page = document.documentElement;
if (page.scrollWidth > page.clientWidth) {
  out.push(`page scrolls sideways: ${page.scrollWidth} > ${page.clientWidth}`);
}
return out;
"""


def overflows(driver: webdriver.Chrome) -> list[str]:
    """Elements sticking out of their card at the current window size (empty when none)."""
    found: list[str] = driver.execute_script(_OVERFLOWS_JS)
    return found
