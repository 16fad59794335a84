from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from django.test import Client, SimpleTestCase

from envmaintenance.conf import ConfigError, get_config
from envmaintenance.testing import maintenance_mode, maintenance_switch


def test_context_manager_switches_maintenance_on_and_restores() -> None:
    os.environ["MAINTENANCE_MESSAGE"] = "kept"
    try:
        with maintenance_mode(
            allowed_ips=["10.0.0.0/8", "2001:db8::/32"], retry_after=60
        ):
            config = get_config()
            assert config.environment.enabled
            assert [str(n) for n in config.allowed_networks.networks] == [
                "10.0.0.0/8",
                "2001:db8::/32",
            ]
            assert "MAINTENANCE_MESSAGE" not in os.environ
            response = Client().get("/")
            assert response.status_code == 503
            assert response["Retry-After"] == "60"
        assert os.environ["MAINTENANCE_MESSAGE"] == "kept"
        assert "MAINTENANCE_MODE" not in os.environ
        assert not get_config().environment.enabled
        assert Client().get("/").status_code == 200
    finally:
        del os.environ["MAINTENANCE_MESSAGE"]


def test_mode_can_be_left_off_to_test_a_schedule() -> None:
    with maintenance_mode(mode=False, starts_at="2030-01-01T00:00:00Z"):
        assert not get_config().environment.enabled
        assert get_config().environment.starts_at is not None


def test_invalid_settings_fail_at_once_and_leave_nothing_behind() -> None:
    invalid = maintenance_mode(retry_after=0)
    with pytest.raises(ConfigError, match="MAINTENANCE_RETRY_AFTER"):
        invalid.__enter__()  # what a with statement does first
    assert "MAINTENANCE_MODE" not in os.environ


@maintenance_mode(exempt_paths="/healthz")
def test_decorator_on_a_function() -> None:
    assert Client().get("/healthz").status_code == 200
    assert Client().get("/").status_code == 503


@maintenance_mode(message="Back soon")
class DecoratedTestCase(SimpleTestCase):
    def test_decorator_on_a_test_case(self) -> None:
        response = self.client.get("/", HTTP_ACCEPT="text/plain")
        assert response.status_code == 503
        assert response.content == b"Back soon\n"


def test_pytest_fixture(maintenance: Callable[..., None], client: Client) -> None:
    maintenance(allowed_ips="127.0.0.1")
    assert client.get("/").status_code == 200
    maintenance(allowed_ips="192.0.2.1")
    assert Client().get("/").status_code == 503


def test_switch_behind_the_fixture_restores_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAINTENANCE_MESSAGE", "kept")
    with maintenance_switch() as switch_on:
        switch_on(allowed_ips="10.0.0.0/8")
        switch_on(retry_after="60")
        assert os.environ["MAINTENANCE_RETRY_AFTER"] == "60"
        assert "MAINTENANCE_ALLOWED_IPS" not in os.environ
        assert get_config().environment.default_retry_after == 60
    assert os.environ["MAINTENANCE_MESSAGE"] == "kept"
    assert "MAINTENANCE_RETRY_AFTER" not in os.environ
    assert not get_config().environment.enabled
