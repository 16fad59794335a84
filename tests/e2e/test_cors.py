"""A single-page app on another origin reads the 503 during maintenance:
headless Chromium, django-cors-headers above the maintenance middleware."""

from __future__ import annotations

import functools
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.browser import Browser
from tests.e2e.conftest import Start, free_port

APP_PAGE = """<!doctype html><meta charset="utf-8"><body>loading<script>
fetch("http://127.0.0.1:{api}/api/status", {{headers: {{Accept: "application/json"}}}})
  .then(async r => {{ document.body.textContent = JSON.stringify({{
      status: r.status, retryAfter: r.headers.get("Retry-After"),
      problem: await r.json()}}); }})
  .catch(e => {{ document.body.textContent = "failed: " + e; }});
</script>"""


@pytest.fixture
def other_origin(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A static server on another port: another origin, as a separate SPA host."""
    port = free_port()
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(tmp_path)
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield port, tmp_path
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_a_page_on_another_origin_reads_the_problem_json(
    start_app: Start, other_origin: tuple[int, Path], browser: Browser
) -> None:
    origin_port, root = other_origin
    app = start_app(
        "gunicorn",
        mode="1",
        allowed_ips="192.0.2.1",  # Chromium connects from 127.0.0.1: blocked
        message="Upgrading the API.",
        environment={"CORS_ALLOWED_ORIGINS": f"http://localhost:{origin_port}"},
    )
    (root / "app.html").write_text(APP_PAGE.format(api=app.port))
    browser.open(f"http://localhost:{origin_port}/app.html", 1280, 800)
    deadline = time.monotonic() + 10
    while (text := browser.text()) == "loading":
        assert time.monotonic() < deadline, "the page's fetch never finished"
        time.sleep(0.1)
    result = json.loads(text)  # a failed fetch would read "failed: TypeError..."
    assert result["status"] == 503
    assert result["retryAfter"] == "600"  # exposed by the sample's CORS settings
    assert result["problem"]["detail"] == "Upgrading the API."
    assert result["problem"]["type"] == "tag:envmaintenance,2026:planned-maintenance"
