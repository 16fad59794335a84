"""The runtime switch across real processes: gunicorn with 4 workers and uvicorn,
redis-server started here and killed, stopped and flushed, and file switches
replaced under load. Intervals are 1 s so the suite stays short."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from threading import Event

import pytest

from tests.e2e.conftest import RedisServer, Server, Start, request
from tests.processes import ROOT, sample_project_environment

INTERVAL = 1
BLOCKED = "127.0.0.9"
SERVERS = ["gunicorn", "uvicorn"]


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


@pytest.fixture
def load() -> Iterator[Callable[[Server], Load]]:
    running: list[Load] = []

    def start(server: Server) -> Load:
        assert isinstance(server.port, int)
        running.append(Load(server.port).start())
        return running[-1]

    yield start
    for generator in running:
        generator.finish()


@pytest.mark.parametrize("kind", SERVERS)
def test_on_off_env_reach_every_worker_within_the_interval(
    start_app: Start, redis_server: RedisServer, kind: str
) -> None:
    url = redis_server.url
    server = start_app(
        kind, workers=4, mode="1", switch_url=url, switch_interval=str(INTERVAL)
    )
    wait_for_workers(server, 4)
    assert request(server.port, "/", source=BLOCKED).status == 503  # environment
    steps = [("off", 200), ("on", 503), ("off", 200), ("env", 503)]
    for number, (action, status) in enumerate(steps):
        reason = f"step {number}"
        out = maintenance(action, "--by", "tester", "--reason", reason, switch_url=url)
        assert f"every process within {INTERVAL} s" in out
        seconds = converge(server, status, logged=(f"(reason: {reason})", 4))
        print(f"{kind}: '{action}' served by all 4 workers after {seconds:.2f} s")
        assert seconds <= INTERVAL + 1
    assert "Traceback" not in server.log_text()


def test_killing_redis_under_load_keeps_the_state(
    start_app: Start, redis_server: RedisServer, load: Callable[[Server], Load]
) -> None:
    url = redis_server.url
    server = start_app("gunicorn", workers=4, switch_url=url, switch_interval="1")
    wait_for_workers(server, 4)
    maintenance("on", "--reason", "before the outage", switch_url=url)
    # Every worker has read "on": a worker that had not would rightly keep the
    # environment's state (off) through the outage.
    converge(server, 503, logged=("(reason: before the outage)", 4))
    traffic = load(server)
    time.sleep(0.5)
    redis_server.kill()
    time.sleep(3)  # several intervals with the store down
    redis_server.start()  # empty: persistence is off, the document is gone
    time.sleep(2)
    traffic.finish()
    assert set(traffic.statuses) == {503}, traffic.statuses  # no 500, no 200
    print(
        f"Redis killed: {sum(traffic.statuses.values())} requests, all 503, "
        f"p99 {traffic.p99():.3f} s"
    )
    maintenance("off", switch_url=url)  # switching works again
    # A 3 s outage at a 1 s interval backs reads off to 4 s at most (2, then 4);
    # the empty Redis that comes back answers, so reads return to every second.
    recovered = converge(server, 200)
    print(f"after the outage, 'off' served everywhere in {recovered:.2f} s")
    assert recovered <= 4 + INTERVAL + 1
    log = server.log_text()
    assert "Maintenance switch: cannot read" in log
    assert "Traceback" not in log


def test_a_hanging_redis_costs_no_request_more_than_the_timeout(
    start_app: Start, redis_server: RedisServer, load: Callable[[Server], Load]
) -> None:
    url = redis_server.url
    server = start_app("uvicorn", workers=1, switch_url=url, switch_interval="1")
    maintenance("on", switch_url=url)
    converge(server, 503)
    redis_server.pause()  # connections are accepted and never answered
    try:
        traffic = load(server)
        time.sleep(4)
        traffic.finish()
    finally:
        redis_server.resume()
    assert set(traffic.statuses) == {503}, traffic.statuses
    assert len(traffic.latencies) > 100
    # Reads give up after 0.1 s (redis-py) or 0.25 s (ours): the request that
    # did one waited that long, every other one not at all.
    print(
        f"hanging Redis: {len(traffic.latencies)} requests, p99 {traffic.p99():.3f} s"
    )
    assert traffic.p99() < 0.25 + 0.5, traffic.p99()
    log = server.log_text()
    assert log.count("keeping the last good state") == 1  # said once, not per request
    assert "Timeout reading from socket" in log


def test_a_flush_and_a_garbage_document_keep_the_state_with_one_warning_each(
    start_app: Start, redis_server: RedisServer
) -> None:
    url = redis_server.url
    server = start_app("uvicorn", workers=1, switch_url=url, switch_interval="1")
    maintenance("on", switch_url=url)
    converge(server, 503)
    client = redis_server.client()
    client.flushdb()
    time.sleep(2.5)
    assert converge(server, 503, streak=10) < 1  # still on
    client.set("envmaintenance:switch", b"<html>not a switch</html>")
    time.sleep(2.5)
    assert converge(server, 503, streak=10) < 1
    log = server.log_text()
    assert log.count("the document is gone from") == 1
    assert log.count("is not NAME=value") == 1
    maintenance("off", switch_url=url)
    converge(server, 200)


def test_a_file_switch_replaced_under_load(
    start_app: Start, tmp_path: Path, load: Callable[[Server], Load]
) -> None:
    url = f"file://{tmp_path}/switch"
    server = start_app("gunicorn", workers=4, switch_url=url, switch_interval="1")
    traffic = load(server)
    for action in ("on", "off") * 5:
        maintenance(action, "--reason", "x" * 3000, switch_url=url)
        time.sleep(0.3)
    traffic.finish()
    assert set(traffic.statuses) <= {200, 503}, traffic.statuses
    assert "keeping the last good state" not in server.log_text()  # never half a file
    (tmp_path / "switch").unlink()  # a deliberate act: the environment decides
    assert converge(server, 200) <= INTERVAL + 1


def test_a_configmap_style_symlink_swap_is_seen(
    start_app: Start, tmp_path: Path
) -> None:
    """kubelet updates a ConfigMap volume by swapping the ..data symlink."""
    volume = tmp_path / "volume"
    volume.mkdir()
    for version, mode in (("..v1", "0"), ("..v2", "1")):
        (volume / version).mkdir()
        (volume / version / "switch").write_text(f"MAINTENANCE_MODE={mode}\n")
    (volume / "..data").symlink_to("..v1")
    (volume / "switch").symlink_to("..data/switch")
    url = f"file://{volume}/switch"
    server = start_app("uvicorn", workers=1, switch_url=url, switch_interval="1")
    assert request(server.port, "/", source=BLOCKED).status == 200
    (volume / "..data_tmp").symlink_to("..v2")
    (volume / "..data_tmp").rename(volume / "..data")
    assert converge(server, 503) <= INTERVAL + 1
