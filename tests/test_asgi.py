"""WebSockets follow maintenance: the ASGI middleware, driven by a scripted
server in this process (the real daphne and uvicorn are in
tests/e2e/test_sockets.py)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from envmaintenance import asgi
from envmaintenance.asgi import MaintenanceMiddleware, socket_request
from envmaintenance.passes import issue
from envmaintenance.switch import get_switch
from tests.conftest import SetEnv

Message = dict[str, Any]


class Echo:
    """A consumer: accepts, echoes text, and remembers how it ended."""

    def __init__(self) -> None:
        self.connected = asyncio.Event()
        self.ended: Message | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        self.connected.set()
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                self.ended = message
                return
            await send({"type": "websocket.send", "text": message.get("text", "")})


class Server:
    """One socket as a server drives it: what the client sends in, what the
    app sends out."""

    def __init__(self, scope: dict[str, Any]) -> None:
        self.scope = scope
        self.incoming: asyncio.Queue[Message] = asyncio.Queue()
        self.sent: list[Message] = []
        self.closed = asyncio.Event()

    async def receive(self) -> Message:
        return await self.incoming.get()

    async def send(self, message: Message) -> None:
        self.sent.append(message)
        if message["type"] in ("websocket.close", "websocket.http.response.body"):
            self.closed.set()
            await self.incoming.put(
                {"type": "websocket.disconnect", "code": message.get("code", 1006)}
            )


def scope(
    path: str = "/ws/chat/",
    client: str = "198.51.100.7",
    headers: list[tuple[bytes, bytes]] | None = None,
    extensions: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "type": "websocket",
        "path": path,
        "query_string": b"",
        "headers": headers or [(b"host", b"testserver")],
        "client": (client, 51000),
        "server": ("127.0.0.1", 8000),
        "extensions": extensions or {},
    }


async def connect(app: Any, server: Server) -> asyncio.Task[None]:
    await server.incoming.put({"type": "websocket.connect"})
    return asyncio.ensure_future(app(server.scope, server.receive, server.send))


async def handshake(app: Any, **options: Any) -> tuple[Server, Echo | None]:
    server = Server(scope(**options))
    task = await connect(app, server)
    await asyncio.wait_for(
        asyncio.wait(
            [asyncio.ensure_future(server.closed.wait()), task],
            return_when=asyncio.FIRST_COMPLETED,
        ),
        10,
    )
    await asyncio.sleep(0)
    return server, None


def kinds(server: Server) -> list[str]:
    return [message["type"] for message in server.sent]


async def test_with_maintenance_off_a_socket_is_the_app_s(
    maintenance_env: SetEnv,
) -> None:
    maintenance_env(status_path="/status")  # the middleware stays, maintenance off
    echo = Echo()
    app = MaintenanceMiddleware(echo)
    server = Server(scope())
    task = await connect(app, server)
    await asyncio.wait_for(echo.connected.wait(), 5)
    await server.incoming.put({"type": "websocket.receive", "text": "hi"})
    await server.incoming.put({"type": "websocket.disconnect", "code": 1000})
    await asyncio.wait_for(task, 5)
    assert kinds(server) == ["websocket.accept", "websocket.send"]
    assert server.sent[1]["text"] == "hi"


async def test_other_scopes_pass_untouched(maintenance_env: SetEnv) -> None:
    maintenance_env(mode="1")
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    middleware = MaintenanceMiddleware(app)
    await middleware({"type": "http"}, None, None)  # type: ignore[arg-type]
    await middleware({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert seen == ["http", "lifespan"]


async def test_a_blocked_handshake_gets_a_503_where_the_server_can_send_one(
    maintenance_env: SetEnv,
) -> None:
    maintenance_env(mode="1", retry_after="120", allowed_ips="192.0.2.1")
    echo = Echo()
    server, _ = await handshake(
        MaintenanceMiddleware(echo), extensions={"websocket.http.response": {}}
    )
    assert kinds(server) == [
        "websocket.http.response.start",
        "websocket.http.response.body",
    ]
    start = server.sent[0]
    assert start["status"] == 503
    assert (b"retry-after", b"120") in start["headers"]
    assert not echo.connected.is_set()  # the app never saw it


async def test_elsewhere_it_is_accepted_and_closed_with_try_again_later(
    maintenance_env: SetEnv,
) -> None:
    maintenance_env(mode="1", allowed_ips="192.0.2.1")
    echo = Echo()
    server, _ = await handshake(MaintenanceMiddleware(echo))
    assert kinds(server) == ["websocket.accept", "websocket.close"]
    assert server.sent[1]["code"] == 1013
    assert server.sent[1]["reason"] == "maintenance: try again later"
    assert not echo.connected.is_set()


async def test_under_daphne_the_code_is_ours(
    maintenance_env: SetEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    maintenance_env(mode="1", allowed_ips="192.0.2.1")
    middleware = MaintenanceMiddleware(Echo())
    monkeypatch.setattr(middleware, "daphne", True)
    server, _ = await handshake(middleware)
    assert server.sent[1]["code"] == asgi.TRY_AGAIN_LATER_DAPHNE == 4013


@pytest.mark.parametrize(
    ("options", "let_in"),
    [
        ({"client": "192.0.2.1"}, True),  # allowlisted
        ({"client": "198.51.100.7"}, False),
        ({"path": "/ws/health/"}, True),  # exempt
        (
            {
                "path": "/ws/chat/",
                "client": "10.0.0.1",
                "headers": [(b"x-forwarded-for", b"192.0.2.1")],
            },
            True,
        ),
        (
            {"client": "10.0.0.1", "headers": [(b"x_forwarded_for", b"192.0.2.1")]},
            False,
        ),
        (
            {"client": "198.51.100.7", "headers": [(b"x-forwarded-for", b"192.0.2.1")]},
            False,
        ),
    ],
)
async def test_the_same_gate_as_http(
    maintenance_env: SetEnv, options: dict[str, Any], let_in: bool
) -> None:
    maintenance_env(
        mode="1",
        allowed_ips="192.0.2.1",
        trusted_proxies="10.0.0.0/8",
        exempt_paths="/ws/health",
    )
    echo = Echo()
    server = Server(scope(**options))
    task = await connect(MaintenanceMiddleware(echo), server)
    if let_in:
        await asyncio.wait_for(echo.connected.wait(), 5)
        await server.incoming.put({"type": "websocket.disconnect", "code": 1000})
    await asyncio.wait_for(task, 5)
    assert echo.connected.is_set() is let_in


async def test_scopes_apply_to_sockets(maintenance_env: SetEnv, settings: Any) -> None:
    settings.ALLOWED_HOSTS = [".example.com"]
    maintenance_env(mode="1", paths="/ws/checkout", hosts="shop.example.com")
    for path, host, let_in in (
        ("/ws/checkout/", b"shop.example.com", False),
        ("/ws/chat/", b"shop.example.com", True),
        ("/ws/checkout/", b"api.example.com:8443", True),
    ):
        echo = Echo()
        server = Server(scope(path=path, headers=[(b"host", host)]))
        task = await connect(MaintenanceMiddleware(echo), server)
        if let_in:
            await asyncio.wait_for(echo.connected.wait(), 5)
            await server.incoming.put({"type": "websocket.disconnect", "code": 1000})
        await asyncio.wait_for(task, 5)
        assert echo.connected.is_set() is let_in, (path, host)


async def test_a_staff_pass_cookie_lets_a_socket_in(maintenance_env: SetEnv) -> None:
    maintenance_env(mode="1", allowed_ips="192.0.2.1")
    _granted, token = issue("alice", 3600, time.time())
    echo = Echo()
    headers = [
        (b"host", b"testserver"),
        (b"cookie", f"maintenance_pass={token}".encode()),
    ]
    server = Server(scope(headers=headers))
    task = await connect(MaintenanceMiddleware(echo), server)
    await asyncio.wait_for(echo.connected.wait(), 5)
    await server.incoming.put({"type": "websocket.disconnect", "code": 1000})
    await asyncio.wait_for(task, 5)


def test_the_handshake_reads_as_a_request(settings: Any) -> None:
    settings.ALLOWED_HOSTS = [".example.com"]
    request = socket_request(
        scope(
            path="/ws/x/",
            headers=[
                (b"host", b"shop.example.com"),
                (b"x-forwarded-for", b"1.2.3.4"),
                (b"x-forwarded-for", b"5.6.7.8"),
                (b"x_forwarded_for", b"9.9.9.9"),
                (b"cookie", b"a=1; b=2"),
            ],
        )
    )
    assert request.method == "GET"
    assert request.path_info == "/ws/x/"
    assert request.META["REMOTE_ADDR"] == "198.51.100.7"
    assert request.META["HTTP_X_FORWARDED_FOR"] == "1.2.3.4,5.6.7.8"
    assert request.COOKIES == {"a": "1", "b": "2"}
    assert request.get_host() == "shop.example.com"


@pytest.fixture
def switch_path(tmp_path: Path, maintenance_env: SetEnv, no_reader: None) -> Path:
    path = tmp_path / "switch"
    maintenance_env(
        switch_url=f"file://{path}", switch_interval="1", allowed_ips="192.0.2.1"
    )
    return path


async def test_an_open_socket_is_closed_when_maintenance_comes_and_counted_until(
    switch_path: Path,
) -> None:
    echo = Echo()
    app = MaintenanceMiddleware(echo)
    switch = get_switch()
    server = Server(scope())
    task = await connect(app, server)
    await asyncio.wait_for(echo.connected.wait(), 5)
    off = switch.state
    switch_path.write_text("REVISION=1\nMAINTENANCE_MODE=1\n")
    await asyncio.to_thread(switch.refresh, time.time())
    assert switch.in_flight.before(switch.state) == 1  # open, let in under "off"
    assert off is not switch.state
    await asyncio.wait_for(task, 5)  # closed within an interval
    assert server.sent[-1] == {
        "type": "websocket.close",
        "code": 1013,
        "reason": "maintenance: try again later",
    }
    assert echo.ended is not None
    assert switch.in_flight.before(switch.state) == 0  # drained


async def test_an_allowed_socket_stays_open_and_counts_under_the_new_state(
    switch_path: Path,
) -> None:
    echo = Echo()
    app = MaintenanceMiddleware(echo)
    switch = get_switch()
    server = Server(scope(client="192.0.2.1"))
    task = await connect(app, server)
    await asyncio.wait_for(echo.connected.wait(), 5)
    switch_path.write_text("REVISION=1\nMAINTENANCE_MODE=1\n")
    await asyncio.to_thread(switch.refresh, time.time())
    deadline = time.monotonic() + 5
    while switch.in_flight.before(switch.state):  # re-counted at the next look
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert not task.done()
    await server.incoming.put({"type": "websocket.disconnect", "code": 1000})
    await asyncio.wait_for(task, 5)
    assert "websocket.close" not in kinds(server)


class SlowToAccept(Echo):
    """A consumer that takes its time before it accepts (it reads the database,
    say): maintenance may start in between."""

    def __init__(self) -> None:
        super().__init__()
        self.may_accept = asyncio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await self.may_accept.wait()
        await send({"type": "websocket.accept"})
        self.connected.set()
        while (await receive())["type"] != "websocket.disconnect":
            pass


@pytest.mark.parametrize("denial", [True, False])
async def test_maintenance_that_starts_before_the_accept_still_answers_as_ours(
    switch_path: Path, denial: bool
) -> None:
    consumer = SlowToAccept()
    app = MaintenanceMiddleware(consumer)
    switch = get_switch()
    extensions: dict[str, Any] = {"websocket.http.response": {}} if denial else {}
    server = Server(scope(extensions=extensions))
    task = await connect(app, server)
    switch_path.write_text("REVISION=1\nMAINTENANCE_MODE=1\n")
    await asyncio.to_thread(switch.refresh, time.time())
    await asyncio.wait_for(server.closed.wait(), 5)
    consumer.may_accept.set()  # too late: nothing it sends passes
    await asyncio.wait_for(task, 5)
    if denial:
        assert kinds(server) == [
            "websocket.http.response.start",
            "websocket.http.response.body",
        ]
        assert server.sent[0]["status"] == 503
    else:
        assert kinds(server) == ["websocket.accept", "websocket.close"]
        assert server.sent[1]["code"] == 1013
