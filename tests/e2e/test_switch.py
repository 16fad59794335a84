"""The runtime switch across real processes: gunicorn with 4 workers and uvicorn,
redis-server started here and killed, stopped and flushed, and file switches
replaced under load. Intervals are 1 s so the suite stays short."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import RedisServer, Server, Start, request
from tests.e2e.switching import (
    BLOCKED,
    INTERVAL,
    Load,
    converge,
    maintenance,
    still,
    until,
    wait_for_workers,
)

SERVERS = ["gunicorn", "uvicorn"]
WORKERS = {"gunicorn": 4, "uvicorn": 2}  # the fleet the other switch tests run


@pytest.mark.parametrize("kind", SERVERS)
def test_on_off_env_reach_every_worker_within_the_interval(
    start_app: Start, redis_server: RedisServer, kind: str
) -> None:
    url = redis_server.url
    workers = WORKERS[kind]
    server = start_app(
        kind, workers=workers, mode="1", switch_url=url, switch_interval=str(INTERVAL)
    )
    wait_for_workers(server, workers)
    assert request(server.port, "/", source=BLOCKED).status == 503  # environment
    steps = [("off", 200), ("on", 503), ("off", 200), ("env", 503)]
    for number, (action, status) in enumerate(steps):
        reason = f"step {number}"
        out = maintenance(action, "--by", "tester", "--reason", reason, switch_url=url)
        # Each write is the next revision.
        signed = f", revision {number + 1} by tester (reason: {reason}): "
        assert f"{signed}every process follows within {INTERVAL + 1} s" in out
        seconds = converge(server, status, logged=(f"(reason: {reason})", workers))
        print(
            f"{kind}: '{action}' served by all {workers} workers after {seconds:.2f} s"
        )
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
    redis_server.start()  # empty: persistence is off, the document is lost
    time.sleep(2)
    traffic.finish()
    assert set(traffic.statuses) == {503}, traffic.statuses  # no 500, no 200
    print(
        f"Redis killed: {sum(traffic.statuses.values())} requests, all 503, "
        f"p99 {traffic.p99():.3f} s"
    )
    out = maintenance("off", switch_url=url)  # switching works again
    # Above the revision the fleet holds, never reusing a number.
    assert "the fleet holds revision 1: writing revision 2, above it." in out
    # No back-off: every worker reads each interval, through the outage too.
    recovered = converge(server, 200)
    print(f"after the outage, 'off' served everywhere in {recovered:.2f} s")
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
        time.sleep(INTERVAL * 4)  # reads that hang, for several intervals
        # and a hundred answers at least, however loaded the machine
        until(lambda: len(traffic.latencies) >= 100, "a hundred answers")
        traffic.finish()
    finally:
        redis_server.resume()
    assert set(traffic.statuses) == {503}, traffic.statuses
    # Reads happen in the background: no request waits on the hung store.
    print(
        f"hanging Redis: {len(traffic.latencies)} requests, p99 {traffic.p99():.3f} s"
    )
    # Said when the trouble starts, not per request: one line, or a few when a
    # loaded machine turns a slow answer into an abandoned read (other words).
    troubles = [
        line
        for line in server.log_text().splitlines()
        if "Maintenance switch: " in line and "until it is readable again" in line
    ]
    assert 1 <= len(troubles) <= 3, troubles
    assert all(url in line for line in troubles), troubles  # our line names it
    assert all("keeping revision 1 (maintenance on)" in line for line in troubles)


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
    assert still(server, 503)
    client.set("envmaintenance:switch", b"<html>not a switch</html>")
    time.sleep(2.5)
    assert still(server, 503)
    log = server.log_text()
    assert log.count("the store has lost the document") == 1
    assert log.count("is not NAME=value") == 1
    maintenance("off", switch_url=url)
    converge(server, 200)


def test_a_file_switch_replaced_under_load(
    start_app: Start, tmp_path: Path, load: Callable[[Server], Load]
) -> None:
    url = f"file://{tmp_path}/switch"
    server = start_app("gunicorn", workers=4, switch_url=url, switch_interval="1")
    traffic = load(server)
    for action in ("off", "on"):
        maintenance(action, "--reason", "x" * 3000, switch_url=url)
        time.sleep(0.3)
    traffic.finish()
    assert set(traffic.statuses) <= {200, 503}, traffic.statuses
    log = server.log_text()
    assert "Maintenance switch: rejected" not in log  # never half a file
    assert "Maintenance switch: cannot read" not in log
    # Every worker holds revision 2 (a streak of 503s can miss one of four).
    converge(server, 503, logged=("switched on, revision 2", 4))
    # A document deleted after revision 2 was written is lost, not "off":
    # every process keeps revision 2; `env` hands back to the environment.
    (tmp_path / "switch").unlink()
    until(
        lambda: server.log_text().count("the store has lost the document") >= 4,
        "every worker seeing the document lost",
    )
    assert still(server, 503)
    assert "writing revision 3, above it." in maintenance("env", switch_url=url)
    converge(server, 200)


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
    converge(server, 503)
