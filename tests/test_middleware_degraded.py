"""Read-only and partial maintenance, and the status endpoint, in real Django."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpResponse
from django.test import AsyncClient, Client, RequestFactory

from envmaintenance.middleware import MaintenanceMiddleware
from envmaintenance.responses import PROBLEM_TYPE, READ_ONLY_NOTICE
from envmaintenance.state import State
from tests.conftest import SetEnv, SetNow

TOKEN = "a-long-enough-bypass-token"


@pytest.mark.parametrize("method", ["get", "head", "options"])
def test_read_only_lets_everyone_read(
    maintenance_env: SetEnv, client: Client, method: str
) -> None:
    maintenance_env(mode="1", read_only="1")
    response = getattr(client, method)("/cacheable")
    assert response.status_code == 200
    assert "private" not in response["Cache-Control"]  # the same for everyone


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_read_only_stops_writes_and_says_why(
    maintenance_env: SetEnv, client: Client, method: str
) -> None:
    maintenance_env(mode="1", read_only="1", message="Migrating the database.")
    response = getattr(client, method)("/", HTTP_ACCEPT="application/json")
    assert response.status_code == 503
    problem = json.loads(response.content)
    assert problem["detail"] == f"{READ_ONLY_NOTICE} Migrating the database."
    assert problem["read_only"] is True
    page = client.post("/", HTTP_ACCEPT="text/html").content.decode()
    assert "Read-only for maintenance" in page
    assert READ_ONLY_NOTICE in page
    text = client.post("/", HTTP_ACCEPT="text/plain").content.decode()
    assert text == f"{READ_ONLY_NOTICE} Migrating the database.\n"


def test_read_only_writes_pass_for_allowed_exempt_and_bypassed(
    maintenance_env: SetEnv,
) -> None:
    maintenance_env(
        mode="1",
        read_only="1",
        allowed_ips="192.0.2.1",
        exempt_paths="/healthz",
        bypass_token=TOKEN,
    )
    assert Client().post("/", REMOTE_ADDR="192.0.2.1").status_code == 200
    assert Client().post("/healthz").status_code == 200
    holder = Client()
    link = holder.get(f"/?maintenance_bypass={TOKEN}")  # a read: still trades
    assert link.status_code == 302
    assert holder.post("/").status_code == 200


async def test_read_only_under_asgi(
    maintenance_env: SetEnv, async_client: AsyncClient
) -> None:
    maintenance_env(mode="1", read_only="1")
    assert (await async_client.get("/async")).status_code == 200
    assert (await async_client.post("/async")).status_code == 503


def test_read_only_outside_the_window_stops_nothing(
    maintenance_env: SetEnv, client: Client, frozen_clock: SetNow
) -> None:
    start = datetime(2026, 12, 1, 22, tzinfo=timezone.utc)
    maintenance_env(read_only="1", starts_at=start.isoformat())
    frozen_clock(start - timedelta(seconds=1))
    assert client.post("/").status_code == 200
    frozen_clock(start)
    assert client.post("/").status_code == 503


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/checkout", 503),
        ("/checkout/pay", 503),
        ("/checkoutx", 503),  # no boundary unless the prefix ends in /
        ("/", 200),
        ("/account/orders", 200),
        # Not normal: it may reach the checkout view, so it counts as inside.
        ("/x/../checkout", 503),
        ("//checkout", 503),
        ("/account/./orders", 503),
        ("/checkout/health", 200),  # exempt wins inside the scope
    ],
)
def test_partial_maintenance_applies_only_under_its_paths(
    maintenance_env: SetEnv, path: str, status: int
) -> None:
    maintenance_env(mode="1", paths="/checkout", exempt_paths="/checkout/health")
    assert Client().get("/", PATH_INFO=path).status_code == status


def test_partial_and_read_only_compose(maintenance_env: SetEnv, client: Client) -> None:
    maintenance_env(mode="1", paths="/checkout", read_only="1")
    assert client.get("/checkout/cart").status_code == 200
    assert client.post("/checkout/cart").status_code == 503
    assert client.post("/account").status_code == 200


# The state's one JSON shape (tests/test_schedule.py lists its keys).
STATUS_KEYS = set(State().as_json(0))


def status_of(client: Client | None = None, **extra: Any) -> dict[str, Any]:
    response = (client or Client()).get("/maintenance.json", **extra)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    assert response["Access-Control-Allow-Origin"] == "*"
    body: dict[str, Any] = json.loads(response.content)
    assert set(body) == STATUS_KEYS
    return body


def test_the_status_endpoint_answers_when_maintenance_is_off(
    maintenance_env: SetEnv,
) -> None:
    maintenance_env(status_path="/maintenance.json")
    assert status_of() == {
        "state": "off",
        "active": False,
        "read_only": False,
        "paths": [],
        "hosts": [],
        "overdue": False,
        "overdue_since": None,
        "starts_at": None,
        "ends_at": None,
        "retry_after": None,
        "retry_after_default": 3600,
        "message": "We are carrying out planned maintenance and will be back shortly.",
        "source": "environment",
        "revision": 0,
    }
    assert Client().get("/").status_code == 200


def test_the_status_endpoint_during_a_window_for_everyone(
    maintenance_env: SetEnv, frozen_clock: SetNow
) -> None:
    start = datetime(2026, 12, 1, 22, tzinfo=timezone.utc)
    maintenance_env(
        status_path="/maintenance.json",
        starts_at=start.isoformat(),
        ends_at=(start + timedelta(hours=1)).isoformat(),
        read_only="1",
        allowed_ips="192.0.2.1",
        bypass_token=TOKEN,
    )
    frozen_clock(start + timedelta(minutes=15))
    body = status_of(REMOTE_ADDR="203.0.113.9")
    assert (body["state"], body["active"], body["read_only"]) == (
        "scheduled",
        True,
        True,
    )
    assert body["retry_after"] == 2700
    assert body["ends_at"] == "2026-12-01T23:00:00+00:00"
    text = json.dumps(body)
    assert "192.0.2" not in text
    assert TOKEN not in text


def test_the_status_endpoint_is_one_path(maintenance_env: SetEnv) -> None:
    maintenance_env(mode="1", status_path="/maintenance.json")
    assert Client().get("/maintenance.json").status_code == 200
    assert Client().get("/maintenance.json/x").status_code == 503


async def test_the_status_endpoint_under_asgi(
    maintenance_env: SetEnv, async_client: AsyncClient
) -> None:
    maintenance_env(mode="1", status_path="/maintenance.json")
    response = await async_client.get("/maintenance.json")
    assert json.loads(response.content)["state"] == "on"


@pytest.mark.parametrize("mode", ["0", "1"])
@pytest.mark.parametrize("asgi", [False, True])
def test_only_the_status_path_answers_the_status(
    maintenance_env: SetEnv, mode: str, asgi: bool
) -> None:
    """Every other page is the site's own, on or off (sync and async alike)."""
    maintenance_env(mode=mode, status_path="/maintenance.json", allowed_ips="127.0.0.1")
    response = async_to_sync(AsyncClient().get)("/") if asgi else Client().get("/")
    assert response.status_code == 200
    assert response["Content-Type"] != "application/json"


def test_a_status_path_keeps_the_middleware_when_off(maintenance_env: SetEnv) -> None:
    maintenance_env(status_path="/maintenance.json")
    MaintenanceMiddleware(lambda request: HttpResponse())
    maintenance_env(status_path="")
    with pytest.raises(MiddlewareNotUsed):
        MaintenanceMiddleware(lambda request: HttpResponse())


def test_the_503_names_its_problem_type(
    maintenance_env: SetEnv, client: Client
) -> None:
    maintenance_env(mode="1")
    problem = json.loads(client.get("/", HTTP_ACCEPT="application/json").content)
    assert (
        problem["type"] == PROBLEM_TYPE == "tag:envmaintenance,2026:planned-maintenance"
    )
    assert problem["read_only"] is False


@pytest.mark.parametrize(("path", "status"), [("/checkout/pay", 503), ("/async", 200)])
async def test_partial_maintenance_under_asgi(
    maintenance_env: SetEnv, async_client: AsyncClient, path: str, status: int
) -> None:
    maintenance_env(mode="1", paths="/checkout")
    assert (await async_client.get(path)).status_code == status


SHOP_LANGUAGES = [("en", "English"), ("de", "German"), ("fr", "French")]
SHOP_LANGUAGES += [("pt-br", "Brazilian Portuguese")]
ROUTES_TO_A_SCOPED_VIEW = [
    ("/checkout/", b"checkout"),
    ("/de/checkout/", b"checkout"),
    ("/fr/checkout/", b"checkout"),
    ("/pt-br/checkout/", b"checkout"),
    ("/api/payments", b"payments"),
    ("/api/payments.json", b"payments"),
    ("/api/paymentsX", b"payments"),
    ("/api/payments;jsessionid=1", b"payments"),
]


@pytest.fixture
def shop(settings: Any) -> None:
    """tests.urls_shop, with LocaleMiddleware so i18n_patterns route /de/..."""
    settings.ROOT_URLCONF = "tests.urls_shop"
    settings.LANGUAGES = SHOP_LANGUAGES
    settings.LANGUAGE_CODE = "en"
    middleware = list(settings.MIDDLEWARE)
    sessions = middleware.index("django.contrib.sessions.middleware.SessionMiddleware")
    middleware.insert(sessions + 1, "django.middleware.locale.LocaleMiddleware")
    settings.MIDDLEWARE = middleware


@pytest.mark.usefixtures("shop")
@pytest.mark.parametrize(("path", "view"), ROUTES_TO_A_SCOPED_VIEW)
def test_the_shop_really_routes_these_paths_to_its_views(
    client: Client, path: str, view: bytes
) -> None:
    response = client.get(path)
    assert (response.status_code, response.content) == (200, view)


@pytest.mark.usefixtures("shop")
@pytest.mark.parametrize(("path", "view"), ROUTES_TO_A_SCOPED_VIEW)
def test_every_route_to_a_scoped_view_is_inside_the_scope(
    maintenance_env: SetEnv, client: Client, path: str, view: bytes
) -> None:
    maintenance_env(mode="1", paths="/checkout,/api/payments")
    assert client.get(path).status_code == 503


@pytest.mark.usefixtures("shop")
@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api", 503),
        ("/api/", 503),
        ("/api/payments.json", 503),
        ("/de/api/x", 503),
        ("/apiary", 200),
        ("/de/apiary", 200),
        ("/healthz", 200),
        ("/deutsch/api/x", 200),  # not a language the site routes
    ],
)
def test_a_trailing_slash_marks_a_boundary(
    maintenance_env: SetEnv, client: Client, path: str, status: int
) -> None:
    maintenance_env(mode="1", paths="/api/")
    assert client.get(path).status_code == status


@pytest.mark.parametrize("mode", ["0", "1"])
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "trace"])
def test_the_status_endpoint_refuses_what_is_not_a_read(
    maintenance_env: SetEnv, client: Client, mode: str, method: str
) -> None:
    maintenance_env(mode=mode, status_path="/maintenance.json")
    response = getattr(client, method)("/maintenance.json")
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD, OPTIONS"
    assert response["Cache-Control"] == "no-store"


def test_the_status_endpoint_refuses_webdav(maintenance_env: SetEnv) -> None:
    maintenance_env(status_path="/maintenance.json")
    response = Client().generic("PROPFIND", "/maintenance.json")
    assert response.status_code == 405


@pytest.mark.parametrize("mode", ["0", "1"])
def test_the_status_endpoint_answers_a_cors_preflight(
    maintenance_env: SetEnv, client: Client, mode: str
) -> None:
    maintenance_env(mode=mode, status_path="/maintenance.json")
    response = client.options(
        "/maintenance.json",
        HTTP_ORIGIN="https://status.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
    )
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Access-Control-Allow-Methods"] == "GET, HEAD, OPTIONS"
    assert response.content == b""


def test_head_answers_of_the_middleware_carry_no_body(
    maintenance_env: SetEnv, rf: RequestFactory
) -> None:
    """The response objects themselves: Django's test client strips HEAD bodies."""
    maintenance_env(mode="1", status_path="/maintenance.json")
    middleware = MaintenanceMiddleware(lambda request: HttpResponse("site"))
    for path in ("/", "/maintenance.json"):
        get, head = middleware(rf.get(path)), middleware(rf.head(path))
        assert head.status_code == get.status_code
        assert head.content == b""  # type: ignore[attr-defined]
        assert head["Content-Length"] == str(len(get.content)) != "0"  # type: ignore[attr-defined]
        assert head.headers == get.headers


@pytest.mark.parametrize(
    "accept",
    [
        "application/json; charset=utf-8",
        "application/vnd.api+json",
        "application/*+json",
    ],
)
def test_json_clients_with_parameters_get_problem_json(
    maintenance_env: SetEnv, client: Client, accept: str
) -> None:
    maintenance_env(mode="1")
    response = client.get("/", HTTP_ACCEPT=accept)
    assert response["Content-Type"] == "application/problem+json"
