from __future__ import annotations

import json
import logging

import pytest
from asgiref.sync import iscoroutinefunction
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, Client, RequestFactory

from envmaintenance.middleware import MaintenanceMiddleware
from tests.conftest import BROWSER_ACCEPT, SetEnv


def test_off_removes_itself_from_the_chain() -> None:
    with pytest.raises(MiddlewareNotUsed):
        MaintenanceMiddleware(lambda request: HttpResponse())


def test_off_serves_the_site(client: Client) -> None:
    assert client.get("/").status_code == 200


def test_invalid_environment_stops_start_up(maintenance_env: SetEnv) -> None:
    maintenance_env(mode="1", retry_after="10m")
    with pytest.raises(ImproperlyConfigured, match="MAINTENANCE_RETRY_AFTER: '10m'"):
        MaintenanceMiddleware(lambda request: HttpResponse())


def test_on_blocks_with_503_and_headers(
    maintenance_env: SetEnv, client: Client
) -> None:
    maintenance_env(mode="1", retry_after="120")
    response = client.get("/", HTTP_ACCEPT=BROWSER_ACCEPT)
    assert response.status_code == 503
    assert response["Retry-After"] == "120"
    assert response["Cache-Control"] == "no-store"
    assert response["Vary"] == "Accept, Accept-Language"
    assert response["Content-Language"] == "en-us"
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response["Content-Length"] == str(len(response.content))
    # SecurityMiddleware, placed before, still decorates the answer.
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        (BROWSER_ACCEPT, "text/html; charset=utf-8"),
        (None, "text/html; charset=utf-8"),
        ("*/*", "text/html; charset=utf-8"),
        ("application/json", "application/problem+json"),
        ("application/problem+json", "application/problem+json"),
        ("application/json, text/html;q=0.5", "application/problem+json"),
        ("text/html;q=0.5, application/json", "application/problem+json"),
        ("text/plain", "text/plain; charset=utf-8"),
        ("image/png", "text/plain; charset=utf-8"),
        ("", "text/plain; charset=utf-8"),
        ("text/html;q=abc", "text/html; charset=utf-8"),
        ("application/json;q=0", "text/plain; charset=utf-8"),
        ("\x00", "text/plain; charset=utf-8"),
        ("text/html;q=" + "9" * 5000, "text/html; charset=utf-8"),
        (",".join(["application/json"] * 2000), "application/problem+json"),
    ],
)
def test_body_follows_accept(
    maintenance_env: SetEnv, client: Client, accept: str | None, content_type: str
) -> None:
    maintenance_env(mode="1")
    headers = {} if accept is None else {"Accept": accept}
    response = client.get("/", headers=headers)
    assert response.status_code == 503
    assert response["Content-Type"] == content_type


def test_problem_json_body(maintenance_env: SetEnv, client: Client) -> None:
    maintenance_env(mode="1", message="Upgrading the database", retry_after="300")
    response = client.get("/api/status", HTTP_ACCEPT="application/json")
    assert json.loads(response.content) == {
        "type": "tag:envmaintenance,2026:planned-maintenance",
        "title": "Service Unavailable",
        "status": 503,
        "detail": "Upgrading the database",
        "read_only": False,
    }


def test_plain_text_body(maintenance_env: SetEnv, client: Client) -> None:
    maintenance_env(mode="1", message="Back soon")
    response = client.get("/", HTTP_ACCEPT="text/plain")
    assert response.content == b"Back soon\n"


def test_head_gets_the_same_status_and_headers(
    maintenance_env: SetEnv, client: Client
) -> None:
    maintenance_env(mode="1")
    get = client.get("/")
    head = client.head("/")
    assert head.status_code == 503
    assert head.content == b""
    for header in ("Retry-After", "Content-Type", "Content-Length", "Cache-Control"):
        assert head[header] == get[header]


def test_post_gets_503_not_a_csrf_403(maintenance_env: SetEnv) -> None:
    maintenance_env(mode="1")
    client = Client(enforce_csrf_checks=True)
    assert client.post("/", {"a": "b"}).status_code == 503


def test_blocked_request_does_not_touch_the_session(
    maintenance_env: SetEnv, client: Client
) -> None:
    maintenance_env(mode="1")
    response = client.get("/")
    assert response.status_code == 503
    assert not hasattr(response.wsgi_request, "session")
    assert not hasattr(response.wsgi_request, "user")


def test_blocked_request_is_logged_once_and_not_as_an_error(
    maintenance_env: SetEnv, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    """Pins the one private attribute the package sets (_has_been_logged): the
    matrix runs it on every supported Django."""
    maintenance_env(mode="1")
    with caplog.at_level(logging.DEBUG):
        client.post("/some/path?q=1", REMOTE_ADDR="203.0.113.9")
    ours = [r for r in caplog.records if "503 for" in r.getMessage()]
    assert len(ours) == 1
    assert ours[0].levelno == logging.INFO
    assert "203.0.113.9" in ours[0].getMessage()
    assert "POST" in ours[0].getMessage()
    assert "/some/path" in ours[0].getMessage()
    assert not [r for r in caplog.records if r.name == "django.request"]


def test_passing_requests_are_not_logged(
    maintenance_env: SetEnv, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    maintenance_env(mode="1", allowed_ips="127.0.0.1")
    with caplog.at_level(logging.DEBUG, logger="envmaintenance"):
        client.get("/")
    assert [r.getMessage() for r in caplog.records] == [
        "Maintenance on: 1 allowed networks, 0 trusted proxies, 0 exempt paths, "
        "Retry-After 3600 s"  # the client's chain starting up; none per request
    ]


async def test_async_blocks(maintenance_env: SetEnv, async_client: AsyncClient) -> None:
    maintenance_env(mode="1", allowed_ips="10.0.0.0/8")
    response = await async_client.get("/async")
    assert response.status_code == 503
    assert response["Retry-After"] == "3600"


async def test_async_passes_allowed_client(
    maintenance_env: SetEnv, async_client: AsyncClient
) -> None:
    maintenance_env(mode="1", allowed_ips="127.0.0.1")
    response = await async_client.get("/async")
    assert response.status_code == 200
    assert response.content == b"async home"


async def test_async_mode_needs_no_thread_hop(maintenance_env: SetEnv) -> None:
    maintenance_env(mode="1", exempt_paths="/healthz")

    async def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse("ok")

    middleware = MaintenanceMiddleware(view)
    assert iscoroutinefunction(middleware)
    blocked = await middleware(RequestFactory().get("/", REMOTE_ADDR="192.0.2.1"))
    assert blocked.status_code == 503
    exempt = await middleware(RequestFactory().get("/healthz"))
    assert exempt.content == b"ok"


def test_start_up_says_once_what_the_process_believes(
    maintenance_env: SetEnv, caplog: pytest.LogCaptureFixture
) -> None:
    maintenance_env(
        mode="1",
        allowed_ips="10.0.0.0/8 192.0.2.0/24",
        trusted_proxies="unix 172.18.0.0/16",
        exempt_paths="/healthz",
        retry_after="600",
    )
    with caplog.at_level(logging.INFO, logger="envmaintenance"):
        MaintenanceMiddleware(lambda request: HttpResponse())
    (record,) = [r for r in caplog.records if r.name == "envmaintenance"]
    assert record.levelno == logging.INFO
    assert record.getMessage() == (
        "Maintenance on: 2 allowed networks, 2 trusted proxies, 1 exempt paths, "
        "Retry-After 600 s"
    )


def test_start_up_is_silent_when_maintenance_cannot_happen(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with (
        caplog.at_level(logging.DEBUG, logger="envmaintenance"),
        pytest.raises(MiddlewareNotUsed),
    ):
        MaintenanceMiddleware(lambda request: HttpResponse())
    assert not [r for r in caplog.records if r.name == "envmaintenance"]
