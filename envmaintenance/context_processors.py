"""``maintenance`` in templates, so a site can announce a window before it starts."""

from __future__ import annotations

from django.http import HttpRequest

from envmaintenance.state import State
from envmaintenance.switch import state_in_force

__all__ = ["maintenance"]


def maintenance(request: HttpRequest) -> dict[str, State]:
    """``maintenance``: .active, .upcoming, .starts_at, .ends_at and .read_only,
    as in force (the environment, or the runtime switch when one is configured)."""
    return {"maintenance": state_in_force()}
