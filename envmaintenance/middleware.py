"""MaintenanceMiddleware: allowed clients and exempt paths pass, the rest get a 503."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import MiddlewareNotUsed

from envmaintenance import schedule
from envmaintenance.bypass import Bypass
from envmaintenance.client import ProxiedClient, remote_addr_key
from envmaintenance.conf import get_config
from envmaintenance.network import format_key
from envmaintenance.responses import UnavailableResponses, render_page

if TYPE_CHECKING:
    from collections.abc import Mapping

    from django.http import HttpRequest, HttpResponseBase

logger = logging.getLogger("envmaintenance")

GetResponse = Callable[["HttpRequest"], "HttpResponseBase"]
AsyncGetResponse = Callable[["HttpRequest"], Awaitable["HttpResponseBase"]]


class MaintenanceMiddleware:
    """Sync and async capable; removes itself when maintenance cannot happen."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse | AsyncGetResponse) -> None:
        config = get_config()
        plan = schedule.Schedule(config)
        if not plan.may_be_active(schedule.clock()):
            raise MiddlewareNotUsed("maintenance is off and none is scheduled")
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)
        # What a request needs, decided here: each step is a bound callable, or
        # None when it does not apply (benchmarks/ measures why it matters).
        self.window = None if plan.forced else plan
        self.is_exempt = config.exempt_paths.matches if config.exempt_paths else None
        self.client_key: Callable[[Mapping[str, Any]], int | None] = (
            ProxiedClient(config.trusted_proxies)
            if config.trusted_proxies
            else remote_addr_key
        )
        self.is_allowed = config.allowed_networks.contains_key
        self.bypass = (
            Bypass(config.bypass_token, config.bypass_max_age_seconds)
            if config.bypass_token
            else None
        )
        self.retry_after = plan.retry_after_seconds if plan.has_end else None
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
        """The answer for a request maintenance stops, or None when it may pass."""
        if self.window is not None and not self.window.is_active(schedule.clock()):
            return None
        if self.is_exempt is not None and self.is_exempt(request.path_info):
            return None
        client = self.client_key(request.META)
        if client is not None and self.is_allowed(client):
            return None
        if self.bypass is not None:
            if self.bypass.has_valid_cookie(request):
                return None
            redirect = self.bypass.redirect_with_cookie(request)
            if redirect is not None:
                return redirect
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "Maintenance: 503 for %s %r from %s",
                request.method,
                request.path,
                "an unknown address" if client is None else format_key(client),
            )
        retry_after = (
            None if self.retry_after is None else self.retry_after(schedule.clock())
        )
        return self.responses.build(request, retry_after)
