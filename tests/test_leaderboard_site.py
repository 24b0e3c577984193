"""The leaderboard's web page in a real headless browser (Chromium driven by Selenium).

Skipped, with the reason, where Chromium, chromedriver or selenium is missing, unless
``TLBENCH_REQUIRE_BROWSER=1`` (set by ``.ci/run``, which installs them) turns the skip into a
failure. ``TLBENCH_SCREENSHOT=path.png`` keeps a full-page screenshot of the page.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tlbench.leaderboard import leaderboard_dir

SITE = leaderboard_dir() / "site" / "index.html"


def _browser_or_skip() -> tuple[str, str]:
    chromium = next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p),
        None,
    )
    driver = shutil.which("chromedriver")
    try:
        import selenium  # noqa: F401
    except ImportError:
        selenium_ok = False
    else:
        selenium_ok = True
    missing = [
        what
        for what, ok in (
            ("chromium", chromium),
            ("chromedriver", driver),
            ("the selenium package", selenium_ok),
        )
        if not ok
    ]
    if missing:
        reason = (
            f"the browser test needs {', '.join(missing)} (apt-get install chromium "
            "chromium-driver; pip install selenium, in the dev extras)"
        )
        if os.environ.get("TLBENCH_REQUIRE_BROWSER") == "1":
            pytest.fail(f"TLBENCH_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    assert chromium is not None and driver is not None
    return chromium, driver


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium, driver_path = _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="tlbench-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1300,900",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def page(browser: Any) -> Any:
    assert SITE.is_file(), f"{SITE} is missing: run `tlbench leaderboard`"
    browser.get(SITE.resolve().as_uri())
    browser.execute_script("return document.readyState")  # waits for the load to settle
    return browser


def test_page_loads_without_console_errors(page: Any) -> None:
    assert page.title == "tlbench leaderboard"
    errors = [e for e in page.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == []


def test_every_plot_is_shown(page: Any) -> None:
    images = page.execute_script(
        "return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, "
        "i.naturalWidth]);"
    )
    assert images, "the page shows no plot"
    broken = [src for src, complete, width in images if not (complete and width > 0)]
    assert broken == []


def _column(table: Any, index: int) -> list[str]:
    return [
        cell.get_attribute("data-value") or cell.text
        for cell in table.find_elements("css selector", f"tbody tr td:nth-child({index + 1})")
    ]


def _numbers(values: list[str]) -> list[float]:
    return [float(v) for v in values if v != ""]


def test_a_table_sorts_when_its_header_is_clicked(page: Any) -> None:
    from selenium.webdriver.common.by import By

    tables = page.find_elements(By.CSS_SELECTOR, "table.sortable")
    assert tables
    table = tables[0]
    headers = table.find_elements(By.CSS_SELECTOR, "thead th")
    names = [h.text.strip() for h in headers]
    column = names.index("final return")
    headers[column].click()
    assert headers[column].get_attribute("aria-sort") == "ascending"
    ascending = _numbers(_column(table, column))
    assert len(ascending) >= 2 and ascending == sorted(ascending)
    headers[column].click()
    assert headers[column].get_attribute("aria-sort") == "descending"
    descending = _numbers(_column(table, column))
    assert descending == sorted(ascending, reverse=True)
    agent = names.index("agent")
    headers[agent].click()
    labels = _column(table, agent)
    assert labels == sorted(labels, key=str.casefold) or labels == sorted(labels)
    errors = [e for e in page.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == []


def test_each_entry_shows_its_command_and_hardware(page: Any) -> None:
    from selenium.webdriver.common.by import By

    commands = page.find_elements(By.CSS_SELECTOR, "pre.command code")
    assert commands
    for code in commands:
        text = code.get_attribute("textContent")
        assert text.startswith("tlbench evaluate ")
    assert "code digest" in page.page_source and "hardware" in page.page_source


def test_screenshot(page: Any, tmp_path: Path) -> None:
    """A full-page screenshot; kept where ``TLBENCH_SCREENSHOT`` says."""
    height = page.execute_script("return document.documentElement.scrollHeight")
    page.set_window_size(1300, min(int(height) + 100, 16000))
    target = Path(os.environ.get("TLBENCH_SCREENSHOT", tmp_path / "leaderboard.png"))
    assert page.save_screenshot(str(target))
    assert target.stat().st_size > 10_000
