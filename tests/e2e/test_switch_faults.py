"""The switch in the incident it exists for, with real servers under load: workers
killed and respawned while Redis is down or hung, Redis back empty, a FIFO or a
truncated file at the switch path. Every answer is counted: no 500, no hang, and
no blocked client let in while the switch says on."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import RedisServer, Server, Start
from tests.e2e.switching import (
    INTERVAL,
    Load,
    converge,
    maintenance,
    respawn_workers,
    still,
    wait_for_workers,
)


def switched_on(start_app: Start, url: str, **settings: str) -> Server:
    server = start_app(
        "gunicorn", workers=4, switch_url=url, switch_interval=str(INTERVAL), **settings
    )
    wait_for_workers(server, 4)
    maintenance("on", "--reason", "migration", switch_url=url)
    converge(server, 503, logged=("(reason: migration)", 4))
    return server


@pytest.mark.parametrize("outage", ["killed", "stopped"])
def test_workers_respawned_while_redis_is_out_keep_maintenance_on(
    start_app: Start,
    redis_server: RedisServer,
    load: Callable[[Server], Load],
    outage: str,
) -> None:
    server = switched_on(start_app, redis_server.url)
    traffic = load(server)
    if outage == "killed":
        redis_server.kill()
    else:
        redis_server.pause()  # accepts connections, never answers
    try:
        time.sleep(INTERVAL * 2)
        respawn_workers(server, 2)  # max_requests, an OOM kill, a reschedule
        wait_for_workers(server, 6)  # four, then the two new ones
        time.sleep(INTERVAL * 2)
        respawn_workers(server, 2)
        wait_for_workers(server, 8)
        time.sleep(INTERVAL * 2)
    finally:
        if outage == "killed":
            redis_server.start()  # empty: persistence is off, the key is gone
        else:
            redis_server.resume()
            redis_server.client().flushdb()  # and back empty too
    time.sleep(INTERVAL * 3)
    traffic.finish()
    print(
        f"Redis {outage}, 4 workers respawned: {sum(traffic.statuses.values())} "
        f"requests, {dict(traffic.statuses)}, p99 {traffic.p99():.3f} s"
    )
    # Not one let in, no 500. A request the killed worker was serving loses its
    # connection (-1): that is kill -9, not the switch.
    assert set(traffic.statuses) <= {503, -1}, traffic.statuses
    assert traffic.statuses[-1] <= 4, traffic.statuses
    log = server.log_text()
    assert log.count("keeping the cached revision 1") >= 4  # each new worker
    assert "Traceback" not in log
    maintenance("off", switch_url=redis_server.url)  # and switching works again
    converge(server, 200)


def test_unreadable_on_starts_in_maintenance_without_store_or_cache(
    start_app: Start, redis_server: RedisServer
) -> None:
    url = redis_server.url
    redis_server.kill()
    server = start_app(
        "gunicorn",
        workers=2,
        switch_url=url,
        switch_interval=str(INTERVAL),
        switch_unreadable="on",
    )
    assert still(server, 503)
    assert "keeping maintenance on (MAINTENANCE_SWITCH_UNREADABLE=on)" in (
        server.log_text()
    )
    redis_server.start()  # it answers, with no document: the environment (off)
    converge(server, 200)


@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_a_fifo_at_the_switch_path_never_wedges_a_process(
    start_app: Start, tmp_path: Path, load: Callable[[Server], Load], kind: str
) -> None:
    path = tmp_path / "switch"
    url = f"file://{path}"
    server = start_app(kind, workers=2, switch_url=url, switch_interval=str(INTERVAL))
    maintenance("on", switch_url=url)
    converge(server, 503)
    traffic = load(server)
    path.unlink()
    os.mkfifo(path)  # a hung NFS mount behaves alike: reads that never return
    time.sleep(INTERVAL * 3)
    path.unlink()
    path.write_text("MAINTENANCE_MODE=0\n")  # fixed: every process follows
    converge(server, 200)
    traffic.finish()
    assert set(traffic.statuses) <= {200, 503}, traffic.statuses
    assert traffic.statuses[503] > 0
    assert "not a regular file (a FIFO)" in server.log_text()
    server.stop()
    assert server.process.returncode is not None  # exits; no reader holds it


def test_a_switch_file_rewritten_in_place_under_load_never_lets_anyone_in(
    start_app: Start, tmp_path: Path, load: Callable[[Server], Load]
) -> None:
    """An editor or a shell redirect truncates, then writes: a reader landing in
    between finds an empty file, and must keep the state."""
    path = tmp_path / "switch"
    url = f"file://{path}"
    server = switched_on(start_app, url)
    traffic = load(server)
    document = path.read_text()
    deadline = time.monotonic() + INTERVAL * 4
    rewrites = 0
    while time.monotonic() < deadline:
        with path.open("w") as target:  # truncates
            target.flush()
            time.sleep(0.01)  # the window a reader may land in
            target.write(document)
        rewrites += 1
    traffic.finish()
    print(f"{rewrites} in-place rewrites: {dict(traffic.statuses)}")
    assert set(traffic.statuses) == {503}, traffic.statuses
    assert "the document is empty" in server.log_text()


def test_gunicorn_preload_workers_each_read_the_switch(
    start_app: Start, tmp_path: Path
) -> None:
    """--preload builds the middleware in the arbiter, which forks the workers:
    each worker starts a reader of its own."""
    url = f"file://{tmp_path}/switch"
    server = start_app(
        "gunicorn",
        workers=3,
        switch_url=url,
        switch_interval=str(INTERVAL),
        environment={"GUNICORN_CMD_ARGS": "--preload"},
    )
    assert server.log_text().count("following the switch at") == 1  # the arbiter
    maintenance("on", "--reason", "preloaded", switch_url=url)
    converge(server, 503, logged=("(reason: preloaded)", 3))
    maintenance("off", "--reason", "done", switch_url=url)
    converge(server, 200, logged=("(reason: done)", 3))
