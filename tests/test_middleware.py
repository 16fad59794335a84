from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, Client, RequestFactory

from envmaintenance.middleware import MaintenanceMiddleware

SetEnv = Callable[..., None]
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


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
    assert response["Vary"] == "Accept"
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response["Content-Length"] == str(len(response.content))
    # SecurityMiddleware, placed before, still decorates the answer.
    assert response["X-Content-Type-Options"] == "nosniff"


def test_allowed_client_passes(maintenance_env: SetEnv, client: Client) -> None:
    maintenance_env(mode="1", allowed_ips="10.0.0.0/8 127.0.0.1")
    response = client.get("/")
    assert response.status_code == 200
    assert response.content == b"home"


@pytest.mark.parametrize(
    ("remote_addr", "status"),
    [
        ("10.0.0.1", 200),
        ("10.0.0.15", 503),
        ("::ffff:10.0.0.1", 200),
        ("2001:db8::7", 200),
        ("2001:db9::7", 503),
        ("", 503),
        ("garbage", 503),
        ("10.0.0.1\x00", 503),
        ("010.0.0.1", 503),
    ],
)
def test_client_address_decides(
    maintenance_env: SetEnv, client: Client, remote_addr: str, status: int
) -> None:
    maintenance_env(mode="1", allowed_ips="10.0.0.1,2001:db8::/32")
    assert client.get("/", REMOTE_ADDR=remote_addr).status_code == status


def test_missing_remote_addr_is_blocked(maintenance_env: SetEnv) -> None:
    maintenance_env(mode="1", allowed_ips="127.0.0.1")
    request = RequestFactory().get("/")
    del request.META["REMOTE_ADDR"]
    middleware = MaintenanceMiddleware(lambda request: HttpResponse())
    assert middleware(request).status_code == 503


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/healthz", 200),
        ("/healthz/db", 200),
        ("/healthzz", 503),
        ("/static/../healthz", 200),
        ("/healthz/../", 503),
        ("/api/status", 503),
    ],
)
def test_exempt_paths_pass(
    maintenance_env: SetEnv, client: Client, path: str, status: int
) -> None:
    maintenance_env(mode="1", exempt_paths="/healthz")
    assert client.get(path).status_code == status


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
        "type": "about:blank",
        "title": "Service Unavailable",
        "status": 503,
        "detail": "Upgrading the database",
        "retry_after": 300,
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
    maintenance_env(mode="1")
    with caplog.at_level(logging.DEBUG):
        client.post("/some/path?q=1", REMOTE_ADDR="203.0.113.9")
    ours = [r for r in caplog.records if r.name == "envmaintenance"]
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
    assert not [r for r in caplog.records if r.name == "envmaintenance"]


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
    from asgiref.sync import iscoroutinefunction

    assert iscoroutinefunction(middleware)
    blocked = await middleware(RequestFactory().get("/", REMOTE_ADDR="192.0.2.1"))
    assert blocked.status_code == 503
    exempt = await middleware(RequestFactory().get("/healthz"))
    assert exempt.content == b"ok"
