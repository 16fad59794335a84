"""Celery workers follow maintenance, with a real worker (prefork, two pool
processes) and a real beat on a real Redis, which is both the broker (database
1) and the switch (database 0), and the real command. The worker is the one
tests/celery_app.py makes, started as a project starts it; its tasks record
their runs as files, so every test waits for events, never for time. The drain
time is printed as a FIGURE line (pytest -s)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.celery_app import app
from tests.e2e import switching
from tests.e2e.conftest import RedisServer
from tests.e2e.switching import members
from tests.processes import ROOT, child_environment

INTERVAL = 1
POOL_PROCESSES = 2
# Hang guards, not measures: what a test waits for happens within a few
# intervals on an idle machine, and the suite may run on a busy one.
DEADLINE_SECONDS = 60
COMMAND_TIMEOUT_SECONDS = 120

T = TypeVar("T")

# manage.py's own entry point, in a process that has started Django and waits
# for a line on stdin: what it then runs starts at once, not after the
# interpreter and Django have (seconds, on a loaded machine).
# A hang guard of its own: it is gone after COMMAND_TIMEOUT_SECONDS whatever
# happens to the test that started it.
PRIMED = """
import signal, sys, django
from django.core.management import execute_from_command_line
signal.alarm(int(sys.argv.pop(1)))
django.setup()
print("ready", flush=True)
sys.stdin.readline()
execute_from_command_line(["manage.py", "maintenance", *sys.argv[1:]])
"""


def until(condition: Callable[[], T | None], what: str) -> T:
    return switching.until(condition, what, seconds=DEADLINE_SECONDS)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (Celery's warm shutdown: running tasks finish), then the whole
    process group if it hangs."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def broker_url(redis: RedisServer) -> str:
    """The same Redis as the switch (database 0), database 1."""
    return redis.url.removesuffix("/0") + "/1"


def celery_environment(redis: RedisServer, runs: Path) -> dict[str, str]:
    """What the worker, beat and the command get: the test settings, the
    switch read every second, the broker, where tasks record their runs."""
    return child_environment(
        DJANGO_SETTINGS_MODULE="tests.settings",
        MAINTENANCE_SWITCH_URL=redis.url,
        MAINTENANCE_SWITCH_INTERVAL=str(INTERVAL),
        CELERY_BROKER_URL=broker_url(redis),
        TASK_RUNS=str(runs),
    )


@dataclass
class Worker:
    """The worker, its Redis, and the files its tasks leave."""

    process: subprocess.Popen[bytes]
    redis: RedisServer
    directory: Path
    runs: Path
    log: Path

    @property
    def broker_url(self) -> str:
        return broker_url(self.redis)

    def environment(self) -> dict[str, str]:
        return celery_environment(self.redis, self.runs)

    def maintenance(self, *args: str) -> subprocess.CompletedProcess[str]:
        """manage.py maintenance as an operator runs it, against this switch."""
        return subprocess.run(
            [sys.executable, "-m", "django", "maintenance", *args],
            cwd=ROOT,
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
            check=False,
        )

    @contextlib.contextmanager
    def primed(self, *args: str) -> Iterator[subprocess.Popen[str]]:
        """The command, started up, waiting for a line on its stdin to run."""
        process = subprocess.Popen(
            [sys.executable, "-c", PRIMED, str(COMMAND_TIMEOUT_SECONDS), *args],
            cwd=ROOT,
            env=self.environment(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            assert process.stdout.readline() == "ready\n"
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.communicate(timeout=10)

    def switched(self, *args: str) -> str:
        result = self.maintenance(*args)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def send(self, task: str, *args: Any) -> None:
        """As a web process sends a task: routed by the app's own routes."""
        with app.connection_for_write(self.broker_url) as connection:
            app.tasks[task].apply_async(args, connection=connection)

    def ran(self, label: str, event: str = "finished") -> int | None:
        """The pid of the process that ran it, once the event happened."""
        path = self.runs / f"{label}.{event}"
        return int(path.read_text().split()[0]) if path.exists() else None

    def all_ran(self, labels: list[str], event: str = "finished") -> set[int]:
        """The pids that ran them, once every one's event happened; else none."""
        pids = [self.ran(label, event) for label in labels]
        return {pid for pid in pids if pid is not None} if None not in pids else set()

    def release(self, label: str) -> None:
        (self.runs / f"{label}.release").touch()

    def waiting_in_queue(self, queue: str = "celery") -> int:
        """Messages in the queue's list, in the broker's database."""
        import redis

        with redis.Redis.from_url(self.broker_url, socket_timeout=10) as broker:
            return int(broker.llen(queue))

    def pool_pids(self) -> set[int]:
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return {int(child) for child in children}

    def members(self) -> dict[int, dict[str, Any]]:
        """The rows `processes --json` prints, by pid, read in this process:
        quick enough to ask every 0.05 s."""
        return {row["pid"]: row for row in members(self.redis.url)}

    def listed(self) -> dict[int, dict[str, Any]]:
        """`processes --json`, by pid, as the operator's command prints it."""
        rows = json.loads(self.switched("processes", "--json"))
        return {row["pid"]: row for row in rows["processes"]}


@pytest.fixture(scope="module")
def worker(
    module_redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    directory = tmp_path_factory.mktemp("celery")
    runs, log = directory / "runs", directory / "worker.log"
    runs.mkdir()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "celery", "-A", "tests.celery_app", "worker"),
                *("--pool", "prefork", "--concurrency", str(POOL_PROCESSES)),
                *("--loglevel", "INFO", "--hostname", "envmaintenance@%h"),
                *("--without-gossip", "--without-mingle", "--without-heartbeat"),
            ],
            cwd=ROOT,
            env=celery_environment(module_redis_server, runs),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    started = Worker(process, module_redis_server, directory, runs, log)
    try:
        until(lambda: "ready." in log.read_text() or process.poll(), "worker ready")
        assert process.poll() is None, log.read_text()
        yield started
    finally:
        stop(process)


def members_of(worker: Worker) -> dict[int, dict[str, Any]]:
    """The worker's processes that report: its main process and its pool's."""
    pids = {worker.process.pid} | worker.pool_pids()
    found = {pid: row for pid, row in worker.members().items() if pid in pids}
    return found if len(found) == len(pids) == 1 + POOL_PROCESSES else {}


def test_the_worker_is_listed_as_its_main_process_and_each_pool_process(
    worker: Worker,
) -> None:
    reporting = until(lambda: members_of(worker), "the worker's 3 processes report")
    listed = worker.listed()
    assert {pid: listed[pid]["server"] for pid in reporting} == dict.fromkeys(
        reporting, "celery"
    )
    assert worker.process.pid in reporting  # the main process, which consumes


def test_on_wait_returns_once_the_task_running_when_it_was_given_has_finished(
    worker: Worker,
) -> None:
    with worker.primed("on", "--wait", "60") as command:
        worker.send("tests.celery_app.slow", "drain", 3)
        until(lambda: worker.ran("drain", "started"), "the 3 s task started")
        began = time.monotonic()
        output, errors = command.communicate("go\n", timeout=COMMAND_TIMEOUT_SECONDS)
        returned, returned_at = time.monotonic(), time.time()
    assert worker.ran("drain") is not None  # finished before the wait returned
    assert command.returncode == 0, output + errors
    assert "after 1 request from before it finished" in output
    finished_at = float((worker.runs / "drain.finished").read_text().split()[1])
    print(
        f"\nFIGURE celery drain: on --wait returned {returned - began:.1f} s after "
        f"it was given, {returned_at - finished_at:.2f} s after the 3 s task "
        "running then had finished"
    )
    worker.switched("off", "--wait", "60")


def test_tasks_sent_during_maintenance_run_after_off_and_exempt_ones_during_it(
    worker: Worker,
) -> None:
    worker.switched("on", "--wait", "60")
    worker.send("tests.celery_app.record", "queued-1")
    worker.send("tests.celery_app.record", "queued-2")
    worker.send("tests.celery_app.record_exempt", "exempt")
    until(lambda: worker.ran("exempt"), "the exempt task runs during maintenance")
    assert worker.waiting_in_queue() == 2
    assert worker.ran("queued-1") is None
    assert worker.ran("queued-2") is None
    worker.switched("off", "--wait", "60")
    until(
        lambda: worker.all_ran(["queued-1", "queued-2"]),
        "the tasks sent during maintenance run after off",
    )


def test_taken_tasks_are_put_back_and_a_wait_names_the_busy_pool_processes(
    worker: Worker,
) -> None:
    """Both pool processes busy, two more tasks taken from the broker (the
    worker prefetches): a wait that runs out names the busy pool processes,
    which `processes` shows draining; the taken tasks are not run during
    maintenance, but put back on their queue."""
    for label in ("held-1", "held-2"):
        worker.send("tests.celery_app.held", label)
    busy = until(
        lambda: worker.all_ran(["held-1", "held-2"], "started"),
        "both pool processes run a held task",
    )
    worker.send("tests.celery_app.record", "taken-1")
    worker.send("tests.celery_app.record", "taken-2")
    until(lambda: worker.waiting_in_queue() == 0, "the worker takes both")
    result = worker.maintenance("on", "--wait", "3")
    assert result.returncode == 1, result.stdout + result.stderr
    assert all(f":{pid} (celery, " in result.stderr for pid in busy), result.stderr
    revision = int(re.findall(r"revision (\d+)", result.stdout)[0])

    def draining() -> bool:
        rows = worker.members()
        return all(
            rows[pid]["revision"] == revision and rows[pid]["in_flight"] == 1
            for pid in busy
        )

    until(draining, "the busy pool processes report their task from before")
    for label in ("held-1", "held-2"):
        worker.release(label)
    until(lambda: worker.waiting_in_queue() == 2, "the taken tasks are put back")
    until(
        lambda: worker.log.read_text().count("back on its queue (maintenance on") == 2,
        "the worker says so",
    )
    assert worker.ran("taken-1") is None
    assert worker.ran("taken-2") is None
    worker.switched("off", "--wait", "60")
    until(lambda: worker.all_ran(["taken-1", "taken-2"]), "they run after off")


@pytest.fixture
def start_beat(worker: Worker, tmp_path: Path) -> Iterator[Callable[[], Path]]:
    """start_beat(): celery beat with tests/celery_app.py's schedule (a task
    and an exempt one, every second); its log. Stopped when the test ends."""
    started: list[subprocess.Popen[bytes]] = []

    def start() -> Path:
        log = tmp_path / "beat.log"
        with log.open("wb") as output:
            started.append(
                subprocess.Popen(
                    [
                        *(sys.executable, "-m", "celery", "-A", "tests.celery_app"),
                        *("beat", "--loglevel", "INFO", "--pidfile="),
                        *("--schedule", str(tmp_path / "schedule")),
                    ],
                    cwd=ROOT,
                    env=worker.environment(),
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        return log

    yield start
    for process in started:
        stop(process)


def test_beat_skips_periodic_tasks_during_maintenance_but_not_exempt_ones(
    worker: Worker, start_beat: Callable[[], Path]
) -> None:
    worker.switched("on", "--wait", "60")
    log = start_beat()
    until(lambda: worker.ran("beat-exempt"), "beat sends the exempt task")
    until(
        lambda: (
            "skipped the periodic task beat (tests.celery_app.record)"
            in log.read_text()
        ),
        "beat skips the other, saying so",
    )
    assert worker.ran("beat") is None
    assert worker.waiting_in_queue() == 0  # skipped, not queued
    worker.switched("off", "--wait", "60")
    until(lambda: worker.ran("beat"), "beat sends it again after off")
