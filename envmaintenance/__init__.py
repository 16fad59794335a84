"""Maintenance mode for Django, configured from the environment."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from envmaintenance.schedule import MaintenanceState


def is_active() -> bool:
    """Whether maintenance is active now, exactly as the middleware judges it
    (environment, window, runtime switch), for Celery tasks and cron jobs."""
    return current_state().active


def current_state() -> MaintenanceState:
    """The state in force: active, upcoming, starts_at, ends_at, source."""
    from envmaintenance import schedule
    from envmaintenance.switch import get_switch

    now = schedule.clock()
    return get_switch().current(now).state(now)
