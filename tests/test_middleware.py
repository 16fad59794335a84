from __future__ import annotations

import functools
import io
import ipaddress
import json
import logging
import os
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from unittest import mock

import pytest
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, Client, RequestFactory
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from envmaintenance.conf import get_config
from envmaintenance.middleware import MaintenanceMiddleware
from tests.reference import reference_client

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


TRUSTED = "10.0.0.0/8"
ALLOWED = ["198.51.100.0/24", "2001:db8::/32"]
FORWARDED_FOR = st.one_of(
    st.text(max_size=60),
    st.lists(
        st.one_of(
            st.sampled_from(
                ["198.51.100.7", "10.0.0.3", "203.0.113.1", "[2001:db8::1]:1"]
            ),
            st.ip_addresses().map(str),
            st.text(max_size=12),
        ),
        max_size=6,
    ).map(", ".join),
)


@hypothesis_settings(deadline=None)
@given(
    remote_addr=st.one_of(st.sampled_from(["10.0.0.2", "198.51.100.9"]), st.text()),
    forwarded_for=st.one_of(st.none(), FORWARDED_FOR),
)
def test_any_client_headers_get_503_or_pass_and_pass_only_when_allowed(
    remote_addr: str, forwarded_for: str | None
) -> None:
    meta: dict[str, Any] = {"REMOTE_ADDR": remote_addr}
    if forwarded_for is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded_for
    request = RequestFactory().get("/", **meta)
    status = _hypothesis_middleware()(request).status_code
    expected = reference_client(
        remote_addr,
        [] if forwarded_for is None else forwarded_for.split(","),
        [TRUSTED],
    )
    allowed = expected is not None and any(
        expected in ipaddress.ip_network(network) for network in ALLOWED
    )
    assert status == (200 if allowed else 503)


@functools.cache
def _hypothesis_middleware() -> MaintenanceMiddleware:
    """Built once: hypothesis examples share it instead of re-reading the env."""
    environ = {
        "MAINTENANCE_MODE": "1",
        "MAINTENANCE_ALLOWED_IPS": " ".join(ALLOWED),
        "MAINTENANCE_TRUSTED_PROXIES": TRUSTED,
    }
    with mock.patch.dict(os.environ, environ):
        get_config.cache_clear()
        try:
            return MaintenanceMiddleware(lambda request: HttpResponse("ok"))
        finally:
            get_config.cache_clear()


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/%00", {}),
        ("/%E0%A4%A", {}),
        ("/%ZZ", {}),
        ("/" + "a" * 8000, {}),
        ("/", {"HTTP_X_FORWARDED_FOR": "\x00" * 100}),
        ("/", {"HTTP_X_FORWARDED_FOR": "x" * 5000}),
        ("/", {"HTTP_X_FORWARDED_FOR": "unknown"}),
        ("/", {"HTTP_X_FORWARDED_FOR": "1.2.3.4.5, [::1, 999.999.999.999"}),
        ("/", {"HTTP_X_FORWARDED_FOR": "fe80::1%eth0"}),
        ("/", {"REMOTE_ADDR": "fe80::1%eth0"}),
        ("/", {"REMOTE_ADDR": "\x00"}),
        ("/", {"HTTP_ACCEPT": "text/html;q=\x00"}),
        ("/", {"HTTP_ACCEPT": "*/*;q=nan, text/plain;q=inf"}),
        ("/", {"HTTP_ACCEPT": ";;;,,,/"}),
        ("/", {"HTTP_HOST": "bad host..com:99999"}),
        ("/", {"HTTP_HOST": "evil.example"}),
        ("/", {"HTTP_X_REAL_IP": "127.0.0.1", "HTTP_FORWARDED": "for=127.0.0.1"}),
    ],
)
def test_hostile_requests_get_the_503_not_a_500(
    maintenance_env: SetEnv, client: Client, path: str, headers: dict[str, Any]
) -> None:
    maintenance_env(mode="1", allowed_ips="127.0.0.2", trusted_proxies="127.0.0.1")
    assert client.get(path, **headers).status_code == 503


def test_bad_host_with_host_validation_before_us_is_a_400(
    maintenance_env: SetEnv, client: Client, settings: Any
) -> None:
    settings.SECURE_SSL_REDIRECT = True  # SecurityMiddleware reads the host first
    maintenance_env(mode="1")
    assert client.get("/", HTTP_HOST="evil.example").status_code == 400


@pytest.mark.parametrize(
    ("remote_addr", "forwarded_for", "status"),
    [
        ("127.0.0.1", "198.51.100.7", 200),
        ("127.0.0.1", "127.0.0.9, 198.51.100.7", 200),
        ("127.0.0.1", "198.51.100.7, 203.0.113.5", 503),
        ("203.0.113.5", "198.51.100.7", 503),
        ("127.0.0.1", None, 503),
    ],
)
def test_allowlist_sees_the_client_behind_trusted_proxies(
    maintenance_env: SetEnv,
    client: Client,
    remote_addr: str,
    forwarded_for: str | None,
    status: int,
) -> None:
    maintenance_env(
        mode="1", allowed_ips="198.51.100.0/24", trusted_proxies="127.0.0.1"
    )
    headers: dict[str, Any] = {"REMOTE_ADDR": remote_addr}
    if forwarded_for is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded_for
    assert client.get("/", **headers).status_code == status


def test_blocked_log_names_the_resolved_client(
    maintenance_env: SetEnv, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    maintenance_env(mode="1", trusted_proxies="127.0.0.1")
    with caplog.at_level(logging.INFO, logger="envmaintenance"):
        client.get("/", HTTP_X_FORWARDED_FOR="203.0.113.50")
        client.get("/", HTTP_X_FORWARDED_FOR="garbage")
    messages = [r.getMessage() for r in caplog.records if r.name == "envmaintenance"]
    assert "from 203.0.113.50" in messages[0]
    assert "from an unknown address" in messages[1]


def test_duplicate_forwarded_for_headers_are_one_list() -> None:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "query_string": b"",
        "client": ("127.0.0.1", 1),
        "headers": [
            (b"x-forwarded-for", b"203.0.113.1"),
            (b"x-forwarded-for", b"198.51.100.7"),
        ],
    }
    request = ASGIRequest(scope, io.BytesIO())
    assert request.META["HTTP_X_FORWARDED_FOR"] == "203.0.113.1,198.51.100.7"


START = datetime(2026, 12, 1, 22, 0, tzinfo=timezone.utc)
END = datetime(2026, 12, 1, 23, 0, tzinfo=timezone.utc)
WINDOW = {"starts_at": START.isoformat(), "ends_at": END.isoformat()}


def test_window_switches_on_and_off_without_a_restart(
    maintenance_env: SetEnv, client: Client, frozen_clock: Callable[[Any], None]
) -> None:
    maintenance_env(**WINDOW)
    frozen_clock(START - timedelta(seconds=1))
    assert client.get("/").status_code == 200
    frozen_clock(START)
    assert client.get("/").status_code == 503
    frozen_clock(END - timedelta(microseconds=1))
    assert client.get("/").status_code == 503
    frozen_clock(END)
    assert client.get("/").status_code == 200


def test_retry_after_counts_down_to_the_end(
    maintenance_env: SetEnv, client: Client, frozen_clock: Callable[[Any], None]
) -> None:
    maintenance_env(**WINDOW)
    frozen_clock(START)
    assert client.get("/")["Retry-After"] == "3600"
    frozen_clock(END.timestamp() - 90.5)
    assert client.get("/")["Retry-After"] == "91"


def test_mode_with_ends_at_means_on_and_expected_back(
    maintenance_env: SetEnv, client: Client, frozen_clock: Callable[[Any], None]
) -> None:
    maintenance_env(mode="1", ends_at=END.isoformat(), retry_after="300")
    frozen_clock(END - timedelta(minutes=10))
    response = client.get("/", HTTP_ACCEPT="application/json")
    assert response.status_code == 503
    assert response["Retry-After"] == "600"
    assert json.loads(response.content)["ends_at"] == "2026-12-01T23:00:00+00:00"
    frozen_clock(END + timedelta(minutes=10))
    response = client.get("/")
    assert response.status_code == 503  # forced on: the end was only an estimate
    assert response["Retry-After"] == "300"


def test_passed_window_removes_the_middleware(
    maintenance_env: SetEnv, frozen_clock: Callable[[Any], None]
) -> None:
    maintenance_env(**WINDOW)
    frozen_clock(END)
    with pytest.raises(MiddlewareNotUsed):
        MaintenanceMiddleware(lambda request: HttpResponse())


def test_upcoming_window_keeps_the_middleware(
    maintenance_env: SetEnv, frozen_clock: Callable[[Any], None]
) -> None:
    maintenance_env(**WINDOW)
    frozen_clock(START - timedelta(days=3))
    middleware = MaintenanceMiddleware(lambda request: HttpResponse("up"))
    assert middleware(RequestFactory().get("/")).status_code == 200
