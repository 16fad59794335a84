"""nginx proxy_cache in front: what an allowed client was shown during
maintenance must not be replayed to blocked visitors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import NginxStart, Server, Start, request

ALLOWED, BLOCKED = "127.0.0.5", "127.0.0.6"


@pytest.fixture
def cached(tmp_path: Path, start_nginx: NginxStart) -> NginxStart:
    """start_nginx with a shared cache that honours Cache-Control."""

    def start(upstream: int) -> Server:
        return start_nginx(
            upstream,
            http=f"    proxy_cache_path {tmp_path / 'cache'} keys_zone=pages:1m;",
            location="        proxy_cache pages;\n"
            "        add_header X-Cache-Status $upstream_cache_status always;",
        )

    return start


def test_the_cache_keeps_public_pages_when_maintenance_is_off(
    start_app: Start, cached: NginxStart
) -> None:
    """The control: this nginx does store the page and replays it."""
    nginx = cached(start_app("gunicorn", mode="0", trusted_proxies="127.0.0.1").port)
    assert (
        request(nginx.port, "/pages/a", source=ALLOWED).headers["x-cache-status"]
        == "MISS"
    )
    assert (
        request(nginx.port, "/pages/a", source=BLOCKED).headers["x-cache-status"]
        == "HIT"
    )


def test_pages_shown_to_allowed_clients_are_not_replayed_to_others(
    start_app: Start, cached: NginxStart
) -> None:
    app = start_app(
        "gunicorn", mode="1", allowed_ips=ALLOWED, trusted_proxies="127.0.0.1"
    )
    nginx = cached(app.port)
    allowed = request(nginx.port, "/pages/a", source=ALLOWED)
    assert allowed.status == 200
    assert "private" in allowed.headers["cache-control"]
    blocked = request(nginx.port, "/pages/a", source=BLOCKED)
    assert blocked.status == 503
    assert blocked.headers["x-cache-status"] == "MISS"
