from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, RequestFactory
from hypothesis import given
from hypothesis import strategies as st

from envmaintenance.languages import Languages
from envmaintenance.responses import (
    HTML,
    PROBLEM_JSON,
    TEXT,
    UnavailableResponses,
    humanise_seconds,
    preferred_media_type,
    render_page,
)
from tests.conftest import SetEnv, make_config

# LANGUAGE_CODE in the test settings: Django's default.
ENGLISH = Languages(("en-us",))


def page(**fields: Any) -> str:
    """The page in English for a config with these fields (state's included)."""
    config = make_config(**fields)
    return render_page(config, config.environment, "en-us")


def answers(**fields: Any) -> UnavailableResponses:
    config = make_config(**fields)
    return UnavailableResponses(config, config.environment, ENGLISH)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (1, "1 second"),
        (45, "45 seconds"),
        (60, "1 minute"),
        (150, "2 minutes"),
        (3600, "1 hour"),
        (5400, "2 hours"),
        (86400, "1 day"),
        (604800, "7 days"),
    ],
)
def test_humanise_seconds(seconds: int, text: str) -> None:
    assert humanise_seconds(seconds) == text


def test_default_page_is_self_contained_and_escapes_the_message() -> None:
    html = page(message="<b>DB & cache</b>", default_retry_after=90)
    assert html.startswith("<!doctype html>")
    assert '<html lang="en-us" dir="ltr">' in html
    assert "<title>Down for maintenance</title>" in html
    assert '<meta name="viewport"' in html
    assert '<meta http-equiv="refresh" content="90">' in html
    assert "&lt;b&gt;DB &amp; cache&lt;/b&gt;" in html
    assert "<b>" not in html
    assert "2 minutes" in html
    for external in ("http://", "https://", "<link", "<script src", "@import"):
        assert external not in html


def test_site_template_overrides_the_page(page_template: Callable[[str], None]) -> None:
    page_template("{{ message }}|{{ retry_after }}|{{ ends_at }}")
    assert page(message="Custom", default_retry_after=42) == "Custom|42|None"


def test_broken_site_template_fails_at_start_up(
    page_template: Callable[[str], None],
) -> None:
    page_template("{% include 'missing.html' %}")
    with pytest.raises(ImproperlyConfigured, match=r"envmaintenance/maintenance\.html"):
        page()


def test_site_template_with_a_syntax_error_fails_at_start_up(
    page_template: Callable[[str], None],
) -> None:
    page_template("{% if %}")
    with pytest.raises(ImproperlyConfigured, match="failed to render"):
        page()


def test_page_renders_without_app_templates(settings: Any) -> None:
    settings.TEMPLATES = []
    assert "Down for maintenance" in page()


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        ("*/*", HTML),
        ("text/*", HTML),
        ("application/*", PROBLEM_JSON),
        ("application/json", PROBLEM_JSON),
        ("text/plain, application/json;q=0.9", TEXT),
        ("image/webp", TEXT),
        ("", TEXT),
        # Parameters other than q are not a reason to refuse an offer.
        ("application/json; charset=utf-8", PROBLEM_JSON),
        ("application/json;charset=UTF-8;q=0.9, text/plain;q=0.1", PROBLEM_JSON),
        ("text/html; level=1", HTML),
        ("text/plain; format=flowed; q=1", TEXT),
        # Structured +json types are JSON clients.
        ("application/vnd.api+json", PROBLEM_JSON),
        ("application/*+json", PROBLEM_JSON),
        ("Application/HAL+JSON; charset=utf-8", PROBLEM_JSON),
        ("application/problem+json", PROBLEM_JSON),
        # q=0 still means "not this".
        ("application/json; q=0, text/plain", TEXT),
        ("application/vnd.api+json;q=0, text/html;q=0.5", HTML),
        ("application/json;charset=utf-8;q=0", TEXT),
        ("application/xml+jsonish", TEXT),
    ],
)
def test_preferred_media_type(accept: str, media_type: str) -> None:
    assert preferred_media_type(accept) == media_type


@given(st.text(max_size=300))
def test_preferred_media_type_never_raises(accept: str) -> None:
    assert preferred_media_type(accept) in (HTML, PROBLEM_JSON, TEXT)


def test_each_request_gets_its_own_response_object() -> None:
    responses = answers()
    request = RequestFactory().get("/")
    first, second = responses.build(request), responses.build(request)
    assert first is not second
    first["X-Extra"] = "1"
    assert "X-Extra" not in second
    assert first.content == second.content


def test_page_announces_the_expected_end() -> None:
    ends_at = datetime(2026, 12, 1, 23, 0, tzinfo=timezone.utc)
    html = page(enabled=True, ends_at=ends_at)
    assert 'data-ends-at="2026-12-01T23:00:00+00:00"' in html
    assert "Expected back by" in html
    assert "Tuesday 1 December 2026, 23:00 UTC" in html
    assert "window.location.reload()" in html


def test_page_without_an_end_reloads_after_retry_after() -> None:
    html = page(enabled=True, default_retry_after=5)
    assert 'data-retry-after="5"' in html
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in html
    assert 'data-ends-at="' not in html


def test_problem_json_carries_the_expected_end() -> None:
    ends_at = datetime(2026, 12, 1, 23, 0, tzinfo=timezone.utc)
    responses = answers(ends_at=ends_at)
    request = RequestFactory().get("/", HTTP_ACCEPT="application/json")
    body = json.loads(responses.build(request).content)
    assert body["ends_at"] == "2026-12-01T23:00:00+00:00"


def test_retry_after_can_be_given_per_request() -> None:
    responses = answers(default_retry_after=60)
    request = RequestFactory().get("/")
    assert responses.build(request)["Retry-After"] == "60"
    assert responses.build(request, 7)["Retry-After"] == "7"


def test_the_page_reloads_itself_by_asking_the_status_path(
    maintenance_env: SetEnv,
) -> None:
    maintenance_env(mode="1", status_path="/maintenance.json", retry_after="300")
    html = Client().get("/", HTTP_ACCEPT="text/html").content.decode()
    assert 'data-reload="1"' in html
    assert 'data-status="/maintenance.json"' in html
    assert '<noscript><meta http-equiv="refresh" content="300"></noscript>' in html


def test_without_a_status_path_it_reloads_after_retry_after(
    maintenance_env: SetEnv,
) -> None:
    maintenance_env(mode="1")
    html = Client().get("/", HTTP_ACCEPT="text/html").content.decode()
    assert 'data-reload="1"' in html
    assert 'data-status="' not in html


def test_a_site_may_turn_the_reload_off(maintenance_env: SetEnv) -> None:
    maintenance_env(mode="1", status_path="/s", page_reload="0")
    html = Client().get("/", HTTP_ACCEPT="text/html").content.decode()
    assert 'data-reload="' not in html
    assert 'data-status="' not in html
    assert 'http-equiv="refresh"' not in html
