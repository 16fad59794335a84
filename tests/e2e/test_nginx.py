from __future__ import annotations

import pytest

from tests.e2e.conftest import NginxStart, Server, Start, request


@pytest.fixture(scope="module")
def proxied(
    start_module_app: Start, start_module_nginx: NginxStart
) -> tuple[Server, Server]:
    """gunicorn trusting the local nginx in front of it; 127.0.0.5 is allowlisted.
    Shared by the tests that only send requests."""
    app = start_module_app(
        "gunicorn", mode="1", allowed_ips="127.0.0.5", trusted_proxies="127.0.0.1"
    )
    return app, start_module_nginx(app.port)


def test_client_allowed_through_the_header_nginx_sets(
    proxied: tuple[Server, Server],
) -> None:
    _, nginx = proxied
    response = request(nginx.port, "/", source="127.0.0.5")
    assert response.status == 200
    assert b"The site is up" in response.body


def test_other_clients_are_blocked_through_nginx(
    proxied: tuple[Server, Server],
) -> None:
    _, nginx = proxied
    response = request(nginx.port, "/", source="127.0.0.6")
    assert response.status == 503
    assert response.headers["retry-after"] == "600"  # .env.example


@pytest.mark.parametrize(
    "forged", ["127.0.0.5", "127.0.0.5, 127.0.0.1", "127.0.0.1", "garbage, 127.0.0.5"]
)
def test_forged_forwarded_for_is_still_blocked(
    proxied: tuple[Server, Server], forged: str
) -> None:
    _, nginx = proxied
    response = request(
        nginx.port, "/", source="127.0.0.6", headers={"X-Forwarded-For": forged}
    )
    assert response.status == 503


def test_forged_header_straight_to_the_app_is_ignored(
    proxied: tuple[Server, Server],
) -> None:
    app, _ = proxied
    response = request(
        app.port, "/", source="127.0.0.6", headers={"X-Forwarded-For": "127.0.0.5"}
    )
    assert response.status == 503


def test_health_check_passes_through_nginx(proxied: tuple[Server, Server]) -> None:
    _, nginx = proxied
    assert request(nginx.port, "/healthz", source="127.0.0.6").status == 200


def test_a_proxy_nobody_declared_is_reported_once(
    start_app: Start, start_nginx: NginxStart
) -> None:
    """nginx on the same host, 127.0.0.1 allowlisted (.env.example), no trusted
    proxies: everyone comes in as 127.0.0.1, and the log says why."""
    app = start_app("gunicorn", mode="1", trusted_proxies="")
    nginx = start_nginx(app.port)
    for _ in range(20):
        assert request(nginx.port, "/", source="127.0.0.6").status == 200
    # Once per process: gunicorn.conf.py starts two workers.
    warnings = app.log_text().count("MAINTENANCE_TRUSTED_PROXIES is not set")
    assert 1 <= warnings <= 2, app.log_text()
