from __future__ import annotations

import io
import logging
from typing import Any

import pytest
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse
from django.test import AsyncClient, Client, RequestFactory

from envmaintenance.middleware import MaintenanceMiddleware
from tests.conftest import SetEnv


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
    messages = [r.getMessage() for r in caplog.records if "503 for" in r.getMessage()]
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


# Each reaches the catch-all as received; none may count as /healthz (the
# decoded forms of /x/%2e%2e/healthz and /x%2f..%2fhealthz included).
ESCAPING_PATHS = [
    "/x/../healthz",
    "/pages/a/../../healthz",
    "//healthz",
    "/./healthz",
    "/healthz/../x",
    "/healthz/./../admin",
]


@pytest.mark.parametrize("urlconf", ["tests.urls", "tests.urls_regex"])
@pytest.mark.parametrize("path", ESCAPING_PATHS)
def test_a_path_that_routes_elsewhere_is_not_exempt(
    maintenance_env: SetEnv, settings: Any, urlconf: str, path: str
) -> None:
    settings.ROOT_URLCONF = urlconf
    maintenance_env(mode="1", exempt_paths="/healthz")
    response = Client().get("/", PATH_INFO=path)
    assert response.status_code == 503
    assert b"catch-all" not in response.content


@pytest.mark.parametrize("urlconf", ["tests.urls", "tests.urls_regex"])
@pytest.mark.parametrize("path", ESCAPING_PATHS)
def test_the_catch_all_really_serves_those_paths(
    settings: Any, urlconf: str, path: str
) -> None:
    """The other half of the regression: with maintenance off they reach the
    catch-all (or /healthz itself), so the 503 above is the exemption refused."""
    settings.ROOT_URLCONF = urlconf
    assert Client().get("/", PATH_INFO=path).status_code == 200


@pytest.mark.parametrize(("trusted", "status"), [("unix", 200), ("10.0.0.1", 503)])
def test_a_unix_socket_peer_is_a_proxy_only_when_declared(
    maintenance_env: SetEnv, client: Client, trusted: str, status: int
) -> None:
    """gunicorn behind nginx over a unix socket: REMOTE_ADDR is empty."""
    maintenance_env(mode="1", allowed_ips="198.51.100.0/24", trusted_proxies=trusted)
    allowed: dict[str, Any] = {
        "REMOTE_ADDR": "",
        "HTTP_X_FORWARDED_FOR": "198.51.100.7",
    }
    assert client.get("/", **allowed).status_code == status
    other: dict[str, Any] = {"REMOTE_ADDR": "", "HTTP_X_FORWARDED_FOR": "203.0.113.7"}
    assert client.get("/", **other).status_code == 503


async def test_unix_socket_peer_under_asgi_has_no_remote_addr(
    maintenance_env: SetEnv,
) -> None:
    maintenance_env(mode="1", allowed_ips="198.51.100.0/24", trusted_proxies="unix")
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "query_string": b"",
        "client": None,  # uvicorn --uds
        "headers": [(b"x-forwarded-for", b"198.51.100.7")],
    }
    request = ASGIRequest(scope, io.BytesIO())
    assert "REMOTE_ADDR" not in request.META

    async def view(request: Any) -> HttpResponse:
        return HttpResponse("in")

    response = await MaintenanceMiddleware(view)(request)  # type: ignore[misc]
    assert response.status_code == 200


def test_forwarded_for_without_trusted_proxies_is_warned_about_once(
    maintenance_env: SetEnv, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    maintenance_env(mode="1", allowed_ips="127.0.0.1")
    with caplog.at_level(logging.WARNING, logger="envmaintenance"):
        client.get("/")
        assert not caplog.records
        for _ in range(3):
            response = client.get("/", HTTP_X_FORWARDED_FOR="203.0.113.9")
            # Still judged by REMOTE_ADDR, as configured.
            assert response.status_code == 200
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert "MAINTENANCE_TRUSTED_PROXIES" in record.getMessage()
    assert "127.0.0.1" in record.getMessage()


def test_allowed_response_is_kept_out_of_shared_caches(
    maintenance_env: SetEnv, client: Client
) -> None:
    maintenance_env(mode="1", allowed_ips="127.0.0.1")
    response = client.get("/cacheable")
    assert response.status_code == 200
    directives = {d.strip() for d in response["Cache-Control"].split(",")}
    assert directives == {"private", "max-age=600"}


def test_bypassed_response_is_kept_out_of_shared_caches(
    maintenance_env: SetEnv, client: Client
) -> None:
    maintenance_env(mode="1", bypass_token="a-long-enough-bypass-token")
    client.get("/", {"maintenance_bypass": "a-long-enough-bypass-token"})
    response = client.get("/cacheable")
    assert response.status_code == 200
    assert "private" in response["Cache-Control"]
    assert "public" not in response["Cache-Control"]


async def test_allowed_response_is_private_under_asgi(
    maintenance_env: SetEnv, async_client: AsyncClient
) -> None:
    maintenance_env(mode="1", allowed_ips="127.0.0.1")
    response = await async_client.get("/cacheable")
    assert "private" in response["Cache-Control"]


def test_exempt_response_keeps_its_own_cache_headers(
    maintenance_env: SetEnv, client: Client
) -> None:
    maintenance_env(mode="1", allowed_ips="127.0.0.1", exempt_paths="/static/")
    response = client.get("/static/app.css")
    assert response["Cache-Control"] in {"public, max-age=600", "max-age=600, public"}


def test_private_only_while_maintenance_is_active(
    maintenance_env: SetEnv, client: Client
) -> None:
    maintenance_env(starts_at="2999-01-01T00:00:00Z", allowed_ips="127.0.0.1")
    response = client.get("/cacheable")
    assert "public" in response["Cache-Control"]
