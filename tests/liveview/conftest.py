"""A headless Debian Chromium driven through selenium, once per test session.

Nothing downloads a browser: the driver and the browser are Debian's (``chromium``,
``chromium-driver``, installed by ``make test``), named by path so selenium's own manager never runs.
Missing, they skip the browser tests, and fail them under ``CI=true``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.testbed.fixtures import require

HEADLESS_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)
#: Where screenshots land (not committed: .testbed/ is ignored).
ARTIFACTS = Path(__file__).resolve().parents[2] / ".testbed" / "artifacts"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """A Chromium WebDriver with a fresh profile, quit at the end of the session."""
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    require(chromium is not None, "Debian package `chromium`")
    require(driver_path is not None, "Debian package `chromium-driver`")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="kaizen-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for flag in (*HEADLESS_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(driver_path)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
