"""MaintenanceMiddleware for WebSockets: the ASGI middleware that a Django
middleware cannot be, since it never sees a socket. It wraps a Channels router:

    application = ProtocolTypeRouter({
        "http": django_asgi_app,
        "websocket": MaintenanceMiddleware(AuthMiddlewareStack(URLRouter(routes))),
    })

A handshake is judged by the same gate as an HTTP request (allowlist, trusted
proxies and X-Forwarded-For from the headers, exempt paths, scopes, the bypass
cookie and staff passes). A blocked handshake during maintenance is refused
before the app sees it: an HTTP 503 with Retry-After where the server speaks the
WebSocket denial response extension (uvicorn), else accepted and closed at once
with 1013, Try Again Later (daphne, which allows only 1000 and 3000-4999: 4013,
ours). An open socket of a client that maintenance comes to block is closed the
same way within an interval; until it closes it counts as in flight, so `--wait`
drains it.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.http import HttpRequest, parse_cookie

from envmaintenance import state as clock_source
from envmaintenance.access import PRIVATE, UNTOUCHED, gate
from envmaintenance.conf import get_config
from envmaintenance.inflight import Admitted, InFlight
from envmaintenance.responses import PROBLEM_TYPE
from envmaintenance.state import State
from envmaintenance.switch import Switch, get_switch

__all__ = ["MaintenanceMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# RFC 6455 §7.4.2, IANA's registry: Try Again Later.
TRY_AGAIN_LATER = 1013
# daphne (autobahn) sends only 1000 and 3000-4999: ours, with the same meaning.
TRY_AGAIN_LATER_DAPHNE = 4013
REASON = "maintenance: try again later"
DENIAL = "websocket.http.response"  # the denial response extension


def socket_request(scope: Scope) -> HttpRequest:
    """The handshake as the gate reads a request: a GET of the socket's path,
    with its headers in META as Django writes them (a header with an
    underscore is dropped, as Django drops it: X_Forwarded_For could otherwise
    pass as X-Forwarded-For behind a proxy that strips only the latter)."""
    request = HttpRequest()
    request.method = "GET"
    request.path = request.path_info = scope.get("path", "/")
    meta = request.META
    meta["QUERY_STRING"] = bytes(scope.get("query_string", b"")).decode("latin-1")
    client, server = scope.get("client"), scope.get("server")
    if client:
        meta["REMOTE_ADDR"] = client[0]
    if server:
        meta["SERVER_NAME"], meta["SERVER_PORT"] = server[0], str(server[1])
    found: dict[str, list[str]] = {}
    for raw_name, raw_value in scope.get("headers", ()):
        name = bytes(raw_name).decode("latin-1").lower()
        if "_" not in name:
            key = "HTTP_" + name.upper().replace("-", "_")
            found.setdefault(key, []).append(bytes(raw_value).decode("latin-1"))
    meta.update({key: ",".join(values) for key, values in found.items()})
    request.COOKIES = parse_cookie(meta.get("HTTP_COOKIE", ""))
    return request


class MaintenanceMiddleware:
    """ASGI middleware: websocket scopes are judged, everything else passes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        config = get_config()
        self.environment = config.environment
        self.switch: Switch | None = get_switch() if config.switch else None
        if self.switch is not None:
            self.switch.start()
        # A process that can never see maintenance only passes sockets on.
        self.idle = self.switch is None and not self.environment.may_be_active(
            clock_source.clock()
        )
        self.poll_seconds = min(1.0, config.switch_interval_seconds / 2)
        self.daphne: bool | None = None  # known once serving: see served_by_daphne

    def current(self) -> State:
        if self.switch is None:
            return self.environment
        return self.switch.current(clock_source.clock())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket" or self.idle:
            await self.app(scope, receive, send)
            return
        request = socket_request(scope)
        current = self.current()
        if self.blocks(request, current):
            await self.refuse(scope, receive, send, current)
            return
        socket = Socket(self, scope, request, current, send)
        # Served here, not in a method of the socket: every frame between the
        # server and the app is crossed again on each message.
        watcher = asyncio.ensure_future(socket.watch())
        try:
            await self.app(scope, receive, socket.send)
        finally:
            watcher.cancel()
            if socket.admitted is not None:
                socket.admitted.done()

    def blocks(self, request: HttpRequest, current: State) -> bool:
        """The gate's decision for this socket now (a link is no way in here:
        a socket cannot follow a redirect)."""
        now = clock_source.clock()
        if now < current.quiet_until or not current.is_active(now):
            return False
        verdict = gate().judge(request, current, now)
        return verdict is not UNTOUCHED and verdict is not PRIVATE

    async def refuse(
        self, scope: Scope, receive: Receive, send: Send, current: State
    ) -> None:
        """Before the app sees it: a 503 where the server can send one, else
        accepted and closed at once with Try Again Later."""
        message = await receive()
        if message["type"] == "websocket.connect":
            await self.turn_away(scope, send, current)

    async def turn_away(self, scope: Scope, send: Send, current: State) -> None:
        """A handshake not yet accepted: a 503 where the server can send one,
        else accepted and closed at once with Try Again Later (a close before
        the accept would be the server's bare 403)."""
        if DENIAL in scope.get("extensions", {}):
            await send_denial(send, current)
            return
        await send({"type": "websocket.accept"})
        await send(
            {"type": "websocket.close", "code": self.close_code, "reason": REASON}
        )

    @property
    def close_code(self) -> int:
        if self.daphne is None:
            self.daphne = served_by_daphne()
        return TRY_AGAIN_LATER_DAPHNE if self.daphne else TRY_AGAIN_LATER


def served_by_daphne() -> bool:
    """Whether daphne serves this process: its reactor runs. Its module alone
    says nothing: "daphne" in INSTALLED_APPS, as Channels asks for its
    runserver, imports it under uvicorn too."""
    if "daphne.server" not in sys.modules:
        return False
    reactor = sys.modules.get("twisted.internet.reactor")
    return bool(getattr(reactor, "running", False))


async def send_denial(send: Send, current: State) -> None:
    now = clock_source.clock()
    body = json.dumps(
        {"type": PROBLEM_TYPE, "status": 503, "title": "Service Unavailable"}
    ).encode()
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(current.retry_after(now)).encode()),
        (b"cache-control", b"no-store"),
    ]
    await send(
        {"type": "websocket.http.response.start", "status": 503, "headers": headers}
    )
    await send({"type": "websocket.http.response.body", "body": body})


async def nothing() -> None:
    """What a send dropped awaits."""


class Socket:
    """One open socket, let in: counted in flight under the state it is let in
    under, its app's messages passed on, and closed with Try Again Later when
    maintenance comes to block it."""

    def __init__(
        self,
        middleware: MaintenanceMiddleware,
        scope: Scope,
        request: HttpRequest,
        current: State,
        send: Send,
    ) -> None:
        self.middleware, self.scope = middleware, scope
        self.request, self.state = request, current
        self._send = send
        self.accepted = self.closed = False
        in_flight = middleware.switch.in_flight if middleware.switch else None
        self.in_flight: InFlight | None = in_flight
        self.admitted: Admitted | None = in_flight.admit(current) if in_flight else None

    def send(self, message: Message) -> Awaitable[None]:
        """The app's messages, passed on; none after this socket was closed for
        maintenance (the app learns it from its websocket.disconnect). Not a
        coroutine: the app awaits the server's own send, no frame between."""
        if self.closed:
            return nothing()
        kind = message["type"]
        if kind == "websocket.accept":
            self.accepted = True
        elif kind == "websocket.close":
            self.closed = True
        return self._send(message)

    async def watch(self) -> None:
        """Every half interval: a new state lets the socket stay (counted under
        it from then on), or closes it."""
        middleware = self.middleware
        active = self.state.is_active(clock_source.clock())
        while not self.closed:
            await asyncio.sleep(middleware.poll_seconds)
            current = middleware.current()
            now_active = current.is_active(clock_source.clock())
            if current is self.state and now_active == active:
                continue  # a window may start or end with the same state
            active = now_active
            if middleware.blocks(self.request, current):
                await self.close(current)
                return
            if current is self.state:
                continue
            self.state = current
            if self.in_flight is not None and self.admitted is not None:
                admitted = self.in_flight.admit(current)
                self.admitted.done()
                self.admitted = admitted

    async def close(self, current: State) -> None:
        """Try Again Later: the socket is open, or its handshake turned away."""
        self.closed = True  # nothing the app sends passes any more
        if self.accepted:
            code = self.middleware.close_code
            await self._send(
                {"type": "websocket.close", "code": code, "reason": REASON}
            )
        else:
            await self.middleware.turn_away(self.scope, self._send, current)
