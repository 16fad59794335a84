"""MaintenanceMiddleware: allowed clients and exempt paths pass, the rest get a 503."""

from __future__ import annotations

import asyncio
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
from envmaintenance.conf import Config, get_config
from envmaintenance.languages import (
    routed_language_codes,
    served_languages,
)
from envmaintenance.network import format_key
from envmaintenance.responses import UnavailableResponses, status_response
from envmaintenance.schedule import State
from envmaintenance.switch import Switch, get_switch

if TYPE_CHECKING:
    from collections.abc import Mapping

    from django.http import HttpRequest, HttpResponseBase

__all__ = ["MaintenanceMiddleware"]

logger = logging.getLogger("envmaintenance")

GetResponse = Callable[["HttpRequest"], "HttpResponseBase"]
AsyncGetResponse = Callable[["HttpRequest"], Awaitable["HttpResponseBase"]]


class Pass(enum.Enum):
    """How a request that is not stopped goes on."""

    UNTOUCHED = enum.auto()  # no maintenance now, or an exempt path
    PRIVATE = enum.auto()  # let in during maintenance: no shared cache may keep it


# Module globals: per request, a global lookup costs a sixth of an enum attribute.
UNTOUCHED, PRIVATE = Pass.UNTOUCHED, Pass.PRIVATE
# Read-only maintenance stops writes; these methods only read (RFC 9110 §9.2.1).
READS = frozenset({"GET", "HEAD", "OPTIONS"})


class MaintenanceMiddleware:
    """Sync and async capable; removes itself when maintenance cannot happen."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse | AsyncGetResponse) -> None:
        config = get_config()
        # Config and environment agree, or start-up stops here, on or off.
        self.languages = served_languages(config)
        now = schedule.clock()
        # Without a switch, the environment is all there is: a process that can
        # never see maintenance drops the middleware. With one, it may come.
        self.switch: Switch | None = get_switch() if config.switch else None
        if self.switch is not None:
            self.switch.start()  # the serving process reads in the background
        state = self.switch.state if self.switch else config.environment
        # Nothing can become active: only a status path keeps the middleware.
        self.idle = self.switch is None and not state.may_be_active(now)
        if self.idle and config.status_path is None:
            raise MiddlewareNotUsed("maintenance is off and none is scheduled")
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)
        # What a request needs, decided here: each step is a bound callable, or
        # None when it does not apply (benchmarks/ measures why it matters).
        self.responses = self.answers_for(state, starting=True)
        self.retry_after_default = config.retry_after_seconds
        self.status_path = config.status_path
        self.in_scope = (
            config.paths.with_languages(routed_language_codes()).covers
            if config.paths
            else None
        )
        self.is_exempt = config.exempt_paths.matches if config.exempt_paths else None
        self.client_key: Callable[[Mapping[str, Any]], int | None] = (
            ProxiedClient(config.trusted_proxies)
            if config.trusted_proxies
            else remote_addr_key
        )
        # Until the first X-Forwarded-For arrives with no proxy declared.
        self.watching_for_proxies = not config.trusted_proxies
        self.is_allowed = config.allowed_networks.contains_key
        self.bypass = (
            Bypass(config.bypass_token, config.bypass_max_age_seconds)
            if config.bypass_token
            else None
        )
        log_start_up(config, state, now, self.switch)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if self.async_mode:
            return self.__acall__(request)  # type: ignore[return-value]
        if self.idle:  # one comparison: the status path, or the site untouched
            if request.path_info == self.status_path:
                return status_response(self.responses, schedule.clock(), request)
            return self.get_response(request)  # type: ignore[return-value]
        responses = self.responses
        if self.switch is None:
            verdict = self.judge(request, responses)
            if verdict is UNTOUCHED:
                return self.get_response(request)  # type: ignore[return-value]
            if verdict is PRIVATE:
                return keep_private(self.get_response(request))  # type: ignore[arg-type]
            return verdict  # type: ignore[return-value]
        now = schedule.clock()
        state = self.switch.current(now)
        if state is not responses.state:
            responses = self.follow(state)
        # Off, or before a window (State.is_active's first test): nothing to
        # judge but the status path.
        quiet = now < state.quiet_until and request.path_info != self.status_path
        verdict = UNTOUCHED if quiet else self.judge(request, responses)
        if verdict is not UNTOUCHED and verdict is not PRIVATE:
            return verdict  # type: ignore[return-value]
        # Let through under this state: in flight until answered, so that a
        # switch can wait for it to drain (manage.py maintenance on --wait).
        in_flight = self.switch.in_flight
        admitted = in_flight.admit(responses.state)
        try:
            response = self.get_response(request)
        finally:
            in_flight.done(admitted)
        return keep_private(response) if verdict is PRIVATE else response  # type: ignore[arg-type, return-value]

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        responses = self.responses
        if self.switch is None:
            verdict = self.judge(request, responses)
            if verdict is UNTOUCHED:
                return await self.get_response(request)  # type: ignore[misc, no-any-return]
            if verdict is PRIVATE:
                return keep_private(await self.get_response(request))  # type: ignore[misc]
            return verdict  # type: ignore[return-value]
        now = schedule.clock()
        state = self.switch.current(now)
        if state is not responses.state:
            # Rendering every language takes tens of milliseconds: not on the
            # event loop.
            responses = await asyncio.to_thread(self.follow, state)
        quiet = now < state.quiet_until and request.path_info != self.status_path
        verdict = UNTOUCHED if quiet else self.judge(request, responses)
        if verdict is not UNTOUCHED and verdict is not PRIVATE:
            return verdict  # type: ignore[return-value]
        in_flight = self.switch.in_flight
        admitted = in_flight.admit(responses.state)
        try:
            response = await self.get_response(request)  # type: ignore[misc]
        finally:
            in_flight.done(admitted)
        return keep_private(response) if verdict is PRIVATE else response

    def answers_for(
        self, state: State, *, starting: bool = False
    ) -> UnavailableResponses:
        """The 503s of a state, rendered once. Pages only for a state that may
        stop a request: not per test client of a site whose maintenance is off.
        A broken template stops start-up; once serving, it is logged and the
        built-in page serves."""
        return UnavailableResponses(
            get_config(),
            state,
            self.languages,
            rendered=state.may_be_active(schedule.clock()),
            strict=starting,
        )

    def follow(self, state: State) -> UnavailableResponses:
        """The answers for a new state of the switch; rendered once per change."""
        responses = self.responses
        if responses.state is not state:
            responses = self.responses = self.answers_for(state)
        return responses

    def judge(
        self, request: HttpRequest, responses: UnavailableResponses
    ) -> Pass | HttpResponseBase:
        """How the request goes on, or the answer for one maintenance stops."""
        path = request.path_info
        if path == self.status_path:
            return status_response(responses, schedule.clock(), request)
        state = responses.state
        # (An enabled state is active: no call, on the path of every 503.)
        if not state.enabled and not state.is_active(schedule.clock()):
            return UNTOUCHED
        if self.in_scope is not None and not self.in_scope(path):
            return UNTOUCHED
        if self.is_exempt is not None and self.is_exempt(path):
            return UNTOUCHED
        if state.read_only and request.method in READS:
            if self.bypass is None:
                return UNTOUCHED
            return self.read_during_read_only(request)
        meta = request.META
        if self.watching_for_proxies and "HTTP_X_FORWARDED_FOR" in meta:
            self.report_undeclared_proxy(meta)
        client = self.client_key(meta)
        if client is not None and self.is_allowed(client):
            return PRIVATE
        if self.bypass is not None:
            if self.bypass.has_valid_cookie(request):
                return PRIVATE
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
            state.retry_after_seconds(schedule.clock(), self.retry_after_default)
            if state.has_end
            else None
        )
        return responses.build(request, retry_after)

    def read_during_read_only(self, request: HttpRequest) -> Pass | HttpResponseBase:
        """Reads pass for everyone; a bypass link still trades for its cookie, so
        its holder can write too."""
        assert self.bypass is not None
        redirect = self.bypass.redirect_with_cookie(request)
        return UNTOUCHED if redirect is None else redirect

    def report_undeclared_proxy(self, meta: Mapping[str, Any]) -> None:
        """The first X-Forwarded-For with no trusted proxy says one was forgotten.

        With nginx on the same host and 127.0.0.1 allowlisted, everyone would be
        let in as the proxy. Said once per process, then no longer looked for.
        """
        self.watching_for_proxies = False
        logger.warning(
            "Maintenance: requests carry X-Forwarded-For, so a proxy seems to be "
            "in front of the app, but MAINTENANCE_TRUSTED_PROXIES is not set: "
            "every client is judged by the proxy's address (%s). List the "
            "proxy in MAINTENANCE_TRUSTED_PROXIES.",
            meta.get("REMOTE_ADDR") or "none: a unix socket? use 'unix'",
        )


def keep_private(response: HttpResponseBase) -> HttpResponseBase:
    """A page only allowed clients may see must not be replayed by a shared cache."""
    if "Cache-Control" in response:
        patch_cache_control(response, private=True)  # drops public, keeps the rest
    else:
        response["Cache-Control"] = "private"  # the same result, a third the cost
    return response


def log_start_up(
    config: Config, state: State, now: float, switch: Switch | None
) -> None:
    """One line per process: what it believes, for whoever reads the logs."""
    following = (
        ""
        if switch is None
        else f"; following the switch at {switch.display} every {switch.interval} s"
        f" (in force: the {state.source})"
    )
    window = state.window()
    retry_after = config.retry_after_seconds
    if state.is_active(now):
        retry_after = state.retry_after_seconds(now, retry_after)
    logger.info(
        "Maintenance %s: %d allowed networks, %d trusted proxies, %d exempt paths, "
        "Retry-After %d s%s%s",
        state.describe(now),
        len(config.allowed_networks),
        len(config.trusted_proxies.entries()),
        len(config.exempt_paths.prefixes),
        retry_after,
        f", window {window}" if window else "",
        following,
    )
