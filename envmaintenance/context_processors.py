"""``maintenance`` in templates, so a site can announce a window before it starts."""

from __future__ import annotations

from django.http import HttpRequest

from envmaintenance import schedule
from envmaintenance.conf import get_config


def maintenance(request: HttpRequest) -> dict[str, schedule.MaintenanceState]:
    """``maintenance``: .active, .upcoming, .starts_at and .ends_at."""
    state = schedule.Schedule(get_config()).state(schedule.clock())
    return {"maintenance": state}
