"""Headless Chromium for the browser tests: Debian's ``chromium`` driven by ``chromedriver``.

``.ci/run`` installs both (and ``selenium`` and ``pypdf`` come with the test extra); where
they are missing the tests skip and say how to install them. The browser runs with a fresh
profile and no background networking, so that any request it makes comes from the page.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Flags that let Chromium run here: headless as root, no GPU, nothing fetched on its own.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)

INSTALL_HINT = (
    "apt-get install chromium chromium-driver (bash .ci/run installs them) and "
    "pip install -e '.[test]' (selenium, pypdf)"
)


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    missing = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    if missing:
        return f"{' and '.join(missing)} not installed: {INSTALL_HINT}"
    for module in ("selenium", "pypdf"):
        try:
            __import__(module)
        except ImportError:
            return f"the Python package {module} is not installed: {INSTALL_HINT}"
    return None


@dataclass
class Browser:
    """One headless Chromium window, with what the page logged and requested."""

    driver: Any

    def open(self, page: Path, width: int = 1366, height: int = 900, script: bool = True) -> None:
        """Load ``page`` in a ``width`` x ``height`` viewport, with or without JavaScript."""
        self.driver.get_log("browser")  # forget what earlier pages logged
        self.driver.get_log("performance")
        self.resize(width, height)
        self.driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": not script})
        self.driver.get(page.resolve().as_uri())

    def resize(self, width: int, height: int) -> None:
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    def run(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def console_errors(self) -> list[str]:
        return [
            entry["message"]
            for entry in self.driver.get_log("browser")
            if entry.get("level") in ("SEVERE", "ERROR")
        ]

    def requests(self) -> list[str]:
        """Every URL the page asked for since it was opened (the page itself included)."""
        urls = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.requestWillBeSent":
                urls.append(message["params"]["request"]["url"])
        return urls

    def pdf_pages(self) -> list[str]:
        """The page printed to PDF (A4, as a person prints it), as the text of each page."""
        from pypdf import PdfReader

        printed = self.driver.execute_cdp_cmd(
            "Page.printToPDF",
            {"paperWidth": 8.27, "paperHeight": 11.69, "printBackground": False},
        )
        reader = PdfReader(io.BytesIO(base64.b64decode(printed["data"])))
        return [page.extract_text() or "" for page in reader.pages]


@contextmanager
def chromium(profile: Path) -> Iterator[Browser]:
    """Start Chromium with a fresh profile in ``profile``; quit it afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    service = Service(executable_path=shutil.which("chromedriver") or "chromedriver")
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield Browser(driver)
    finally:
        driver.quit()
