"""``maintenance`` in templates, so a site can announce a window before it starts."""

from __future__ import annotations

from django.http import HttpRequest

from envmaintenance import schedule
from envmaintenance.switch import get_switch


def maintenance(request: HttpRequest) -> dict[str, schedule.MaintenanceState]:
    """``maintenance``: .active, .upcoming, .starts_at and .ends_at, as in force
    (the environment, or the runtime switch when one is configured)."""
    now = schedule.clock()
    return {"maintenance": get_switch().current(now).state(now)}
