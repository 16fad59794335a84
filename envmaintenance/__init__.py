"""Maintenance mode for Django, configured from the environment.

The public API is what ``__all__`` lists here and in ``envmaintenance.middleware``,
``envmaintenance.context_processors`` and ``envmaintenance.testing``; every other
module is internal and may change in any release.
"""

from __future__ import annotations

from envmaintenance.state import State

__version__ = "0.1.0"
__all__ = ["State", "current_state", "is_active"]


def is_active() -> bool:
    """Whether maintenance is active now, exactly as the middleware judges it
    (environment, window, runtime switch), for Celery tasks and cron jobs."""
    from envmaintenance import state

    return current_state().is_active(state.clock())


def current_state() -> State:
    """The state in force: ``.active``, ``.upcoming``, ``.starts_at``,
    ``.ends_at``, ``.read_only``, ``.message``, ``.source``."""
    from envmaintenance.switch import state_in_force

    return state_in_force()
