"""WebSockets follow maintenance through real servers: Django Channels under
daphne and under uvicorn (sample/asgi_sockets.py, an echo consumer behind
envmaintenance.asgi.MaintenanceMiddleware), a Redis switch read every second,
and a real client (websockets) from loopback addresses, 127.0.0.9 blocked and
127.0.0.1 allowlisted. The drain time of an open socket under each server is
printed as a FIGURE line (pytest -s)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Iterator

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from envmaintenance.asgi import REASON, TRY_AGAIN_LATER, TRY_AGAIN_LATER_DAPHNE
from tests.e2e.conftest import (
    BIN,
    RedisServer,
    Server,
    launch,
    launch_on_a_free_port,
)
from tests.e2e.switching import (
    BLOCKED,
    DEADLINE_SECONDS,
    INTERVAL,
    Background,
    maintenance,
    wait_for_workers,
)
from tests.processes import ROOT, sample_project_environment

ALLOWED = "127.0.0.1"
# .env.example's MAINTENANCE_RETRY_AFTER, which the servers and the command read.
RETRY_AFTER = "600"
# Opening, echoing or closing one socket: a hang guard, not a measure.
SOCKET_SECONDS = 10
APPLICATION = "sample.asgi_sockets:application"


def daphne_command(port: int) -> tuple[list[str], dict[str, str]]:
    # daphne has no --app-dir: the project goes on the path.
    command = [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), APPLICATION]
    return command, {"PYTHONPATH": str(ROOT / "sample_project")}


def uvicorn_command(port: int) -> tuple[list[str], dict[str, str]]:
    listen = ["--host", "127.0.0.1", "--port", str(port)]
    command = [str(BIN / "uvicorn"), APPLICATION, "--app-dir", "sample_project"]
    return [*command, *listen], {"WEB_CONCURRENCY": "1"}  # one process


COMMANDS = {"daphne": daphne_command, "uvicorn": uvicorn_command}
# What closes a socket that maintenance blocks: daphne (autobahn) sends no 1013.
CLOSE_CODES = {"daphne": TRY_AGAIN_LATER_DAPHNE, "uvicorn": TRY_AGAIN_LATER}


class Site:
    """One server of the echo site, following its own switch (a database of
    the module's Redis)."""

    def __init__(self, kind: str, server: Server, switch_url: str) -> None:
        self.kind, self.server, self.switch_url = kind, server, switch_url

    def switch(self, action: str) -> None:
        """`maintenance on|off --wait`: the server follows once it returns."""
        maintenance(action, "--wait", "20", switch_url=self.switch_url)

    def open(self, source: str) -> connect:
        """A socket to /ws/echo/ from ``source`` (127.0.0.x are distinct clients)."""
        assert isinstance(self.server.port, int)
        # Connected here, from the chosen address (no proxy either way).
        tcp = socket.create_connection(
            ("127.0.0.1", self.server.port),
            timeout=SOCKET_SECONDS,
            source_address=(source, 0),
        )
        return connect(
            f"ws://127.0.0.1:{self.server.port}/ws/echo/",
            sock=tcp,
            open_timeout=SOCKET_SECONDS,
            close_timeout=SOCKET_SECONDS,
        )


@pytest.fixture(scope="module")
def start_site(
    module_redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], Site]]:
    """start_site("daphne" | "uvicorn"): the module's server of that kind, started
    on first use; all stopped when the module's last test ends."""
    directory = tmp_path_factory.mktemp("sockets")
    sites: dict[str, Site] = {}
    servers: list[Server] = []

    def start(kind: str) -> Site:
        if kind in sites:
            return sites[kind]
        database = sorted(COMMANDS).index(kind) + 1
        url = f"redis://127.0.0.1:{module_redis_server.port}/{database}"

        def on(port: int) -> Server:
            command, extra = COMMANDS[kind](port)
            environment = {
                **sample_project_environment(
                    allowed_ips=ALLOWED,
                    switch_url=url,
                    switch_interval=str(INTERVAL),
                ),
                "TMPDIR": str(directory),  # the switch's cache
                **extra,
            }
            log = directory / f"{kind}-{port}.log"
            server = launch(command, port, log, environment)
            servers.append(server)
            return server

        server = launch_on_a_free_port(on)
        wait_for_workers(server, 1)
        sites[kind] = Site(kind, server, url)
        return sites[kind]

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


async def echoes(connection: ClientConnection) -> None:
    """The consumer has the socket: what is sent comes back."""
    await connection.send("hello")
    assert await asyncio.wait_for(connection.recv(), SOCKET_SECONDS) == "hello"


async def closed_by_server(connection: ClientConnection) -> tuple[int, str]:
    """The code and reason of the close frame the server sends, waited for
    with a hang guard."""
    with pytest.raises(ConnectionClosed) as ended:
        await asyncio.wait_for(connection.recv(), DEADLINE_SECONDS)
    close = ended.value.rcvd
    assert close is not None, ended.value  # a close frame, not a dropped connection
    return close.code, close.reason


@pytest.mark.parametrize("kind", sorted(COMMANDS))
@pytest.mark.parametrize(
    ("action", "client"),
    [("off", BLOCKED), ("on", ALLOWED)],
    ids=["maintenance off", "allowlisted during maintenance"],
)
async def test_a_handshake_is_accepted_when_off_or_from_an_allowlisted_client(
    start_site: Callable[[str], Site], kind: str, action: str, client: str
) -> None:
    site = start_site(kind)
    site.switch(action)
    async with site.open(client) as connection:
        await echoes(connection)


async def test_uvicorn_refuses_a_blocked_handshake_with_a_503_and_retry_after(
    start_site: Callable[[str], Site],
) -> None:
    site = start_site("uvicorn")
    site.switch("on")
    with pytest.raises(InvalidStatus) as refused:
        async with site.open(BLOCKED):
            pass
    response = refused.value.response
    assert response.status_code == 503
    assert response.headers["Retry-After"] == RETRY_AFTER
    assert response.headers["Content-Type"] == "application/problem+json"


async def test_daphne_accepts_a_blocked_handshake_and_closes_it_with_4013(
    start_site: Callable[[str], Site],
) -> None:
    site = start_site("daphne")
    site.switch("on")
    async with site.open(BLOCKED) as connection:
        code, _ = await closed_by_server(connection)
    assert code == TRY_AGAIN_LATER_DAPHNE == 4013


@pytest.mark.parametrize("kind", sorted(COMMANDS))
async def test_an_open_socket_is_closed_by_on_and_on_wait_returns_once_it_is(
    start_site: Callable[[str], Site], kind: str
) -> None:
    site = start_site(kind)
    site.switch("off")
    async with site.open(BLOCKED) as connection:
        await echoes(connection)
        wait = Background("on", "--wait", "30", url=site.switch_url)
        try:
            code, reason = await closed_by_server(connection)
            closed_at = time.monotonic()
        finally:
            result = await asyncio.to_thread(wait.finish, DEADLINE_SECONDS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert code == CLOSE_CODES[kind]
    if kind == "uvicorn":  # daphne sends no reason
        assert reason == REASON
    # The wait saw the socket in flight under the new revision, and confirmed
    # only once it was not: this line is the wait's own account.
    confirmed = result.stdout.splitlines()[-1]
    assert "after 1 request from before it finished" in confirmed, result.stdout
    print(
        f"FIGURE socket drain under {kind}: closed with {code} "
        f"{closed_at - wait.written_at:.2f} s after the write; the wait: "
        f"{confirmed.rpartition('; ')[2]}"
    )
