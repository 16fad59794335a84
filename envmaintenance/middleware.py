"""MaintenanceMiddleware: allowed clients and exempt paths pass, the rest get a 503."""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import MiddlewareNotUsed
from django.utils.cache import patch_cache_control

from envmaintenance import schedule
from envmaintenance.bypass import Bypass
from envmaintenance.client import ProxiedClient, remote_addr_key
from envmaintenance.conf import MaintenanceConfig, get_config
from envmaintenance.network import format_key
from envmaintenance.responses import UnavailableResponses, render_page

if TYPE_CHECKING:
    from collections.abc import Mapping

    from django.http import HttpRequest, HttpResponseBase

logger = logging.getLogger("envmaintenance")

GetResponse = Callable[["HttpRequest"], "HttpResponseBase"]
AsyncGetResponse = Callable[["HttpRequest"], Awaitable["HttpResponseBase"]]


class Pass(enum.Enum):
    """How a request that is not stopped goes on."""

    UNTOUCHED = enum.auto()  # no maintenance now, or an exempt path
    PRIVATE = enum.auto()  # let in during maintenance: no shared cache may keep it


class MaintenanceMiddleware:
    """Sync and async capable; removes itself when maintenance cannot happen."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse | AsyncGetResponse) -> None:
        config = get_config()
        plan = schedule.Schedule(config)
        now = schedule.clock()
        if not plan.may_be_active(now):
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
            else self._remote_addr_key_noting_proxies
        )
        self.is_allowed = config.allowed_networks.contains_key
        self.bypass = (
            Bypass(config.bypass_token, config.bypass_max_age_seconds)
            if config.bypass_token
            else None
        )
        self.retry_after = plan.retry_after_seconds if plan.has_end else None
        self.responses = UnavailableResponses(config, render_page(config))
        log_start_up(config, plan, now)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if self.async_mode:
            return self.__acall__(request)  # type: ignore[return-value]
        verdict = self.judge(request)
        if verdict is Pass.UNTOUCHED:
            return self.get_response(request)  # type: ignore[return-value]
        if verdict is Pass.PRIVATE:
            return keep_private(self.get_response(request))  # type: ignore[arg-type]
        return verdict

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        verdict = self.judge(request)
        if verdict is Pass.UNTOUCHED:
            return await self.get_response(request)  # type: ignore[misc, no-any-return]
        if verdict is Pass.PRIVATE:
            return keep_private(await self.get_response(request))  # type: ignore[misc]
        return verdict

    def judge(self, request: HttpRequest) -> Pass | HttpResponseBase:
        """How the request goes on, or the answer for one maintenance stops."""
        if self.window is not None and not self.window.is_active(schedule.clock()):
            return Pass.UNTOUCHED
        if self.is_exempt is not None and self.is_exempt(request.path_info):
            return Pass.UNTOUCHED
        client = self.client_key(request.META)
        if client is not None and self.is_allowed(client):
            return Pass.PRIVATE
        if self.bypass is not None:
            if self.bypass.has_valid_cookie(request):
                return Pass.PRIVATE
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

    def _remote_addr_key_noting_proxies(self, meta: Mapping[str, Any]) -> int | None:
        """REMOTE_ADDR; the first X-Forwarded-For seen says a proxy was forgotten.

        With nginx on the same host and 127.0.0.1 allowlisted, everyone would be
        let in as the proxy. Said once per process, then this check is gone.
        """
        if "HTTP_X_FORWARDED_FOR" in meta:
            self.client_key = remote_addr_key
            logger.warning(
                "Maintenance: requests carry X-Forwarded-For, so a proxy seems to be "
                "in front of the app, but MAINTENANCE_TRUSTED_PROXIES is not set: "
                "every client is judged by the proxy's address (%s). List the "
                "proxy in MAINTENANCE_TRUSTED_PROXIES.",
                meta.get("REMOTE_ADDR") or "none: a unix socket? use 'unix'",
            )
        return remote_addr_key(meta)


def keep_private(response: HttpResponseBase) -> HttpResponseBase:
    """A page only allowed clients may see must not be replayed by a shared cache."""
    patch_cache_control(response, private=True)
    return response


def log_start_up(
    config: MaintenanceConfig, plan: schedule.Schedule, now: float
) -> None:
    """One line per process: what it believes, for whoever reads the logs."""
    logger.info(
        "Maintenance %s: %d allowed networks, %d trusted proxies, %d exempt paths, "
        "Retry-After %d s%s",
        plan.describe(now),
        len(config.allowed_networks),
        len(config.trusted_proxies.entries()),
        len(config.exempt_paths.prefixes),
        plan.retry_after_seconds(now),
        _window_text(config),
    )


def _window_text(config: MaintenanceConfig) -> str:
    if config.starts_at is None and config.ends_at is None:
        return ""
    starts = "now" if config.starts_at is None else config.starts_at.isoformat()
    ends = "no end set" if config.ends_at is None else config.ends_at.isoformat()
    return f", window {starts} → {ends}"
