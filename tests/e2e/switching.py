"""Driving the switch of real servers: the command as an operator runs it (to
the end, or in the background while a test breaks something), load that counts
every answer, the fleet's reports, and waits for every worker to have switched."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from threading import Event
from typing import Any, TypeVar

from envmaintenance import fleet_words
from envmaintenance.conf import load_config
from envmaintenance.fleet import read_fleet
from envmaintenance.stores import COMMAND_TIMEOUT_SECONDS, Store, open_store
from tests.e2e.conftest import Server, request
from tests.processes import ROOT, sample_project_environment

INTERVAL = 1
BLOCKED = "127.0.0.9"
# A hang guard, not a measure: what a test waits for happens within a few
# intervals on any machine.
DEADLINE_SECONDS = 30
# The line `on`, `off` and `env` print once the switch is written.
_WRITTEN = re.compile(r", revision ([0-9]+)\b.*: every process follows within ")
MANAGE = [sys.executable, "sample_project/manage.py", "maintenance"]

T = TypeVar("T")


def command_environment(url: str, **variables: str) -> dict[str, str]:
    return sample_project_environment(
        switch_url=url, switch_interval=str(INTERVAL), **variables
    )


def maintenance(*args: str, switch_url: str) -> str:
    """The real command, as an operator runs it, which must succeed."""
    result = command(*args, url=switch_url, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def command(
    *args: str, url: str, timeout: float = 120, **variables: str
) -> subprocess.CompletedProcess[str]:
    """manage.py maintenance as an operator runs it, whatever its exit status."""
    return subprocess.run(
        [*MANAGE, *args],
        cwd=ROOT,
        env=command_environment(url, **variables),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def written_revision(output: str) -> int:
    """The revision a write's line names."""
    found = _WRITTEN.search(output)
    assert found, output
    return int(found[1])


class Background:
    """The command running while the test does something else: the moment it
    said the switch was written, and what it printed in the end."""

    def __init__(self, *args: str, url: str, **variables: str) -> None:
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [*MANAGE, *args],
            cwd=ROOT,
            # Unbuffered: its lines arrive as it prints them.
            env={**command_environment(url, **variables), "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._written = Event()
        self.written_at = 0.0
        self._readers = [
            threading.Thread(target=self._read, args=(stream, lines), daemon=True)
            for stream, lines in (
                (self.process.stdout, self.stdout),
                (self.process.stderr, self.stderr),
            )
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: Any, lines: list[str]) -> None:
        for line in stream:
            lines.append(line)
            if lines is self.stdout and _WRITTEN.search(line):
                self.written_at = time.monotonic()
                self._written.set()

    def written(self) -> int:
        """Once the switch is written: its revision."""
        if not self._written.wait(60):
            self.process.kill()
            raise AssertionError(f"never written: {self.finish()}")
        return written_revision("".join(self.stdout))

    def finish(self, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        try:
            self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(10)
        for reader in self._readers:
            reader.join(10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        self.ended = time.monotonic()
        return subprocess.CompletedProcess(
            self.process.args,
            self.process.returncode,
            "".join(self.stdout),
            "".join(self.stderr),
        )


def connected(pid: int, port: int) -> bool:
    """Whether the process holds a TCP connection to 127.0.0.1:``port``."""
    sockets = set()
    with contextlib.suppress(OSError):  # it may have exited
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                sockets.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote, inode = fields[2], fields[9]
        if int(remote.split(":")[1], 16) == port and f"socket:[{inode}]" in sockets:
            return True
    return False


def until(
    condition: Callable[[], T | None],
    what: str,
    *,
    seconds: float = DEADLINE_SECONDS,
    tolerating: tuple[type[BaseException], ...] = (),
) -> T:
    """condition()'s first true value, asked every 0.05 s (an exception of
    ``tolerating`` counts as no: a server that cannot answer yet); fails naming
    ``what`` after ``seconds``, a hang guard."""
    deadline = time.monotonic() + seconds
    while True:
        with contextlib.suppress(*tolerating):
            value = condition()
            if value:
                return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        time.sleep(0.05)


def confirmed_seconds(output: str) -> float:
    """What `--wait` says it took: from the write to the last acknowledgement."""
    found = re.search(r"; confirmed in ([0-9.]+) s\.", output)
    assert found, output
    return float(found[1])


def switch_store(url: str) -> Store:
    """The switch's store as the command opens it, for a test to read."""
    config = load_config({"MAINTENANCE_SWITCH_URL": url})
    assert config.switch is not None
    return open_store(config.switch, config.switch_key, COMMAND_TIMEOUT_SECONDS)


def members(url: str) -> list[dict[str, Any]]:
    """The rows `processes --json` prints, read in this process: quick enough
    to ask every 0.1 s while waiting for the fleet."""
    store, now = switch_store(url), time.time()
    fleet = read_fleet(store.members, now, float("inf"))
    return fleet_words.process_rows(fleet.reports, now)


def members_by_pid(url: str, pids: set[int]) -> dict[int, dict[str, Any]]:
    """The rows of these processes that report, by pid."""
    return {row["pid"]: row for row in members(url) if row["pid"] in pids}


def workers_of(server: Server) -> list[int]:
    """The server's child processes (uvicorn's include multiprocessing's
    resource tracker, which does not report)."""
    pid = server.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


def respawn_workers(server: Server, count: int) -> list[int]:
    """kill -9 ``count`` workers; return the new ones once gunicorn has
    replaced them."""
    before = workers_of(server)
    for pid in before[:count]:
        os.kill(pid, signal.SIGKILL)
    return until(
        lambda: (
            new
            if len(new := sorted(set(workers_of(server)) - set(before))) == count
            else None
        ),
        f"gunicorn replacing {count} killed workers:\n{server.log_text()}",
    )


def reporting(url: str, server: Server, workers: int) -> set[int]:
    """Once ``workers`` of the server's processes report: their pids."""

    def found() -> set[int] | None:
        pids = set(members_by_pid(url, set(workers_of(server))))
        return pids if len(pids) >= workers else None

    return until(found, f"{workers} processes of {server.port} reporting")


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
