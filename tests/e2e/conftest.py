"""Real servers on 127.0.0.1: gunicorn and uvicorn as the container runs them, nginx
in front.

Every server gets a free port, is waited for with a deadline and always stopped.
A missing system binary skips its tests with the reason, except in CI, where
`.ci/run` installs them and their absence is a failure.
"""

from __future__ import annotations

import http.client
import os
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

import pytest

from tests.processes import ROOT, sample_project_environment

BIN = Path(sys.executable).parent
STARTUP_SECONDS = 20


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.e2e)


def require(program: str, package: str) -> str:
    """Path of a system program, or skip (fail in CI) saying how to get it."""
    path = shutil.which(program) or shutil.which(program, path="/usr/sbin:/usr/bin")
    if path:
        return path
    reason = f"{program} is not installed (apt-get install {package})"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; .ci/run should have installed it")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


def request(
    port: int,
    path: str = "/",
    *,
    source: str = "127.0.0.1",
    headers: dict[str, str] | None = None,
    method: str = "GET",
) -> Response:
    """One request from a chosen loopback address (127.0.0.x are distinct clients)."""
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=10, source_address=(source, 0)
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
    port: int
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


def wait_until_ready(server: Server, path: str = "/healthz") -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited at start-up:\n{server.log_text()}")
        try:
            if request(server.port, path).status < 500:
                return
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"server not ready in {STARTUP_SECONDS}s:\n{server.log_text()}")


def launch(
    command: list[str], port: int, log: Path, env: dict[str, str] | None = None
) -> Server:
    """Start a server that will listen on ``port``; return once it answers."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    server = Server(port, process, log)
    wait_until_ready(server)
    return server


def gunicorn_command(port: int) -> tuple[list[str], dict[str, str]]:
    """The Dockerfile's CMD, bound to a free loopback port."""
    return (
        [str(BIN / "gunicorn"), "--config", "sample_project/gunicorn.conf.py"],
        {"GUNICORN_BIND": f"127.0.0.1:{port}"},
    )


def uvicorn_command(port: int) -> tuple[list[str], dict[str, str]]:
    return (
        [
            str(BIN / "uvicorn"),
            "sample.asgi:application",
            "--app-dir",
            "sample_project",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        {},
    )


Start = Callable[..., Server]


@pytest.fixture
def start_app(tmp_path: Path) -> Iterator[Start]:
    """start_app("gunicorn" | "uvicorn", mode="1", ...) -> a running Server."""
    servers: list[Server] = []
    commands = {"gunicorn": gunicorn_command, "uvicorn": uvicorn_command}

    def start(kind: str, **maintenance: str) -> Server:
        port = free_port()
        command, extra = commands[kind](port)
        environ = {**sample_project_environment(**maintenance), **extra}
        server = launch(command, port, tmp_path / f"{kind}-{port}.log", env=environ)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def start_nginx(tmp_path: Path) -> Iterator[Callable[[int], Server]]:
    """nginx with deploy/nginx.conf.template, proxying to a local upstream port."""
    nginx = require("nginx", "nginx-light")
    servers: list[Server] = []

    def start(upstream_port: int) -> Server:
        port = free_port()
        prefix = tmp_path / f"nginx-{port}"
        prefix.mkdir()
        template = (ROOT / "deploy" / "nginx.conf.template").read_text()
        site = string.Template(template).safe_substitute(
            UPSTREAM=f"127.0.0.1:{upstream_port}", LISTEN_PORT=f"127.0.0.1:{port}"
        )
        (prefix / "site.conf").write_text(site)
        temp_paths = "\n".join(
            f"    {name}_temp_path {prefix / name};"
            for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (prefix / "nginx.conf").write_text(
            f"daemon off;\nworker_processes 1;\npid {prefix / 'nginx.pid'};\n"
            f"error_log {prefix / 'error.log'};\nevents {{}}\n"
            f"http {{\n    access_log {prefix / 'access.log'};\n{temp_paths}\n"
            f"    include {prefix / 'site.conf'};\n}}\n"
        )
        command = [nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf")]
        server = launch(command, port, prefix / "stdout.log")
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
