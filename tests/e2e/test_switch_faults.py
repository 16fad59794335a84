"""The switch in the incident it exists for, with real servers under load: workers
killed and respawned while Redis is down or hung, Redis back empty, a full disk
under the cache, a FIFO or a truncated file at the switch path. Every answer is
counted: no 500, no hang, and no blocked client let in while the switch says on
(the FIGURE lines, with pytest -s)."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from envmaintenance.cache import SwitchCache
from envmaintenance.conf import load_config
from envmaintenance.switch import cache_name
from tests.e2e.conftest import RedisServer, Server, Start
from tests.e2e.switching import (
    BLOCKED,
    INTERVAL,
    Load,
    command,
    converge,
    maintenance,
    members,
    respawn_workers,
    still,
    until,
    wait_for_workers,
    written_revision,
)

# gunicorn's access log with the pid of the worker that answered.
PID_ACCESS_LOG = {"GUNICORN_CMD_ARGS": "--access-logformat '%(p)s %(s)s %(h)s'"}
_ANSWERED = re.compile(rf"^<([0-9]+)> ([0-9]{{3}}) {re.escape(BLOCKED)}$", re.M)


def answered_by(server: Server, pid: int) -> Counter[int]:
    """The statuses one worker answered the blocked client with (PID_ACCESS_LOG)."""
    return Counter(
        int(status)
        for worker, status in _ANSWERED.findall(server.log_text())
        if int(worker) == pid
    )


def let_in(statuses: Counter[int]) -> int:
    """Blocked requests answered by the site, not the 503 (-1: a connection
    the kill -9 of its worker cut)."""
    return sum(count for status, count in statuses.items() if status not in (503, -1))


def switched_on(start_app: Start, url: str, **settings: Any) -> Server:
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
        respawn_workers(server, 4)  # max_requests, an OOM kill, a reschedule
        wait_for_workers(server, 8)  # four, then the four new ones
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
    between finds an empty file, and must keep the state (and, once it reads
    the whole file again, no longer report the empty one as rejected)."""
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
    # The file is whole again: no worker still reports rejecting the empty one.
    until(
        lambda: (
            all(row["rejected"] is None for row in members(url))
            and len(members(url)) == 4
        ),
        "every worker reporting no rejection",
    )


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


def test_a_worker_respawned_after_redis_came_back_empty_serves_503_at_once(
    start_app: Start, redis_server: RedisServer, load: Callable[[Server], Load]
) -> None:
    """Redis restarts empty (a flush, an eviction, a failover) and then a worker
    is replaced: the new worker starts from its host's cache and keeps the
    revision the fleet holds, from its first request; the command names the
    lost document and writes the next revision above it."""
    url = redis_server.url
    server = switched_on(start_app, url, environment=PID_ACCESS_LOG)  # revision 1
    traffic = load(server)
    redis_server.kill()
    redis_server.start()  # persistence is off: back empty
    until(
        lambda: server.log_text().count("the store has lost the document") >= 4,
        "every worker seeing the document lost",
    )
    [respawned] = respawn_workers(server, 1)
    until(
        lambda: sum(answered_by(server, respawned).values()) >= 20,
        "the respawned worker answering",
    )
    traffic.finish()
    answers = answered_by(server, respawned)
    print(
        f"FIGURE Redis back empty, a worker respawned: {let_in(traffic.statuses)} "
        f"blocked requests let in of {sum(traffic.statuses.values())} (the respawned "
        f"worker: {dict(answers)})"
    )
    assert set(answers) == {503}  # from its first request
    assert let_in(traffic.statuses) == 0, traffic.statuses
    assert traffic.statuses[-1] <= 4, traffic.statuses
    until(lambda: len(members(url)) == 4, "the four workers reporting again")
    status = command(url=url)
    assert status.returncode == 0, status.stderr
    assert "the store has LOST its document" in status.stdout
    assert "revision 1 was written; the next write is revision 2" in status.stdout
    result = command("on", "--wait", "20", url=url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "the fleet holds revision 1: writing revision 2, above it." in result.stdout
    assert written_revision(result.stdout) == 2
    assert "Traceback" not in server.log_text()


class Disk:
    """A directory whose writes can be made to fail for a while. As root, whom
    permissions stop from nothing, a 64 KiB tmpfs filled up (a full disk);
    as another user (CI), the directory made read-only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(mode=0o700)
        self.mounted = os.geteuid() == 0
        if self.mounted:
            mounting = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", path],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            if mounting.returncode != 0:
                pytest.fail(
                    f"as root, a full disk needs a tmpfs, and mount failed "
                    f"(CAP_SYS_ADMIN?): {mounting.stderr}",
                    pytrace=False,
                )

    def fill(self) -> None:
        """Full until free(). What is in it stays pinned by a hard link, so
        that removing a file frees nothing: the disk stays full, as one whose
        space other writers take back at once."""
        if not self.mounted:
            self.path.chmod(0o500)
            return
        for path in list(self.path.iterdir()):
            os.link(path, self.path / f"pinned-{path.name}")
        filler = (self.path / "filler").open("wb", buffering=0)
        with filler, contextlib.suppress(OSError):  # ENOSPC, once full
            while True:
                filler.write(b"\0" * 4096)
        assert os.statvfs(self.path).f_bavail == 0

    def free(self) -> None:
        if not self.mounted:
            self.path.chmod(0o700)
            return
        for path in self.path.glob("pinned-*"):
            path.unlink()
        (self.path / "filler").unlink()

    def remove(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "--lazy", self.path], timeout=30, check=True)
        else:
            self.path.chmod(0o700)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Disk]:
    """Ask for it before the servers: it goes once they have stopped."""
    disk = Disk(tmp_path / "disk")
    yield disk
    disk.remove()


def trusted_revision(cache: Path, url: str) -> int | None:
    """The revision a process starting now would take from the cache: None
    when it would not trust the file (gone, or marked untrusted)."""
    config = load_config({"MAINTENANCE_SWITCH_URL": url})
    with contextlib.suppress(OSError):
        cached = SwitchCache(cache, cache_name(config)).load(time.time())
        return None if cached is None else cached.revision
    return None


def test_a_cache_write_that_failed_is_retried_so_a_respawn_starts_current(
    small_disk: Disk,
    start_app: Start,
    redis_server: RedisServer,
    load: Callable[[Server], Load],
) -> None:
    """A full disk for a few seconds while a revision arrives, then `on --wait`,
    then Redis hung and a worker replaced: the new worker starts from the
    revision the fleet switched to, not from the one cached before the disk
    filled up."""
    url, cache = redis_server.url, small_disk.path / "switch.json"
    server = start_app(
        "gunicorn",
        workers=4,
        switch_url=url,
        switch_interval=str(INTERVAL),
        switch_cache=str(cache),
        environment=PID_ACCESS_LOG,
    )
    wait_for_workers(server, 4)
    # The command is given the cache too, as on a web host: it never writes it.
    before = command("off", "--reason", "before", url=url, switch_cache=str(cache))
    assert before.returncode == 0, before.stderr
    converge(server, 200, logged=("(reason: before)", 4))
    until(lambda: trusted_revision(cache, url) == 1, "revision 1 cached")
    small_disk.fill()
    try:
        full = command("off", "--reason", "disk full", url=url, switch_cache=str(cache))
        assert written_revision(full.stdout) == 2
        until(
            lambda: server.log_text().count(f"cannot write the cache {cache} ") >= 4,
            "every worker failing to cache revision 2",
        )
        # Revision 1 is older than what the workers serve: nobody starts from it.
        assert trusted_revision(cache, url) is None
    finally:
        small_disk.free()
    until(
        lambda: server.log_text().count(f"the cache {cache} is written again") >= 4,
        "every worker writing the cache again",
    )
    assert trusted_revision(cache, url) == 2
    switched = command("on", "--wait", "20", url=url, switch_cache=str(cache))
    assert switched.returncode == 0, switched.stdout + switched.stderr
    assert written_revision(switched.stdout) == 3
    until(lambda: trusted_revision(cache, url) == 3, "revision 3 cached")
    traffic = load(server)
    redis_server.pause()  # hung: connections accepted, nothing answered
    try:
        [respawned] = respawn_workers(server, 1)
        until(
            lambda: sum(answered_by(server, respawned).values()) >= 20,
            "the respawned worker answering",
        )
    finally:
        redis_server.resume()
    traffic.finish()
    answers = answered_by(server, respawned)
    print(
        f"FIGURE a full disk, then Redis hung and a worker respawned: "
        f"{let_in(traffic.statuses)} blocked requests let in of "
        f"{sum(traffic.statuses.values())} (the respawned worker: {dict(answers)}); "
        f"on --wait exit {switched.returncode}; the cache written by "
        f"{'a full 64 KiB tmpfs' if small_disk.mounted else 'a read-only directory'}"
    )
    assert set(answers) == {503}
    assert let_in(traffic.statuses) == 0, traffic.statuses
    assert "keeping the cached revision 3" in server.log_text()
