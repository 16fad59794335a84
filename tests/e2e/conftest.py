"""Real servers on 127.0.0.1: gunicorn and uvicorn as the container runs them, nginx
in front.

Every server gets a free port, is waited for with a deadline and always stopped.
A missing system program fails its tests, naming it: `scripts/system-packages
test` (the first step of `make test`) installs them, or says how. Never a skip,
which would count as a pass.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.browser import Browser
from tests.processes import ROOT, sample_project_environment

if TYPE_CHECKING:
    from tests.e2e.redis_topologies import Cluster, SentinelGroup
    from tests.e2e.switching import Load

BIN = Path(sys.executable).parent
STARTUP_SECONDS = 60  # a hang guard: a loaded machine starts servers slowly
# A free port can be taken by another process before the server binds it:
# each server start is retried on a new port when that is why it failed.
START_ATTEMPTS = 3
_PORT_TAKEN = re.compile(r"in use", re.IGNORECASE)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.e2e)


def require(program: str, package: str) -> str:
    """Path of a system program, or a failure saying how to get it."""
    path = shutil.which(program) or shutil.which(program, path="/usr/sbin:/usr/bin")
    if path:
        return path
    pytest.fail(
        f"{program} is not installed (Debian package {package}): run "
        "scripts/system-packages test, or make test, which runs it first",
        pytrace=False,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a unix socket, as nginx talks to gunicorn or uvicorn."""

    def __init__(self, path: Path) -> None:
        super().__init__("localhost", timeout=10)
        self.socket_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(str(self.socket_path))


def request(
    port: int | Path,
    path: str = "/",
    *,
    source: str = "127.0.0.1",
    headers: dict[str, str] | None = None,
    method: str = "GET",
) -> Response:
    """One request from a chosen loopback address (127.0.0.x are distinct clients),
    or over a unix socket when ``port`` is its path. The path is sent as given,
    like curl --path-as-is."""
    connection = (
        UnixHTTPConnection(port)
        if isinstance(port, Path)
        else http.client.HTTPConnection(
            "127.0.0.1", port, timeout=10, source_address=(source, 0)
        )
    )
    try:
        connection.request(method, path, headers=headers or {})
        answer = connection.getresponse()
        return Response(
            answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
        )
    finally:
        connection.close()


@dataclass
class Server:
    port: int | Path  # a TCP port on 127.0.0.1, or a unix socket's path
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def wait_until_ready(
    server: Server, path: str = "/healthz", *, any_answer: bool = False
) -> None:
    """Until ``path`` answers below 500 (or at all, for a proxy whose upstream
    may be down on purpose)."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited at start-up:\n{server.log_text()}")
        try:
            status = request(server.port, path).status
            if any_answer or status < 500:
                return
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"server not ready in {STARTUP_SECONDS}s:\n{server.log_text()}")


def launch(
    command: list[str],
    port: int | Path,
    log: Path,
    env: dict[str, str] | None = None,
    *,
    any_answer: bool = False,
) -> Server:
    """Start a server that will listen on ``port``; return once it answers."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    server = Server(port, process, log)
    wait_until_ready(server, any_answer=any_answer)
    return server


def launch_on_a_free_port(start: Callable[[int], Server]) -> Server:
    """``start(port)`` on a free port, again on another if it was taken meanwhile."""
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            return start(free_port())
        except RuntimeError as exc:
            if attempt == START_ATTEMPTS or not _PORT_TAKEN.search(str(exc)):
                raise
    raise AssertionError("unreachable")


def gunicorn_command(address: int | Path) -> tuple[list[str], dict[str, str]]:
    """The Dockerfile's CMD, bound to a free loopback port or a unix socket."""
    bind = f"unix:{address}" if isinstance(address, Path) else f"127.0.0.1:{address}"
    return (
        [str(BIN / "gunicorn"), "--config", "sample_project/gunicorn.conf.py"],
        {"GUNICORN_BIND": bind},
    )


def uvicorn_command(address: int | Path) -> tuple[list[str], dict[str, str]]:
    listen = (
        ["--uds", str(address)]
        if isinstance(address, Path)
        else ["--host", "127.0.0.1", "--port", str(address)]
    )
    application = ["sample.asgi:application", "--app-dir", "sample_project"]
    return [str(BIN / "uvicorn"), *application, *listen], {}


Start = Callable[..., Server]
NginxStart = Callable[..., Server]


def app_starter(directory: Path, servers: list[Server]) -> Start:
    """start("gunicorn" | "uvicorn", mode="1", ...) -> a running Server.

    ``unix_socket=True`` serves on a unix socket in the directory instead of a
    port; ``workers`` is the number of worker processes; ``environment`` adds
    other variables (MAINTENANCE_* ones are keywords without the prefix).
    """
    commands = {"gunicorn": gunicorn_command, "uvicorn": uvicorn_command}

    def start(
        kind: str,
        *,
        unix_socket: bool = False,
        workers: int = 2,
        environment: dict[str, str] | None = None,
        **maintenance: str,
    ) -> Server:
        def on(address: int | Path) -> Server:
            command, extra = commands[kind](address)
            environ = {
                **sample_project_environment(**maintenance),
                "WEB_CONCURRENCY": str(workers),  # gunicorn.conf.py and uvicorn
                # The switch's cache: this directory's own, shared by its workers.
                "TMPDIR": str(directory),
                **(environment or {}),
                **extra,
            }
            name = address.name if isinstance(address, Path) else address
            server = launch(command, address, directory / f"{kind}-{name}.log", environ)
            servers.append(server)
            return server

        if unix_socket:
            return on(directory / f"{kind}-{len(servers)}.sock")
        return launch_on_a_free_port(on)

    return start


def nginx_starter(directory: Path, servers: list[Server]) -> NginxStart:
    """start(port or socket path, http="...", server="...", location="..."):
    nginx with deploy/nginx.conf.template, proxying to a local upstream, with
    directives added to the http block, the server block and the template's
    location block; read_timeout="1s" replaces the template's proxy_read_timeout.
    """
    nginx = require("nginx", "nginx-light")

    def start(
        upstream: int | Path,
        *,
        http: str = "",
        server: str = "",
        location: str = "",
        read_timeout: str | None = None,
    ) -> Server:
        def on(port: int) -> Server:
            prefix = directory / f"nginx-{port}"
            prefix.mkdir()
            write_nginx_config(
                prefix, port, upstream, http, server + "\n", location, read_timeout
            )
            command = [nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf")]
            # Up when it answers at all: its upstream may be down on purpose.
            started = launch(command, port, prefix / "stdout.log", any_answer=True)
            servers.append(started)
            return started

        return launch_on_a_free_port(on)

    return start


@contextlib.contextmanager
def starting(
    starter: Callable[[Path, list[Server]], Start], directory: Path
) -> Iterator[Start]:
    """A starter whose servers are all stopped when the block ends."""
    servers: list[Server] = []
    try:
        yield starter(directory, servers)
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def start_app(tmp_path: Path) -> Iterator[Start]:
    """Servers of this test's own, stopped when it ends."""
    with starting(app_starter, tmp_path) as start:
        yield start


@pytest.fixture(scope="module")
def start_module_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Start]:
    """Servers that the tests of a module share, for tests that only send
    requests: stopped when the module's last test ends."""
    with starting(app_starter, tmp_path_factory.mktemp("app")) as start:
        yield start


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    """Headless Chromium with a profile of this test's own. Ask for it after the
    servers, so it closes first: an open connection would hold up gunicorn's
    graceful stop."""
    opened = Browser(require("chromium", "chromium"), tmp_path / "profile")
    yield opened
    opened.close()


@pytest.fixture
def start_nginx(tmp_path: Path) -> Iterator[NginxStart]:
    with starting(nginx_starter, tmp_path) as start:
        yield start


@pytest.fixture(scope="module")
def start_module_nginx(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[NginxStart]:
    with starting(nginx_starter, tmp_path_factory.mktemp("nginx")) as start:
        yield start


def write_nginx_config(
    prefix: Path,
    port: int,
    upstream: int | Path,
    http: str,
    server: str,
    location: str,
    read_timeout: str | None = None,
) -> None:
    template = (ROOT / "deploy" / "nginx.conf.template").read_text()
    target = (
        f"unix:{upstream}:" if isinstance(upstream, Path) else f"127.0.0.1:{upstream}"
    )
    site = string.Template(template).safe_substitute(
        UPSTREAM=target, LISTEN_PORT=f"127.0.0.1:{port}"
    )
    site = site.replace("location / {", server + "    location / {\n" + location, 1)
    if read_timeout is not None:
        site = site.replace(
            "proxy_read_timeout 30s;", f"proxy_read_timeout {read_timeout};"
        )
    temp_paths = "\n".join(
        f"    {name}_temp_path {prefix / name};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (prefix / "site.conf").write_text(site)
    # Started as root, nginx's workers would run as nobody, who cannot reach a
    # unix socket in pytest's private temporary directory.
    user = "user root;\n" if os.geteuid() == 0 else ""
    (prefix / "nginx.conf").write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {prefix / 'nginx.pid'};\n"
        f"error_log {prefix / 'error.log'};\nevents {{}}\n"
        f"http {{\n    access_log {prefix / 'access.log'};\n{temp_paths}\n{http}\n"
        f"    include {prefix / 'site.conf'};\n}}\n"
    )


class RedisServer:
    """redis-server on a loopback port, persistence off, that tests can kill,
    stop (accepts connections, never answers) and start again."""

    def __init__(
        self, program: str, directory: Path, arguments: tuple[str, ...] = ()
    ) -> None:
        self.program, self.directory = program, directory
        self.arguments = arguments  # more of redis-server's options
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [self.program, "--port", str(self.port), "--bind", "127.0.0.1"]
        options = ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        with (self.directory / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(
                [*command, *options, *self.arguments],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        given = dict(zip(self.arguments[::2], self.arguments[1::2], strict=True))
        self.client(given.get("--requirepass"))  # waits until it answers

    def client(self, password: str | None = None) -> Any:
        import redis

        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                client = redis.Redis(
                    port=self.port, socket_timeout=2, password=password
                )
                client.ping()
                return client
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    program = require("redis-server", "redis-server")
    server = RedisServer(program, tmp_path)
    server.start()
    yield server
    if server.process is not None:
        server.process.send_signal(signal.SIGCONT)
    server.kill()


@pytest.fixture
def load() -> Iterator[Callable[[Server], Load]]:
    """load(server): requests from 4 threads until finish(), every answer counted."""
    from tests.e2e.switching import Load

    running: list[Load] = []

    def start(server: Server) -> Load:
        assert isinstance(server.port, int)
        running.append(Load(server.port).start())
        return running[-1]

    yield start
    for generator in running:
        generator.finish()


@pytest.fixture(scope="module")
def module_redis_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RedisServer]:
    """A redis-server that the tests of a module share, with the servers of
    start_module_app: stopped when the module's last test ends."""
    program = require("redis-server", "redis-server")
    server = RedisServer(program, tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    if server.process is not None:
        server.process.send_signal(signal.SIGCONT)
    server.kill()


@pytest.fixture
def sentinel_group(tmp_path: Path) -> Iterator[SentinelGroup]:
    """A primary, two replicas and three sentinels of this test's own."""
    from tests.e2e.redis_topologies import SentinelGroup

    group = SentinelGroup(require("redis-server", "redis-server"), tmp_path / "redis")
    try:
        yield group.start()
    finally:
        group.stop()


@pytest.fixture(scope="module")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Three primaries with a replica each, shared by a module's tests."""
    from tests.e2e.redis_topologies import Cluster

    cluster = Cluster(
        require("redis-server", "redis-server"),
        require("redis-cli", "redis-tools"),
        tmp_path_factory.mktemp("cluster"),
    )
    try:
        yield cluster.start()
    finally:
        cluster.stop()
