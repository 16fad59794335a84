from __future__ import annotations

from datetime import datetime, timezone

import pytest

from envmaintenance.conf import MaintenanceConfig
from envmaintenance.schedule import MaintenanceState, Schedule

START = datetime(2026, 12, 1, 22, 0, tzinfo=timezone.utc)
END = datetime(2026, 12, 1, 23, 0, tzinfo=timezone.utc)
T_START, T_END = START.timestamp(), END.timestamp()


def plan(**fields: object) -> Schedule:
    return Schedule(MaintenanceConfig(**fields))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("now", "active"),
    [
        (T_START - 0.001, False),
        (T_START, True),  # inclusive
        (T_START + 1800, True),
        (T_END - 0.001, True),
        (T_END, False),  # exclusive
        (T_END + 1, False),
    ],
)
def test_window_boundaries(now: float, active: bool) -> None:
    assert plan(starts_at=START, ends_at=END).is_active(now) is active


def test_open_ended_window_stays_on() -> None:
    window = plan(starts_at=START)
    assert not window.is_active(T_START - 1)
    assert window.is_active(T_START + 10 * 86400)


def test_mode_forces_maintenance_on_whatever_the_window() -> None:
    forced = plan(enabled=True, starts_at=START, ends_at=END)
    assert forced.is_active(T_START - 3600)
    assert forced.is_active(T_END + 3600)
    assert forced.forced


def test_ends_at_alone_does_nothing_without_mode() -> None:
    assert not plan(ends_at=END).is_active(T_END - 60)
    assert not plan(ends_at=END).may_be_active(T_END - 60)


@pytest.mark.parametrize(
    ("fields", "now", "may_be_active"),
    [
        ({}, T_START, False),
        ({"enabled": True}, T_START, True),
        ({"starts_at": START}, T_START - 86400, True),
        ({"starts_at": START, "ends_at": END}, T_END - 1, True),
        ({"starts_at": START, "ends_at": END}, T_END, False),
    ],
)
def test_may_be_active(
    fields: dict[str, object], now: float, may_be_active: bool
) -> None:
    assert plan(**fields).may_be_active(now) is may_be_active


@pytest.mark.parametrize(
    ("now", "seconds"),
    [
        (T_END - 3600, 3600),
        (T_END - 3599.2, 3600),  # rounded up
        (T_END - 0.001, 1),  # never zero while the end is ahead
        (T_END, 120),  # at or after the end: the configured delay
        (T_END + 50, 120),
    ],
)
def test_retry_after_counts_down_to_the_end(now: float, seconds: int) -> None:
    window = plan(starts_at=START, ends_at=END, retry_after_seconds=120)
    assert window.retry_after_seconds(now) == seconds


def test_retry_after_without_an_end_is_the_configured_delay() -> None:
    assert plan(enabled=True, retry_after_seconds=90).retry_after_seconds(0) == 90
    assert not plan(enabled=True).has_end


@pytest.mark.parametrize(
    ("fields", "now", "word"),
    [
        ({"enabled": True}, T_START, "on"),
        ({"starts_at": START, "ends_at": END}, T_START, "scheduled"),
        ({"starts_at": START, "ends_at": END}, T_START - 1, "upcoming"),
        ({"starts_at": START, "ends_at": END}, T_END, "off"),
        ({}, T_START, "off"),
    ],
)
def test_describe(fields: dict[str, object], now: float, word: str) -> None:
    assert plan(**fields).describe(now) == word


def test_state_announces_an_upcoming_window() -> None:
    assert plan(starts_at=START, ends_at=END).state(T_START - 60) == MaintenanceState(
        active=False, upcoming=True, starts_at=START, ends_at=END
    )
    assert plan(starts_at=START, ends_at=END).state(T_START) == MaintenanceState(
        active=True, upcoming=False, starts_at=START, ends_at=END
    )
