"""The maintenance page knows when maintenance is over, in headless Chromium:
gunicorn following a Redis switch, the page asking MAINTENANCE_STATUS_PATH, and
the browser back on the site after `maintenance off`; with
MAINTENANCE_PAGE_RELOAD=0 the page schedules nothing at all."""

from __future__ import annotations

from typing import Any

from tests.e2e.browser import Browser
from tests.e2e.conftest import RedisServer, Start
from tests.e2e.switching import INTERVAL, maintenance, wait_for_workers

STATUS_PATH = "/maintenance.json"
# Chromium connects from 127.0.0.1, which .env.example allowlists: not here.
ALLOWED_IPS = "192.0.2.1"
PAGE_HEADING = "Down for maintenance"
SITE_HEADING = "The site is up"  # sample/templates/home.html
# The page's first question to the status path, and its Retry-After reload
# (.env.example's MAINTENANCE_RETRY_AFTER=600), in milliseconds.
FIRST_POLL, RETRY_AFTER_RELOAD = "5000", "600000"

# Notes in the tab's sessionStorage, which a reload keeps: each timer the page
# sets ("set 5000"), each that fires ("fired 5000"), and each interval.
RECORD_TIMERS = """
(function () {
  var setTimeout = window.setTimeout, setInterval = window.setInterval;
  function note(entry) {
    var notes = JSON.parse(sessionStorage.getItem("timers") || "[]");
    notes.push(entry);
    sessionStorage.setItem("timers", JSON.stringify(notes));
  }
  if (sessionStorage.getItem("timers") === null) { note("recording"); }
  window.setTimeout = function (callback, delay) {
    note("set " + delay);
    return setTimeout(function () { note("fired " + delay); callback(); }, delay);
  };
  window.setInterval = function (callback, delay) {
    note("interval " + delay);
    return setInterval(callback, delay);
  };
})();
"""


def timers(browser: Browser) -> list[Any]:
    return list(browser.evaluate("JSON.parse(sessionStorage.getItem('timers'))"))


def test_the_page_is_back_on_the_site_once_maintenance_is_switched_off(
    start_app: Start, redis_server: RedisServer, browser: Browser
) -> None:
    server = start_app(
        "gunicorn",
        workers=1,
        allowed_ips=ALLOWED_IPS,
        status_path=STATUS_PATH,
        switch_url=redis_server.url,
        switch_interval=str(INTERVAL),
    )
    wait_for_workers(server, 1)
    maintenance("on", "--wait", "20", switch_url=redis_server.url)
    browser.page("Page.addScriptToEvaluateOnNewDocument", source=RECORD_TIMERS)
    browser.open(f"http://127.0.0.1:{server.port}/", 1280, 800)
    assert PAGE_HEADING in browser.text()
    maintenance("off", "--wait", "20", switch_url=redis_server.url)
    # A hang guard, not a measure: the page asks 5 s after it loaded, then
    # 7.5 s later, and so on.
    browser.wait_for_event("Page.loadEventFired", timeout=60)
    assert SITE_HEADING in browser.text()
    noted = timers(browser)
    assert noted[:3] == ["recording", f"set {FIRST_POLL}", f"set {RETRY_AFTER_RELOAD}"]
    # Back because the status path said so, not because Retry-After elapsed.
    assert f"fired {FIRST_POLL}" in noted
    assert f"fired {RETRY_AFTER_RELOAD}" not in noted


def test_with_page_reload_off_the_page_schedules_nothing(
    start_app: Start, browser: Browser
) -> None:
    server = start_app(
        "gunicorn",
        workers=1,
        mode="1",
        allowed_ips=ALLOWED_IPS,
        status_path=STATUS_PATH,
        page_reload="0",
    )
    browser.page("Page.addScriptToEvaluateOnNewDocument", source=RECORD_TIMERS)
    browser.open(f"http://127.0.0.1:{server.port}/", 1280, 800)
    assert PAGE_HEADING in browser.text()
    # No timer and no interval: no question to the status path, ever, and no
    # reload; nor a refresh for browsers without JavaScript.
    assert timers(browser) == ["recording"]
    assert browser.evaluate("document.querySelector('noscript') === null") is True
