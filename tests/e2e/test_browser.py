from __future__ import annotations

import os
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.e2e.browser import Browser
from tests.e2e.conftest import Start, require
from tests.processes import ROOT

# Screenshots are test artifacts; `make screenshots` points this at docs/.
ARTIFACTS = Path(os.environ.get("SCREENSHOT_DIR", ROOT / "test-artifacts"))
VIEWPORTS = {"phone": (390, 844), "desktop": (1280, 800)}


@pytest.fixture(scope="module")
def blocked_site(start_module_app: Start) -> str:
    # Chromium connects from 127.0.0.1, which .env.example allowlists: not here.
    server = start_module_app(
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


# What a visitor from each place would see: the heading, then the end and the
# countdown as the page's script writes them: in the page's language ("um"),
# in the visitor's time zone (JST, GMT+3 in Arabic).
VISITORS = {
    "de": (
        "de-DE,de;q=0.9",
        "Europe/Berlin",
        "Wegen Wartungsarbeiten offline",
        " um ",
        "Stunden",
    ),
    "ja": ("ja-JP,ja;q=0.9", "Asia/Tokyo", "メンテナンス中", "JST", "時間"),
    "ar": ("ar-SA,ar;q=0.9", "Asia/Riyadh", "متوقف للصيانة", "غرينتش+3", "ساعات"),
}


@pytest.fixture(scope="module")
def site_with_an_end(start_module_app: Start) -> str:
    """Maintenance until three hours from now, in the sample's ten languages."""
    ends_at = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=3)
    server = start_module_app(
        "gunicorn",
        mode="1",
        allowed_ips="192.0.2.1",
        ends_at=ends_at.isoformat(),
        message="",  # the default, in each visitor's language
    )
    return f"http://127.0.0.1:{server.port}/"


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
@pytest.mark.parametrize("language", sorted(VISITORS))
def test_page_in_the_visitor_language_is_captured(
    site_with_an_end: str, browser: Browser, language: str, viewport: str, scheme: str
) -> None:
    fc_list = require("fc-list", "fontconfig")
    for script in ("ar", "ja"):  # or the picture shows empty boxes
        fonts = subprocess.run([fc_list, f":lang={script}"], capture_output=True)
        assert fonts.stdout.strip(), (
            f"no font for {script!r}: run scripts/system-packages test"
        )
    accept_language, time_zone, heading, local_words, hours = VISITORS[language]
    browser.prefer(accept_language, time_zone)
    width, height = VIEWPORTS[viewport]
    browser.open(site_with_an_end, width, height, dark=scheme == "dark")
    assert browser.evaluate("document.documentElement.lang") == language
    direction = browser.evaluate("getComputedStyle(document.body).direction")
    assert direction == ("rtl" if language == "ar" else "ltr")
    assert heading in browser.text()
    # The end and the countdown, written by the script in the page's language
    # (the browser itself is set to English) and the visitor's time zone.
    assert local_words in browser.evaluate("document.querySelector('time').textContent")
    countdown = browser.evaluate("document.getElementById('countdown').textContent")
    assert hours in countdown, countdown
    assert "hour" not in countdown, countdown
    layout = browser.evaluate(
        "(() => { const card = document.querySelector('main').getBoundingClientRect();"
        " return [document.documentElement.scrollWidth <= innerWidth,"
        " card.left >= 0 && card.right <= innerWidth,"
        " [...document.querySelectorAll('main *')].every(e =>"
        " e.getBoundingClientRect().right <= card.right + 0.5 &&"
        " e.getBoundingClientRect().left >= card.left - 0.5)]; })()"
    )
    assert layout == [True, True, True]  # nothing sticks out, sideways or of the card
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / f"maintenance-{language}-{viewport}-{scheme}.png"
    browser.screenshot(target)
    assert target.read_bytes().startswith(b"\x89PNG")


def test_an_overdue_end_is_said_in_the_page_language(
    start_app: Start, browser: Browser
) -> None:
    past = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=5)
    server = start_app(
        "gunicorn", mode="1", allowed_ips="192.0.2.1", ends_at=past.isoformat()
    )
    browser.prefer("nl", "Europe/Amsterdam")
    browser.open(f"http://127.0.0.1:{server.port}/", 1280, 800)
    eta = browser.evaluate("document.getElementById('eta').textContent")
    assert eta == "Dit duurt langer dan gepland. Deze pagina herlaadt vanzelf."


# Notes in the tab's sessionStorage, which a reload keeps, each timer the page
# sets ("set 2000") and each one that fires ("fired 2000"), in order.
RECORD_TIMERS = """
(function () {
  var setTimeout = window.setTimeout;
  function note(entry) {
    var notes = JSON.parse(sessionStorage.getItem("timers") || "[]");
    notes.push(entry);
    sessionStorage.setItem("timers", JSON.stringify(notes));
  }
  window.setTimeout = function (callback, delay) {
    note("set " + delay);
    return setTimeout(function () { note("fired " + delay); callback(); }, delay);
  };
})();
"""


def test_page_reloads_itself_when_retry_after_elapses(
    start_app: Start, browser: Browser
) -> None:
    server = start_app("gunicorn", mode="1", allowed_ips="192.0.2.1", retry_after="2")
    browser.page("Page.addScriptToEvaluateOnNewDocument", source=RECORD_TIMERS)
    browser.open(f"http://127.0.0.1:{server.port}/", 1280, 800)
    # A hang guard, not a measure: the reload is due 2 s after the first load.
    browser.wait_for_event("Page.loadEventFired", timeout=60)
    # Counted in the line the package logs for each 503, not gunicorn's.
    page_loads = server.log_text().count("Maintenance: 503 for GET '/'")
    assert page_loads >= 2
    # Not at once: the reload came when the page's Retry-After timer fired.
    timers = browser.evaluate("JSON.parse(sessionStorage.getItem('timers'))")
    assert timers[:3] == ["set 2000", "fired 2000", "set 2000"], timers
