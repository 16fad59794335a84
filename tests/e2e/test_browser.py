from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.browser import Browser
from tests.e2e.conftest import Start, require
from tests.processes import ROOT

# Screenshots are test artifacts; `make screenshots` points this at docs/.
ARTIFACTS = Path(os.environ.get("SCREENSHOT_DIR", ROOT / "test-artifacts"))
VIEWPORTS = {"phone": (390, 844), "desktop": (1280, 800)}


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    """Ask for it after the server, so it closes first: an open connection would
    hold up gunicorn's graceful stop."""
    chromium = require("chromium", "chromium")
    opened = Browser(chromium, tmp_path / "profile")
    yield opened
    opened.close()


@pytest.fixture
def blocked_site(start_app: Start) -> str:
    # Chromium connects from 127.0.0.1, which .env.example allowlists: not here.
    server = start_app(
        "gunicorn",
        mode="1",
        allowed_ips="192.0.2.1",
        message="We are upgrading the database to make the site faster.",
    )
    return f"http://127.0.0.1:{server.port}/"


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_page_renders_the_message_and_is_captured(
    blocked_site: str, browser: Browser, viewport: str, scheme: str
) -> None:
    width, height = VIEWPORTS[viewport]
    browser.open(blocked_site, width, height, dark=scheme == "dark")
    text = browser.text()
    assert "Down for maintenance" in text
    assert "We are upgrading the database to make the site faster." in text
    fits = browser.page(
        "Runtime.evaluate",
        expression="document.documentElement.scrollWidth <= window.innerWidth",
        returnByValue=True,
    )
    assert fits["result"]["value"] is True  # no sideways scrolling on a phone
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / f"maintenance-{viewport}-{scheme}.png"
    browser.screenshot(target)
    assert target.read_bytes().startswith(b"\x89PNG")


def test_page_reloads_itself_when_retry_after_elapses(
    start_app: Start, browser: Browser
) -> None:
    server = start_app("gunicorn", mode="1", allowed_ips="192.0.2.1", retry_after="2")
    url = f"http://127.0.0.1:{server.port}/"
    browser.open(url, 1280, 800)
    opened_at = time.monotonic()
    browser.wait_for_event("Page.loadEventFired", timeout=10)
    waited = time.monotonic() - opened_at
    assert 1.5 < waited < 6, waited
    page_loads = server.log_text().count('"GET / HTTP/1.1" 503')
    assert page_loads >= 2
