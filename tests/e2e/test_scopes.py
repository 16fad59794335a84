"""Scopes at runtime, through real servers: gunicorn following a Redis switch,
stopped by path and by host without a restart, and the page's language from the
path in headless Chromium."""

from __future__ import annotations

import pytest

from tests.e2e.browser import Browser
from tests.e2e.conftest import RedisServer, Server, Start, request
from tests.e2e.switching import BLOCKED, INTERVAL, maintenance, wait_for_workers


@pytest.fixture
def shop(start_app: Start, redis_server: RedisServer) -> Server:
    server = start_app(
        "gunicorn",
        workers=2,
        switch_url=redis_server.url,
        switch_interval=str(INTERVAL),
        allowed_ips="192.0.2.1",
        environment={"ALLOWED_HOSTS": "127.0.0.1,localhost,.example.com"},
    )
    wait_for_workers(server, 2)
    return server


def statuses(
    server: Server, path: str, host: str = "127.0.0.1", n: int = 20
) -> set[int]:
    """What a blocked client gets, over new connections (every worker answers)."""
    headers = {"Host": host}
    return {
        request(server.port, path, source=BLOCKED, headers=headers).status
        for _ in range(n)
    }


def test_a_path_scope_switched_on_without_a_restart(
    shop: Server, redis_server: RedisServer
) -> None:
    out = maintenance(
        "on", "--paths", "/checkout", "--wait", "20", switch_url=redis_server.url
    )
    assert out.splitlines()[0].startswith(
        "Maintenance switched on for /checkout, revision 1"
    )
    assert "serve revision 1" in out.splitlines()[-1]
    assert statuses(shop, "/checkout/") == {503}
    assert statuses(shop, "/de/checkout/") == {503}  # the language prefix too
    assert statuses(shop, "/catalogue/") == {200}
    problem = request(
        shop.port, "/de/checkout/", source=BLOCKED, headers={"Accept": "*/*"}
    )
    assert problem.headers["content-language"] == "de"  # the path's language
    maintenance("env", "--wait", "20", switch_url=redis_server.url)
    assert statuses(shop, "/checkout/") == {200}


def test_a_host_scope_stops_one_host_of_the_site(
    shop: Server, redis_server: RedisServer
) -> None:
    maintenance(
        "on", "--hosts", "shop.example.com", "--wait", "20", switch_url=redis_server.url
    )
    assert statuses(shop, "/", host="shop.example.com") == {503}
    assert statuses(shop, "/", host="shop.example.com:8443") == {503}
    assert statuses(shop, "/", host="api.example.com") == {200}
    assert statuses(shop, "/", host="elsewhere.invalid") == {503}  # refused: inside


def test_the_page_speaks_the_language_of_the_path(
    start_app: Start, browser: Browser
) -> None:
    server = start_app("gunicorn", mode="1", allowed_ips="192.0.2.1")
    browser.open(f"http://127.0.0.1:{server.port}/de/katalog/", 1280, 800)
    assert "Wegen Wartungsarbeiten offline" in browser.text()
    browser.open(f"http://127.0.0.1:{server.port}/katalog/", 1280, 800)
    assert "Down for maintenance" in browser.text()
