"""One variant's WebSocket traffic, driven in this process as a server would.

``python -m benchmarks.sockets VARIANT COUNT``, the counterpart of
benchmarks/wsgi.py: for a variant that answers 200, one socket to a Channels
echo consumer, then WARM_UP messages and COUNT more, each echoed; for one that
answers 503, WARM_UP handshakes and COUNT more, each turned away with the
denial response (uvicorn's way). Prints the mean wall-clock seconds per counted
message or handshake.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from typing import Any

from benchmarks.variants import CLIENT, select
from benchmarks.wsgi import WARM_UP, settle

SCOPE = {
    "type": "websocket",
    "path": "/socket/",
    "query_string": b"",
    "headers": [(b"host", b"example.com"), (b"origin", b"https://example.com")],
    "client": (CLIENT, 50000),
    "server": ("127.0.0.1", 8000),
    "subprotocols": [],
    "extensions": {"websocket.http.response": {}},
}


class Connection:
    """The server's side of one socket: what it hands the app, what it got."""

    def __init__(self, app: Any) -> None:
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task = asyncio.ensure_future(
            app(dict(SCOPE), self.inbox.get, self.outbox.put)
        )
        # uvicorn and daphne ping every 20 s: a timer per socket on the loop.
        self.keepalive = asyncio.get_running_loop().call_later(20, lambda: None)
        self.task.add_done_callback(lambda _: self.keepalive.cancel())

    async def exchange(self, message: dict[str, Any]) -> dict[str, Any]:
        await self.inbox.put(message)
        return await self.outbox.get()


async def echoed(app: Any, messages: int) -> None:
    connection = Connection(app)
    answer = await connection.exchange({"type": "websocket.connect"})
    assert answer["type"] == "websocket.accept", answer
    for _ in range(messages):
        answer = await connection.exchange({"type": "websocket.receive", "text": "hi"})
        assert answer.get("text") == "hi", answer
    await connection.inbox.put({"type": "websocket.disconnect", "code": 1000})
    await connection.task


async def refused(app: Any, handshakes: int) -> None:
    for _ in range(handshakes):
        connection = Connection(app)
        start = await connection.exchange({"type": "websocket.connect"})
        assert start.get("status") == 503, start
        await connection.outbox.get()  # the body
        await connection.task


def main() -> None:
    name, count = sys.argv[1], int(sys.argv[2])
    variant = select(name)
    import django

    django.setup()
    from channels.generic.websocket import AsyncWebsocketConsumer

    from envmaintenance.asgi import MaintenanceMiddleware

    class Echo(AsyncWebsocketConsumer):  # type: ignore[misc]  # Channels: untyped
        async def receive(self, text_data: Any = None, bytes_data: Any = None) -> None:
            await self.send(text_data=text_data)

    app = Echo.as_asgi()
    if variant.middleware:  # one of ours: its ASGI middleware around the consumer
        app = MaintenanceMiddleware(app)
    drive = echoed if variant.expected_status == 200 else refused
    settle()  # a switch's first read, whole, before anything is counted
    asyncio.run(drive(app, WARM_UP))
    gc.collect()  # as benchmarks/wsgi.py does
    started = time.perf_counter()
    asyncio.run(drive(app, count))
    print((time.perf_counter() - started) / max(count, 1))


if __name__ == "__main__":
    main()
