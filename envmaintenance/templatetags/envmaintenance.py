"""``{% load envmaintenance %}``: what a page can ask of the maintenance in force,
so that a product page can hide "Add to basket" while /basket/ is stopped."""

from __future__ import annotations

from typing import Any

from django import template

import envmaintenance
from envmaintenance.access import request_host

register = template.Library()


@register.simple_tag(takes_context=True)
def maintenance_stops(
    context: dict[str, Any], path: str, host: str | None = None
) -> bool:
    """``{% maintenance_stops "/basket/" as basket_closed %}``: whether
    maintenance stops requests to that path now, on the page's own host unless
    ``host`` says another."""
    request = context.get("request")
    if host is None and request is not None:
        host = request_host(request)
    return envmaintenance.is_active(path=path, host=host)
