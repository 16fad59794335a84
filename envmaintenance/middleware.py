"""MaintenanceMiddleware: the Django adapter of the access decision. Allowed
clients and exempt paths pass, the rest get a 503."""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import MiddlewareNotUsed
from django.utils.cache import patch_cache_control

from envmaintenance import report, state
from envmaintenance.access import PRIVATE, STOPPED, UNTOUCHED, Gate, Verdict
from envmaintenance.conf import get_config
from envmaintenance.inflight import Admitted, InFlight
from envmaintenance.languages import served_languages
from envmaintenance.responses import UnavailableResponses
from envmaintenance.state import State
from envmaintenance.status import status_response
from envmaintenance.switch import Switch, get_switch

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponseBase

__all__ = ["MaintenanceMiddleware"]

logger = logging.getLogger("envmaintenance")

GetResponse = Callable[["HttpRequest"], "HttpResponseBase"]
AsyncGetResponse = Callable[["HttpRequest"], Awaitable["HttpResponseBase"]]


class MaintenanceMiddleware:
    """Sync and async capable; removes itself when maintenance cannot happen."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse | AsyncGetResponse) -> None:
        config = get_config()
        now = state.clock()
        # Config and environment agree, or start-up stops here, on or off.
        self.languages = served_languages(config)
        # Without a switch, the environment is all there is: a process that can
        # never see maintenance drops the middleware. With one, it may come.
        self.switch: Switch | None = get_switch() if config.switch else None
        self.environment = config.environment
        current = self.switch.state if self.switch else self.environment
        self.status_path = config.status_path
        idle = self.switch is None and not current.may_be_active(now)
        if idle and self.status_path is None:
            raise MiddlewareNotUsed("maintenance is off and none is scheduled")
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)
        self.gate = Gate(config)
        self.in_flight: InFlight | None = None
        self.responses = self.answers(current, starting=True)
        if self.switch is not None:
            self.in_flight = self.switch.in_flight
            self.switch.listeners.add(self.prepare)
            self.switch.start()  # the serving process reads in the background
        logger.info("%s", report.start_up(config, current, now))

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if self.async_mode:
            return self.__acall__(request)  # type: ignore[return-value]
        now = state.clock()
        current = self.environment if self.switch is None else self.switch.current(now)
        answer = self.decide(request, current, now)
        if answer is not UNTOUCHED and answer is not PRIVATE:
            return answer  # type: ignore[return-value]
        if self.in_flight is None:
            response = self.get_response(request)
        else:
            admitted = self.in_flight.admit(current)
            try:
                response = self.get_response(request)
            except BaseException:
                admitted.done()
                raise
            if response.streaming:  # type: ignore[union-attr]
                done_when_closed(response, admitted)  # type: ignore[arg-type]
            else:
                admitted.done()
        return keep_private(response) if answer is PRIVATE else response  # type: ignore[arg-type, return-value]

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        now = state.clock()
        current = self.environment if self.switch is None else self.switch.current(now)
        answer = self.decide(request, current, now)
        if answer is not UNTOUCHED and answer is not PRIVATE:
            return answer  # type: ignore[return-value]
        if self.in_flight is None:
            response = await self.get_response(request)  # type: ignore[misc]
        else:
            admitted = self.in_flight.admit(current)
            try:
                response = await self.get_response(request)  # type: ignore[misc]
            except BaseException:
                admitted.done()
                raise
            if response.streaming:
                done_when_closed(response, admitted)
            else:
                admitted.done()
        return keep_private(response) if answer is PRIVATE else response

    def decide(
        self, request: HttpRequest, current: State, now: float
    ) -> Verdict | HttpResponseBase:
        """The one decision path, sync and async alike: the status path, then
        nothing to judge while no maintenance is active, then the gate."""
        if request.path_info == self.status_path:
            return status_response(self.answers(current), now, request)
        # Off, or before a window (State.is_active's first test): one comparison.
        if now < current.quiet_until:
            return UNTOUCHED
        # (An enabled state is active: no call, on the path of every 503.)
        if not current.enabled and not current.is_active(now):
            return UNTOUCHED
        verdict = self.gate.judge(request, current, now)
        if verdict is not STOPPED:
            return verdict
        if not current.has_end:  # on the path of every 503: one attribute
            return self.answers(current).build(request)
        return self.answers(current).build(
            request, current.retry_after(now), overdue=current.is_overdue(now)
        )

    def answers(
        self, current: State, *, starting: bool = False
    ) -> UnavailableResponses:
        """The 503s of a state, rendered once: normally by prepare() before any
        request sees the state; here only where no reader runs."""
        responses = self.responses if not starting else None
        if responses is None or responses.state is not current:
            responses = UnavailableResponses(
                get_config(),
                current,
                self.languages,
                # Pages only for a state that may stop a request: not per test
                # client of a site whose maintenance is off.
                rendered=current.may_be_active(state.clock()),
                # A broken template stops start-up; once serving, it is logged
                # and the built-in page serves.
                strict=starting,
            )
            self.responses = responses
        return responses

    def prepare(self, new: State) -> None:
        """The switch's listener: a new state's answers, rendered in the reader."""
        self.answers(new)


def done_when_closed(response: HttpResponseBase, admitted: Admitted) -> None:
    """A streaming response is served when its last chunk is sent or the client
    goes away: the server closes it then."""
    close = response.close
    once = threading.Lock()

    def closed() -> None:
        try:
            close()
        finally:
            if once.acquire(blocking=False):
                admitted.done()

    response.close = closed  # type: ignore[method-assign]


def keep_private(response: HttpResponseBase) -> HttpResponseBase:
    """A page only allowed clients may see must not be replayed by a shared cache."""
    if "Cache-Control" in response:
        patch_cache_control(response, private=True)  # drops public, keeps the rest
    else:
        response["Cache-Control"] = "private"  # the same result, a third the cost
    return response
