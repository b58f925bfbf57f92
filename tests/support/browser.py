"""A real headless Chromium for the review page tests: Debian's chromium and chromium-driver
through Selenium (pinned in the ``browser`` extra; `make test` installs both).

There is no skip: a machine without the browser fails the test with the command that
installs it, so that CI can never pass without having looked at the page.
"""

from __future__ import annotations

import contextlib
import io
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

INSTALL = "apt-get update && apt-get install -y chromium chromium-driver"
INSTALL_PY = "pip install -c constraints.txt -e '.[browser]'"


def _binaries() -> tuple[str, str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        missing = " and ".join(
            n for n, p in (("chromium", browser), ("chromedriver", driver)) if p is None
        )
        pytest.fail(
            f"the review page is tested in headless Chromium: {missing} not found; install "
            f"them with `{INSTALL}` (as root; `make test` does)",
            pytrace=False,
        )
    return browser, driver


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium driven by chromedriver, logging the page's console."""
    browser, driver_path = _binaries()
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail(f"selenium is not installed: `{INSTALL_PY}` (`make test` does)", pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--autoplay-policy=no-user-gesture-required",
        "--mute-audio",
        "--window-size=1400,900",
        "--no-first-run",
        "--disable-background-networking",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver: Any) -> list[str]:
    """The console's errors and warnings since the last call (CSP violations, failed
    loads, script errors all land there)."""
    return [
        f"{e['level']}: {e['message']}"
        for e in driver.get_log("browser")
        if e["level"] in ("SEVERE", "WARNING")
    ]


def screenshot_variance(driver: Any) -> float:
    """The variance of the grey levels of a screenshot of the window: 0 for a blank one."""
    import numpy as np
    from PIL import Image

    image = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("L")
    return float(np.asarray(image, dtype=np.float64).var())
