"""Maintenance mode for Django, configured from the environment."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from envmaintenance.schedule import State


def is_active() -> bool:
    """Whether maintenance is active now, exactly as the middleware judges it
    (environment, window, runtime switch), for Celery tasks and cron jobs."""
    from envmaintenance import schedule

    return current_state().is_active(schedule.clock())


def current_state() -> State:
    """The state in force: ``.active``, ``.upcoming``, ``.starts_at``,
    ``.ends_at``, ``.read_only``, ``.message``, ``.source``."""
    from envmaintenance.switch import state_in_force

    return state_in_force()
