from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from django.template.loader import render_to_string
from django.test import RequestFactory

from envmaintenance.context_processors import maintenance
from envmaintenance.state import State

SetEnv = Callable[..., None]
SetNow = Callable[[Any], None]
START = datetime(2026, 12, 1, 22, 0, tzinfo=timezone.utc)
END = datetime(2026, 12, 1, 23, 0, tzinfo=timezone.utc)


def state() -> State:
    return maintenance(RequestFactory().get("/"))["maintenance"]


def seen() -> tuple[bool, bool, datetime | None, datetime | None]:
    """What a template reads: active and upcoming now, and the window."""
    shown = state()
    return (shown.active, shown.upcoming, shown.starts_at, shown.ends_at)


def banner() -> str:
    return render_to_string(
        "envmaintenance/banner.html", {"maintenance": state()}
    ).strip()


def test_nothing_configured(frozen_clock: SetNow) -> None:
    frozen_clock(START)
    assert seen() == (False, False, None, None)
    assert banner() == ""


def test_upcoming_window(maintenance_env: SetEnv, frozen_clock: SetNow) -> None:
    maintenance_env(starts_at=START.isoformat(), ends_at=END.isoformat())
    frozen_clock(START - timedelta(days=2))
    assert seen() == (False, True, START, END)
    text = banner()
    assert "Scheduled maintenance: Tuesday 1 December, 22:00\u201323:00 UTC." in text
    assert 'role="status"' in text


def test_upcoming_window_over_two_days(
    maintenance_env: SetEnv, frozen_clock: SetNow
) -> None:
    maintenance_env(
        starts_at=START.isoformat(), ends_at=(END + timedelta(days=1)).isoformat()
    )
    frozen_clock(START - timedelta(days=2))
    assert "22:00\u2013Wednesday 2 December, 23:00 UTC" in banner()


def test_active_window(maintenance_env: SetEnv, frozen_clock: SetNow) -> None:
    maintenance_env(starts_at=START.isoformat(), ends_at=END.isoformat())
    frozen_clock(START)
    assert state().active
    assert not state().upcoming
    assert "Maintenance is in progress until Tuesday 1 December, 23:00 UTC" in banner()


def test_forced_without_end(maintenance_env: SetEnv, frozen_clock: SetNow) -> None:
    maintenance_env(mode="1")
    frozen_clock(START)
    assert state().active
    assert "Maintenance is in progress:" in banner()


def test_passed_window_announces_nothing(
    maintenance_env: SetEnv, frozen_clock: SetNow
) -> None:
    maintenance_env(starts_at=START.isoformat(), ends_at=END.isoformat())
    frozen_clock(END)
    assert not state().active
    assert banner() == ""


def test_context_processor_wires_into_templates(
    maintenance_env: SetEnv, settings: Any, frozen_clock: SetNow
) -> None:
    settings.TEMPLATES = [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "APP_DIRS": True,
            "OPTIONS": {
                "context_processors": ["envmaintenance.context_processors.maintenance"]
            },
        }
    ]
    maintenance_env(starts_at=START.isoformat())
    frozen_clock(START - timedelta(hours=1))
    request = RequestFactory().get("/")
    html = render_to_string("envmaintenance/banner.html", request=request)
    assert "Scheduled maintenance: Tuesday 1 December, 22:00 UTC." in html
