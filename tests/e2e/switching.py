"""Driving the switch of real servers: the command as an operator runs it, load
that counts every answer, and waits for every worker to have switched."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from threading import Event

from tests.e2e.conftest import Server, request
from tests.processes import ROOT, sample_project_environment

INTERVAL = 1
BLOCKED = "127.0.0.9"


def maintenance(*args: str, switch_url: str) -> str:
    """The real command, as an operator runs it."""
    result = subprocess.run(
        [sys.executable, "sample_project/manage.py", "maintenance", *args],
        cwd=ROOT,
        env=sample_project_environment(
            switch_url=switch_url, switch_interval=str(INTERVAL)
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def converge(
    server: Server, status: int, *, streak: int = 40, logged: tuple[str, int] = ("", 0)
) -> float:
    """Seconds until `streak` requests in a row (new connections, so every
    worker gets its share) answer `status` and, for logged=(text, workers), each
    worker has logged the transition."""
    text, workers = logged
    started = time.monotonic()
    in_a_row = 0
    while in_a_row < streak or server.log_text().count(text) < workers:
        if time.monotonic() - started > 15:
            raise AssertionError(f"no {status} streak after 15 s:\n{server.log_text()}")
        answer = request(server.port, "/", source=BLOCKED).status
        in_a_row = in_a_row + 1 if answer == status else 0
    return time.monotonic() - started


def still(server: Server, status: int, requests: int = 20) -> bool:
    """Every one of these requests answers ``status``."""
    answers = {
        request(server.port, "/", source=BLOCKED).status for _ in range(requests)
    }
    return answers == {status}


def wait_for_workers(server: Server, workers: int) -> None:
    """Each worker logs one start-up line; the first to answer is not the last."""
    deadline = time.monotonic() + 30
    while server.log_text().count("following the switch at") < workers:
        assert time.monotonic() < deadline, server.log_text()
        time.sleep(0.1)


@dataclass
class Load:
    """Requests from 4 threads until finished: statuses and latencies."""

    port: int
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    stop: Event = field(default_factory=Event)
    pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(4))

    def start(self) -> Load:
        for _ in range(4):
            self.pool.submit(self.client)
        return self

    def client(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                status = request(self.port, "/", source=BLOCKED).status
            except OSError:
                status = -1
            self.latencies.append(time.monotonic() - started)
            self.statuses[status] += 1

    def finish(self) -> Load:
        self.stop.set()
        self.pool.shutdown(wait=True)
        return self

    def p99(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[int(len(ordered) * 0.99)]
