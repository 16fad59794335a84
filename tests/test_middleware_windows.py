from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpResponse
from django.test import Client, RequestFactory

from envmaintenance.middleware import MaintenanceMiddleware
from tests.conftest import SetEnv, SetNow

START = datetime(2026, 12, 1, 22, 0, tzinfo=timezone.utc)
END = datetime(2026, 12, 1, 23, 0, tzinfo=timezone.utc)
WINDOW = {"starts_at": START.isoformat(), "ends_at": END.isoformat()}


def test_window_switches_on_and_off_without_a_restart(
    maintenance_env: SetEnv, client: Client, frozen_clock: SetNow
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
    maintenance_env: SetEnv, client: Client, frozen_clock: SetNow
) -> None:
    maintenance_env(**WINDOW)
    frozen_clock(START)
    assert client.get("/")["Retry-After"] == "3600"
    frozen_clock(END.timestamp() - 90.5)
    assert client.get("/")["Retry-After"] == "91"


def test_mode_with_ends_at_means_on_and_expected_back(
    maintenance_env: SetEnv, client: Client, frozen_clock: SetNow
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
    maintenance_env: SetEnv, frozen_clock: SetNow
) -> None:
    maintenance_env(**WINDOW)
    frozen_clock(END)
    with pytest.raises(MiddlewareNotUsed):
        MaintenanceMiddleware(lambda request: HttpResponse())


def test_upcoming_window_keeps_the_middleware(
    maintenance_env: SetEnv, frozen_clock: SetNow
) -> None:
    maintenance_env(**WINDOW)
    frozen_clock(START - timedelta(days=3))
    middleware = MaintenanceMiddleware(lambda request: HttpResponse("up"))
    assert middleware(RequestFactory().get("/")).status_code == 200


def test_retry_after_never_exceeds_a_week_counting_down_to_a_far_end(
    maintenance_env: SetEnv, client: Client, frozen_clock: SetNow
) -> None:
    maintenance_env(mode="1", ends_at="2999-12-31T23:59:59+14:00")
    frozen_clock(START)
    response = client.get("/")
    assert response["Retry-After"] == "604800"
    assert b"2999" in response.content  # the page still renders the far end
