"""A site's own test suite, with a switch or a status path configured and
maintenance off, neither pays for our pages nor sees them among its templates."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import global_settings
from django.test import Client

from envmaintenance.responses import TEMPLATE_NAME
from envmaintenance.switch import get_switch
from tests.conftest import SetEnv


@pytest.fixture
def twenty_languages(settings: Any) -> None:
    settings.LANGUAGE_CODE = "en"
    settings.LANGUAGES = global_settings.LANGUAGES[:20]


@pytest.mark.usefixtures("twenty_languages")
@pytest.mark.parametrize("configured", ["switch", "status path"])
def test_a_site_test_sees_only_its_own_templates(
    maintenance_env: SetEnv, tmp_path: Path, configured: str, settings: Any
) -> None:
    variables = {
        "switch": {"switch_url": f"file://{tmp_path}/switch"},
        "status path": {"status_path": "/maintenance.json"},
    }[configured]
    maintenance_env(**variables)
    for _test in range(3):  # each test of the site gets a new client
        response = Client().get("/")
        assert response.status_code == 200
        assert TEMPLATE_NAME not in [t.name for t in response.templates]


def test_a_page_asked_for_is_still_rendered(maintenance_env: SetEnv) -> None:
    maintenance_env(mode="1")
    response = Client().get("/")
    assert response.status_code == 503
    assert b"Down for maintenance" in response.content


@pytest.mark.usefixtures("no_reader")
def test_a_template_that_breaks_after_start_up_never_costs_a_500(
    tmp_path: Path,
    maintenance_env: SetEnv,
    page_template: Callable[[str], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Pages not rendered at start-up are rendered when maintenance comes: a
    site template that fails then is logged, and the built-in page serves."""
    switch = tmp_path / "switch"
    maintenance_env(switch_url=f"file://{switch}", switch_interval="1")
    page_template("{% if %}")
    client = Client()
    assert client.get("/").status_code == 200  # off: nothing rendered, no error
    switch.write_text("MAINTENANCE_MODE=1\n")
    get_switch().refresh(time.time())  # the reader's next read
    response = client.get("/")
    assert response.status_code == 503
    assert b"Down for maintenance" in response.content
    assert "serving the built-in page instead" in caplog.text
