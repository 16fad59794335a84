"""MaintenanceMiddleware: allowed clients and exempt paths pass, the rest get a 503."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import MiddlewareNotUsed

from envmaintenance.client import client_key
from envmaintenance.conf import get_config
from envmaintenance.network import format_key
from envmaintenance.responses import UnavailableResponses, render_page

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponseBase

logger = logging.getLogger("envmaintenance")

GetResponse = Callable[["HttpRequest"], "HttpResponseBase"]
AsyncGetResponse = Callable[["HttpRequest"], Awaitable["HttpResponseBase"]]


class MaintenanceMiddleware:
    """Sync and async capable; removes itself from the chain when maintenance is off."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse | AsyncGetResponse) -> None:
        config = get_config()
        if not config.enabled:
            raise MiddlewareNotUsed("MAINTENANCE_MODE is off")
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)
        self.allowed_networks = config.allowed_networks
        self.trusted_proxies = config.trusted_proxies
        self.exempt_paths = config.exempt_paths
        self.responses = UnavailableResponses(config, render_page(config))

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if self.async_mode:
            return self.__acall__(request)  # type: ignore[return-value]
        return self.blocked_response(request) or self.get_response(request)  # type: ignore[return-value]

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.blocked_response(request)
        if response is None:
            response = await self.get_response(request)  # type: ignore[misc]
        return response

    def blocked_response(self, request: HttpRequest) -> HttpResponseBase | None:
        """The 503 for this request, or None when it may pass."""
        if self.exempt_paths and self.exempt_paths.matches(request.path_info):
            return None
        client = client_key(request.META, self.trusted_proxies)
        if client is not None and self.allowed_networks.contains_key(client):
            return None
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "Maintenance: 503 for %s %r from %s",
                request.method,
                request.path,
                "an unknown address" if client is None else format_key(client),
            )
        return self.responses.build(request)
