"""Knowing that the fleet has switched, with real servers: gunicorn with four
workers and uvicorn with two following one Redis, a worker stopped or killed, a
slow request admitted before the switch, Redis down, file switches, and five
hundred simulated reporters against the real Redis."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import RedisServer, Server, Start, request
from tests.e2e.switching import BLOCKED, INTERVAL, converge, wait_for_workers
from tests.e2e.test_switch_faults import workers_of
from tests.processes import ROOT, sample_project_environment


def command(
    *args: str, url: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """manage.py maintenance as an operator runs it, whatever its exit status."""
    return subprocess.run(
        [sys.executable, "sample_project/manage.py", "maintenance", *args],
        cwd=ROOT,
        env=sample_project_environment(switch_url=url, switch_interval=str(INTERVAL)),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def fleet(start_app: Start, redis_server: RedisServer) -> list[Server]:
    """gunicorn with 4 workers and uvicorn with 2, one Redis switch, all reporting."""
    url = redis_server.url
    servers = [
        start_app(kind, workers=workers, switch_url=url, switch_interval=str(INTERVAL))
        for kind, workers in (("gunicorn", 4), ("uvicorn", 2))
    ]
    for server, workers in zip(servers, (4, 2), strict=True):
        wait_for_workers(server, workers)
        for _ in range(50):  # every worker serves, so every reader has started
            request(server.port, "/healthz", source=BLOCKED)
    deadline = time.monotonic() + 20
    while len(listed(url)) < 6:
        assert time.monotonic() < deadline, listed(url)
        time.sleep(0.1)
    return servers


def listed(url: str) -> list[dict[str, object]]:
    result = command("processes", "--json", url=url)
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout))


def test_on_wait_confirms_every_worker(
    fleet: list[Server], redis_server: RedisServer
) -> None:
    url = redis_server.url
    started = time.monotonic()
    result = command("on", "--wait", url=url)
    seconds = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith("All 6 processes switched in ")
    print(f"healthy: on --wait returned in {seconds:.2f} s")
    rows = listed(url)
    assert len(rows) == 6
    assert {row["server"] for row in rows} == {"gunicorn", "uvicorn"}
    assert {row["state"] for row in rows} == {"on"}
    assert all(row["reporting"] for row in rows)
    for server in fleet:
        assert request(server.port, "/", source=BLOCKED).status == 503


def test_a_stopped_worker_fails_the_wait_by_name(
    fleet: list[Server], redis_server: RedisServer
) -> None:
    url = redis_server.url
    stopped = workers_of(fleet[0])[0]
    os.kill(stopped, signal.SIGSTOP)  # a debugger, a stuck GC
    try:
        time.sleep(INTERVAL * 4)  # long enough to fall silent
        started = time.monotonic()
        result = command("on", "--wait", "5", url=url)
        seconds = time.monotonic() - started
    finally:
        os.kill(stopped, signal.SIGCONT)
    print(
        f"one worker stopped: --wait 5 exited {result.returncode} after {seconds:.2f} s"
    )
    assert result.returncode == 1
    assert f":{stopped} (gunicorn): not reporting" in result.stderr
    again = command("on", "--wait", url=url)
    assert again.returncode == 0, again.stdout + again.stderr


def test_wait_drains_a_request_admitted_before_the_switch(
    fleet: list[Server], redis_server: RedisServer
) -> None:
    url = redis_server.url
    slow: dict[str, float] = {}

    def write_slowly() -> None:
        answer = request(fleet[0].port, "/slow/?seconds=3", source=BLOCKED)
        slow["status"], slow["done"] = answer.status, time.monotonic()

    writer = threading.Thread(target=write_slowly)
    writer.start()
    time.sleep(0.5)  # admitted while maintenance is off
    started = time.monotonic()
    result = command("on", "--wait", url=url)
    returned = time.monotonic()
    writer.join(10)
    assert result.returncode == 0, result.stdout + result.stderr
    assert slow["status"] == 200  # it was let in, and finished
    assert returned >= slow["done"]  # the wait outlasted it
    assert "after 1 requests from before it finished" in result.stdout
    print(f"slow request: on --wait returned after {returned - started:.2f} s")


def test_a_killed_worker_is_named_until_its_report_expires(
    fleet: list[Server], redis_server: RedisServer
) -> None:
    url = redis_server.url
    killed = workers_of(fleet[0])[0]
    os.kill(killed, signal.SIGKILL)  # no clean exit: its report stays
    deadline = time.monotonic() + 20
    while killed in workers_of(fleet[0]) or len(workers_of(fleet[0])) < 4:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    for _ in range(50):
        request(fleet[0].port, "/healthz", source=BLOCKED)  # the new one serves
    time.sleep(INTERVAL * 4)
    result = command("on", "--wait", "5", url=url)
    assert result.returncode == 1
    assert f":{killed} (gunicorn): not reporting" in result.stderr
    rows = {row["pid"]: row for row in listed(url)}
    assert rows[killed]["reporting"] is False
    assert len(rows) == 7  # the dead one, and the six alive
    alive = [row for row in rows.values() if row["reporting"]]
    assert len(alive) == 6
    assert {row["state"] for row in alive} == {"on"}  # the new worker switched too


def test_redis_down_fails_the_wait_at_once_claiming_nothing(
    fleet: list[Server], redis_server: RedisServer
) -> None:
    redis_server.kill()
    started = time.monotonic()
    result = command("on", "--wait", url=redis_server.url)
    assert result.returncode != 0
    assert "the switch was not changed: cannot write" in result.stderr
    assert "switched" not in result.stdout
    assert time.monotonic() - started < 10  # at once, not after the 60 s wait


def test_a_clean_exit_removes_the_report(
    fleet: list[Server], redis_server: RedisServer
) -> None:
    fleet[0].stop()  # gunicorn, SIGTERM: its four workers exit cleanly
    rows = listed(redis_server.url)
    assert [row["server"] for row in rows] == ["uvicorn", "uvicorn"]
    assert command("on", "--wait", url=redis_server.url).returncode == 0


def test_a_file_switch_confirms_two_servers(start_app: Start, tmp_path: Path) -> None:
    url = f"file://{tmp_path}/switch"
    servers = [
        start_app("gunicorn", workers=1, switch_url=url, switch_interval=str(INTERVAL))
        for _ in range(2)
    ]
    for server in servers:
        request(server.port, "/healthz", source=BLOCKED)
    result = command("on", "--wait", "20", url=url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All 2 processes switched" in result.stdout
    for server in servers:
        converge(server, 503)


def test_a_file_switch_that_cannot_hold_reports_cannot_confirm(
    start_app: Start, tmp_path: Path
) -> None:
    """A ConfigMap volume is read-only: here the reports' directory cannot be
    made (a file stands where it would), with the same effect."""
    (tmp_path / "switch.processes").write_text("")
    url = f"file://{tmp_path}/switch"
    start_app("gunicorn", workers=1, switch_url=url, switch_interval=str(INTERVAL))
    result = command("on", "--wait", url=url)
    assert result.returncode != 0
    assert "cannot confirm" in result.stderr
    assert (tmp_path / "switch").read_text().startswith("MAINTENANCE_MODE=1")


def reporting(url: str, count: int, first_pid: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.reporters", url, str(count), str(first_pid)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "reporting\n"
    return process


def test_five_hundred_reporters_on_one_redis(redis_server: RedisServer) -> None:
    """Light processes whose reporters are exactly a web process's: four of 100,
    one of 99 and one of a single reporter, which is then stopped."""
    url = redis_server.url
    sizes = [(100, 100_000), (100, 100_100), (100, 100_200), (100, 100_300)]
    sizes += [(99, 100_400), (1, 100_499)]
    processes = [reporting(url, count, first) for count, first in sizes]
    try:
        deadline = time.monotonic() + 60
        while len(listed(url)) < 500:
            assert time.monotonic() < deadline, len(listed(url))
            time.sleep(0.5)
        started = time.monotonic()
        assert len(listed(url)) == 500
        print(f"processes with 500 reporting: {time.monotonic() - started:.2f} s")
        started = time.monotonic()
        result = command("on", "--wait", "30", url=url)
        seconds = time.monotonic() - started
        assert result.returncode == 0, result.stdout + result.stderr
        assert "All 500 processes switched" in result.stdout
        print(f"500 reporters: on --wait confirmed in {seconds:.2f} s")
        processes[-1].send_signal(signal.SIGSTOP)  # one reporter stops
        time.sleep(INTERVAL * 4)
        result = command("on", "--wait", "10", url=url)
        assert result.returncode == 1
        assert "1 of 500 processes are behind" in result.stderr
        assert ":100499 (" in result.stderr
    finally:
        for process in processes:
            process.send_signal(signal.SIGCONT)
            process.communicate(timeout=30)
