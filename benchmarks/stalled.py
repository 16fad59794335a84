"""Latency over HTTP while the switch's Redis is SIGSTOPped, against the same
seconds with it healthy: no request may wait on a hung store.

``python -m benchmarks.stalled SERVER CPU BLOCKS``: two servers of one variant,
each following a redis-server of its own, the first stopped once both have
read it (it accepts connections and never answers); one client, on CPU with
both, alternates its requests between them (A B B A) in blocks of two read
intervals. Prints both servers' p99 and max latency per block, as JSON.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping

from benchmarks.variants import SERVED, select

BLOCK_SECONDS = 4.0  # two read intervals of the switch (2 s, the default)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(ready: Callable[[], object]) -> None:
    """Until ready() returns, as a server does once it is up."""
    deadline = time.monotonic() + 20
    while True:
        try:
            ready()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextlib.contextmanager
def running(command: list[str], env: Mapping[str, str] | None = None) -> Iterator[int]:
    """A process, until the block ends; yields its pid."""
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        yield process.pid
    finally:
        process.terminate()
        process.wait(timeout=20)


@contextlib.contextmanager
def redis_server() -> Iterator[tuple[int, str]]:
    """A redis-server on loopback that saves nothing; yields its pid and URL."""
    port = free_port()
    options = ["--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    with running([shutil.which("redis-server") or "redis-server", *options]) as pid:
        wait_for(lambda: socket.create_connection(("127.0.0.1", port)).close())
        yield pid, f"redis://127.0.0.1:{port}/0"


def server(name: str, port: int, redis_url: str) -> tuple[list[str], dict[str, str]]:
    """The command of one gunicorn sync worker, or one uvicorn worker, serving
    Django's own application, and its environment: SERVED's, its switch the
    Redis at redis_url (select() resolves the URL here, one server at a time)."""
    os.environ["BENCH_REDIS_URL"] = redis_url
    select(SERVED)
    if name == "gunicorn":
        app = ["--bind", f"127.0.0.1:{port}", "django.core.wsgi:get_wsgi_application()"]
    else:
        app = ["--port", str(port), "--no-access-log", "--factory"]
        app.append("django.core.asgi:get_asgi_application")
    return [sys.executable, "-m", name, "--log-level", "warning", *app], {**os.environ}


def latency(port: int) -> float:
    """Seconds of one request on a new connection, which must be answered 200."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    started = time.perf_counter()
    connection.request("GET", "/", headers={"Accept": "text/html"})
    response = connection.getresponse()
    response.read()
    seconds = time.perf_counter() - started
    connection.close()
    if response.status != 200:
        raise SystemExit(f"port {port} answered {response.status}")
    return seconds


def block(ports: tuple[int, int]) -> dict[str, tuple[float, float]]:
    """Both servers' p99 and max latency over BLOCK_SECONDS, requests A B B A."""
    latencies: tuple[list[float], list[float]] = ([], [])
    deadline, turn = time.perf_counter() + BLOCK_SECONDS, 0
    while time.perf_counter() < deadline:
        which = 1 if turn % 4 in (1, 2) else 0
        latencies[which].append(latency(ports[which]))
        turn += 1
    figures = {}
    for state, values in zip(("stopped", "healthy"), latencies, strict=True):
        values.sort()
        figures[state] = (values[int(0.99 * len(values))], values[-1])
    return figures


def main() -> None:
    name, cpu, blocks = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    with redis_server() as (stopped, stopped_url), redis_server() as (_, healthy_url):
        os.sched_setaffinity(0, {cpu})  # the client and, inherited, both servers
        ports = (free_port(), free_port())
        with (
            running(*server(name, ports[0], stopped_url)),
            running(*server(name, ports[1], healthy_url)),
        ):
            wait_for(lambda: [latency(port) for port in ports])  # each read its Redis
            os.kill(stopped, signal.SIGSTOP)
            try:
                block(ports)  # a warm-up: the stopped server's reader now fails
                figures = [block(ports) for _ in range(blocks)]
            finally:
                os.kill(stopped, signal.SIGCONT)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
