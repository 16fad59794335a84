from __future__ import annotations

from datetime import datetime, timezone

import pytest

from envmaintenance.state import State
from tests.conftest import SetNow

START = datetime(2026, 12, 1, 22, 0, tzinfo=timezone.utc)
END = datetime(2026, 12, 1, 23, 0, tzinfo=timezone.utc)
T_START, T_END = START.timestamp(), END.timestamp()


def plan(**fields: object) -> State:
    return State(**fields)  # type: ignore[arg-type]


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
    assert forced.enabled


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
    window = plan(starts_at=START, ends_at=END, default_retry_after=120)
    assert window.retry_after(now) == seconds


def test_retry_after_without_an_end_is_the_configured_delay() -> None:
    assert plan(enabled=True, default_retry_after=90).retry_after(0) == 90
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


def test_templates_read_active_and_upcoming_at_the_moment_they_ask(
    frozen_clock: SetNow,
) -> None:
    window = plan(starts_at=START, ends_at=END)
    frozen_clock(T_START - 60)
    assert (window.active, window.upcoming) == (False, True)
    frozen_clock(T_START)
    assert (window.active, window.upcoming) == (True, False)


def test_the_window_as_logs_and_the_command_print_it() -> None:
    assert plan().window() == ""
    assert plan(ends_at=END).window() == "now → 2026-12-01T23:00:00+00:00"
    assert plan(starts_at=START).window() == "2026-12-01T22:00:00+00:00 → no end set"


@pytest.mark.parametrize(
    ("fields", "now", "retry_after"),
    [
        ({}, T_START, None),  # inactive: nothing to wait for
        ({"enabled": True}, T_START, 600),
        ({"starts_at": START, "ends_at": END}, T_START - 60, None),
        ({"starts_at": START, "ends_at": END}, T_END - 30, 30),
    ],
)
def test_one_json_shape_with_retry_after_null_while_inactive(
    fields: dict[str, object], now: float, retry_after: int | None
) -> None:
    shape = plan(**fields, default_retry_after=600).as_json(now)
    assert shape["retry_after"] == retry_after
    assert shape["retry_after_default"] == 600
    assert set(shape) == {
        "state",
        "active",
        "read_only",
        "starts_at",
        "ends_at",
        "retry_after",
        "retry_after_default",
        "revision",
        "paths",
        "hosts",
        "overdue",
        "overdue_since",
        "message",
        "source",
    }


def test_notes_are_shown_never_compared() -> None:
    signed = plan(enabled=True, notes={"SET_BY": "alice", "REASON": "db"})
    assert signed == plan(enabled=True)
    assert signed.signed() == " by alice (reason: db)"
