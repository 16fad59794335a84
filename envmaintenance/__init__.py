"""Maintenance mode for Django, configured from the environment.

The public API is what ``__all__`` lists here and in ``envmaintenance.middleware``,
``envmaintenance.context_processors`` and ``envmaintenance.testing``; every other
module is internal and may change in any release.
"""

from __future__ import annotations

from envmaintenance.guards import skip_during_maintenance
from envmaintenance.state import State

__version__ = "0.1.0"
__all__ = ["State", "current_state", "is_active", "skip_during_maintenance"]


def is_active(path: str | None = None, host: str | None = None) -> bool:
    """Whether maintenance is active now, exactly as the middleware judges it
    (environment, window, runtime switch), for Celery tasks, cron jobs and
    views. With a path and/or a host (``shop.example.com``), whether it stops
    requests there: inside its scope, and not exempt."""
    from envmaintenance import state
    from envmaintenance.access import gate, without_port

    current = current_state()
    if not current.is_active(state.clock()):
        return False
    if path is None and host is None:
        return True
    name = None if host is None else without_port(host)
    return gate().stops_at(current, path, name)


def current_state() -> State:
    """The state in force: ``.active``, ``.upcoming``, ``.starts_at``,
    ``.ends_at``, ``.read_only``, ``.message``, ``.source``."""
    from envmaintenance.switch import state_in_force

    return state_in_force()
