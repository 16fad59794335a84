"""Knowing that the fleet has switched, with real servers: gunicorn with four
workers and uvicorn with two following one Redis, shared by this module's tests;
a test that stops, kills, cuts off or preloads a server starts one of its own
beside them. Each figure the revisioned switch promises (blocked requests let in,
the wait's exit status and time) is printed as a FIGURE line (pytest -s)."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from envmaintenance import fleet_words
from envmaintenance.documents import revision_of
from envmaintenance.waiting import FleetBehind, wait_for_fleet
from tests.e2e.conftest import RedisServer, Server, Start, request
from tests.e2e.forwarder import Forwarder
from tests.e2e.switching import (
    BLOCKED,
    INTERVAL,
    Background,
    command,
    confirmed_seconds,
    connected,
    members,
    members_by_pid,
    reporting,
    respawn_workers,
    switch_store,
    until,
    wait_for_workers,
    workers_of,
    written_revision,
)

KEY = "envmaintenance:switch"


@dataclass
class Fleet:
    url: str
    servers: list[Server]  # gunicorn, uvicorn
    pids: set[int]  # every process that serves and reports


@pytest.fixture(scope="module")
def fleet(start_module_app: Start, module_redis_server: RedisServer) -> Fleet:
    """gunicorn with 4 workers and uvicorn with 2, one Redis switch, all reporting."""
    url = module_redis_server.url
    servers, pids = [], set()
    for kind, workers in (("gunicorn", 4), ("uvicorn", 2)):
        server = start_module_app(
            kind, workers=workers, switch_url=url, switch_interval=str(INTERVAL)
        )
        wait_for_workers(server, workers)
        pids |= reporting(url, server, workers)
        servers.append(server)
    return Fleet(url, servers, pids)


def start_beside(start_app: Start, url: str, **settings: Any) -> Server:
    """One more gunicorn with 4 workers, of this test's own, on the fleet's switch
    (or, with another URL, the same Redis another way)."""
    return start_app(
        "gunicorn",
        workers=4,
        switch_url=url,
        switch_interval=str(INTERVAL),
        **settings,
    )


def confirm(action: str, url: str) -> tuple[int, str]:
    """``action --wait``, which must succeed: the revision written, and the output."""
    result = command(action, "--wait", "30", url=url)
    assert result.returncode == 0, result.stdout + result.stderr
    return written_revision(result.stdout), result.stdout


def all_confirmed(output: str, processes: int, revision: int) -> bool:
    return (
        f"All {processes} processes (every process seen in the last hour) serve "
        f"revision {revision}" in output
    )


def let_in(server: Server, requests: int = 20) -> int:
    """How many of ``requests`` from a blocked client were let in (not 503)."""
    statuses = [
        request(server.port, "/", source=BLOCKED).status for _ in range(requests)
    ]
    return sum(status != 503 for status in statuses)


def stored_revision(client: Any) -> int:
    """The revision of the document in Redis, read straight from it."""
    stored = client.get(KEY)
    return revision_of(None if stored is None else stored.decode())


def named(pid: int, kind: str, why: str) -> re.Pattern[str]:
    """A member named in a failed wait: '  host:pid (kind, id): why…'."""
    return re.compile(rf"^  \S+:{pid} \({kind}, [0-9a-f]{{16}}\): {why}", re.M)


def test_on_wait_confirms_every_worker(fleet: Fleet) -> None:
    started = time.monotonic()
    result = command("on", "--wait", url=fleet.url)
    seconds = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    revision = written_revision(result.stdout)
    assert all_confirmed(result.stdout.splitlines()[-1], 6, revision)
    print(
        f"FIGURE healthy: on --wait exit 0, confirmed in "
        f"{confirmed_seconds(result.stdout):.1f} s (the command: {seconds:.2f} s)"
    )
    listing = json.loads(command("processes", "--json", url=fleet.url).stdout)
    assert listing["unreadable"] == 0
    rows = listing["processes"]
    assert {row["pid"] for row in rows} == fleet.pids
    assert {row["server"] for row in rows} == {"gunicorn", "uvicorn"}
    assert {(row["revision"], row["state"], row["silent"]) for row in rows} == {
        (revision, "on", False)
    }
    assert all(row["rejected"] is None for row in rows)
    for server in fleet.servers:  # every worker has switched: not one lets anyone in
        assert let_in(server) == 0


def test_wait_drains_a_request_admitted_before_the_switch(fleet: Fleet) -> None:
    confirm("off", fleet.url)
    slow: dict[str, float] = {}

    def write_slowly() -> None:
        answer = request(fleet.servers[0].port, "/slow/?seconds=3", source=BLOCKED)
        slow["status"], slow["done"] = answer.status, time.monotonic()

    writer = threading.Thread(target=write_slowly)
    writer.start()
    # Admitted while maintenance is off: the command takes longer than this to
    # start, and the workers up to an interval more to switch.
    time.sleep(0.5)
    started = time.monotonic()
    result = command("on", "--wait", url=fleet.url)
    returned = time.monotonic()
    writer.join(10)
    assert result.returncode == 0, result.stdout + result.stderr
    assert slow["status"] == 200  # it was let in, and finished
    assert returned >= slow["done"]  # the wait outlasted it
    assert "after 1 request from before it finished" in result.stdout
    print(f"slow request: on --wait returned after {returned - started:.2f} s")


@dataclass
class Stream:
    """A streaming response read line by line, in a thread of its own."""

    port: int | Path
    path: str
    status: int = 0
    lines: list[str] = field(default_factory=list)
    ended: float = 0.0
    started: threading.Event = field(default_factory=threading.Event)

    def open(self) -> Stream:
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()
        assert self.started.wait(30), "the stream never started"
        return self

    def read(self) -> None:
        assert isinstance(self.port, int)
        connection = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=30, source_address=(BLOCKED, 0)
        )
        try:
            connection.request("GET", self.path)
            answer = connection.getresponse()
            self.status = answer.status
            self.started.set()
            while line := answer.readline():
                self.lines.append(line.decode())
            self.ended = time.monotonic()
        finally:
            self.started.set()
            connection.close()


def test_wait_returns_after_the_last_chunk_of_a_streaming_response(
    fleet: Fleet,
) -> None:
    confirm("off", fleet.url)
    # Long enough to outlast the command's start and the workers' switch.
    streams = [
        Stream(server.port, "/stream/?seconds=6").open() for server in fleet.servers
    ]
    started = time.monotonic()
    result = command("on", "--wait", url=fleet.url)
    returned = time.monotonic()
    for stream in streams:
        stream.thread.join(30)
    assert result.returncode == 0, result.stdout + result.stderr
    for stream in streams:
        assert stream.status == 200  # let in while off
        assert stream.lines[-1] == "chunk 6 of 6\n"  # streamed to its end
        assert returned >= stream.ended  # and the wait outlasted its last chunk
    assert "after 2 requests from before it finished" in result.stdout
    print(
        f"streaming responses (gunicorn and uvicorn): on --wait returned after "
        f"{returned - started:.2f} s, {returned - max(s.ended for s in streams):.2f} s "
        f"after the last chunk"
    )


def test_a_half_second_redis_stall_during_the_wait_is_waited_out(
    fleet: Fleet, module_redis_server: RedisServer
) -> None:
    confirm("off", fleet.url)
    running = Background("on", "--wait", "10", url=fleet.url)
    revision = running.written()
    module_redis_server.pause()  # accepts connections, answers nothing
    try:
        assert running.process.poll() is None  # the stall falls in the wait
        time.sleep(0.5)
    finally:
        module_redis_server.resume()
    result = running.finish()
    assert result.returncode == 0, result.stdout + result.stderr
    assert all_confirmed(result.stdout, 6, revision)
    print(
        f"FIGURE stall: Redis stopped 0.5 s during on --wait 10: exit "
        f"{result.returncode}, confirmed in {confirmed_seconds(result.stdout):.1f} s"
    )
    for server in fleet.servers:
        assert let_in(server) == 0


def race(url: str, redis: RedisServer, names: tuple[str, str]) -> list[Any] | None:
    """Two `on` started together, made to overlap: Redis is stopped until both
    have connected, so that their reads and writes interleave (most times
    both read the same document, and one write is refused). None when one
    gave up waiting for the stopped Redis (a machine so loaded that the second
    took over two seconds to start): no race then."""
    redis.pause()
    try:
        racing = [Background("on", "--by", name, url=url) for name in names]
        until(
            lambda: all(
                connected(r.process.pid, redis.port) or r.process.poll() is not None
                for r in racing
            ),
            "both commands connected",
        )
    finally:
        redis.resume()
    results = [running.finish() for running in racing]
    if any("the switch was not changed: cannot read" in r.stderr for r in results):
        return None
    return results


def test_two_on_commands_racing_never_lose_a_write(
    fleet: Fleet, module_redis_server: RedisServer
) -> None:
    """Each gets a revision of its own, or is refused naming the other; the
    store's revision counts every write that said it succeeded. Races until
    one was refused (so both outcomes were seen), at most eight."""
    client = module_redis_server.client()
    first = stored_revision(client)
    written, refused, races = [], 0, 0
    for attempt in range(8):
        names = (f"alice-{attempt}", f"bob-{attempt}")
        results = race(fleet.url, module_redis_server, names)
        if results is None:
            continue
        races += 1
        for result, other in zip(results, reversed(names), strict=True):
            if result.returncode == 0:
                written.append(written_revision(result.stdout))
                continue
            refused += 1
            assert result.returncode == 1, result.stderr
            assert (
                "Nothing was written: the switch changed while this command ran: "
                "maintenance was switched on, revision " in result.stderr
            )
            assert f" by {other} at " in result.stderr  # names who did
        assert any(result.returncode == 0 for result in results)
        assert sorted(written) == list(range(first + 1, first + 1 + len(written)))
        assert stored_revision(client) == first + len(written)  # none lost
        if refused:
            break
    assert refused, f"no write refused in {races} races"
    print(f"{races} races of two 'on': {len(written)} written, {refused} refused")


def test_a_document_no_process_can_parse_is_rejected_by_every_process(
    fleet: Fleet, module_redis_server: RedisServer
) -> None:
    revision, _ = confirm("on", fleet.url)
    bad = revision + 1
    module_redis_server.client().set(KEY, f"REVISION={bad}\nMAINTENANCE_MODE=maybe\n")

    def rejected_by_all() -> dict[int, dict[str, object]] | None:
        rows = members_by_pid(fleet.url, fleet.pids)
        refusals = [row["rejected"] for row in rows.values()]
        every = len(rows) == 6 and all(r and r["revision"] == bad for r in refusals)
        return rows if every else None

    rows = until(rejected_by_all, f"every process rejecting revision {bad}")
    errors = {row["rejected"]["error"] for row in rows.values()}  # type: ignore[index]
    assert len(errors) == 1, errors
    [error] = errors
    assert "MAINTENANCE_MODE" in error  # the parser's own words name the line
    assert {(row["revision"], row["state"]) for row in rows.values()} == {
        (revision, "on")  # the last good state, kept
    }
    listing = json.loads(command("processes", "--json", url=fleet.url).stdout)
    assert all(r["rejected"]["revision"] == bad for r in listing["processes"])
    status = command(url=fleet.url)
    assert status.returncode == 0, status.stderr
    assert f"revision {bad}: {error}" in status.stdout
    blocked_let_in = sum(let_in(server) for server in fleet.servers)
    assert blocked_let_in == 0
    # A wait for the revision every process rejected fails at once, quoting it.
    started = time.monotonic()
    with pytest.raises(FleetBehind) as failed:
        wait_for_fleet(switch_store(fleet.url), bad, 300, 3600, revision_of)
    seconds = time.monotonic() - started
    said = fleet_words.behind(failed.value, bad, 300, time.time())
    assert f"The switch was written (revision {bad}), but 6 processes rejected it:" in (
        said
    )
    assert said.count(f"{error}; still serving revision {revision}") == 6
    assert seconds < 150  # a hang guard far below the five minutes it had: at once
    print(
        f"FIGURE rejected document: {blocked_let_in} blocked requests let in; the "
        f"wait for it failed in {seconds:.2f} s of 10"
    )
    after, _ = confirm("on", fleet.url)  # the next write goes above it
    assert after == bad + 1
    assert all(row["rejected"] is None for row in members(fleet.url))


def test_a_stopped_worker_is_silent_and_fails_the_wait_by_name(
    fleet: Fleet, start_app: Start
) -> None:
    beside = start_beside(start_app, fleet.url)
    stopped = min(reporting(fleet.url, beside, 4))
    os.kill(stopped, signal.SIGSTOP)  # a debugger, a stuck GC
    try:
        # Its last report ages past three intervals while the command waits.
        started = time.monotonic()
        result = command("on", "--wait", "5", url=fleet.url)
        seconds = time.monotonic() - started
    finally:
        os.kill(stopped, signal.SIGCONT)
    print(
        f"FIGURE one worker stopped: --wait 5 exit {result.returncode} "
        f"in {seconds:.2f} s"
    )
    assert result.returncode == 1
    assert "but 1 of 10 processes are behind after 5 s:" in result.stderr
    assert named(stopped, "gunicorn", r"silent since \d+ s ago").search(result.stderr)
    revision, output = confirm("on", fleet.url)  # reporting again, it switches
    assert all_confirmed(output, 10, revision)


def test_a_killed_worker_is_removed_by_a_sibling_on_its_host(
    fleet: Fleet, start_app: Start
) -> None:
    """kill -9 leaves the worker's report behind; gunicorn replaces the worker,
    and a live process of the same host finds the pid gone and removes it."""
    beside = start_beside(start_app, fleet.url)
    reporting(fleet.url, beside, 4)
    killed = workers_of(beside)[0]
    [respawned] = respawn_workers(beside, 1)

    def replaced() -> bool:
        pids = {row["pid"] for row in members(fleet.url)}
        return killed not in pids and respawned in pids

    until(replaced, f"worker {killed} replaced by {respawned} in the reports")
    listing = json.loads(command("processes", "--json", url=fleet.url).stdout)
    assert {row["pid"] for row in listing["processes"]} == fleet.pids | set(
        workers_of(beside)
    )
    revision, output = confirm("on", fleet.url)
    assert all_confirmed(output, 10, revision)


def test_a_clean_exit_removes_the_report(fleet: Fleet, start_app: Start) -> None:
    beside = start_app(
        "gunicorn", workers=2, switch_url=fleet.url, switch_interval=str(INTERVAL)
    )
    reporting(fleet.url, beside, 2)
    beside.stop()  # SIGTERM: its workers exit cleanly, each removing itself
    listing = json.loads(command("processes", "--json", url=fleet.url).stdout)
    assert {row["pid"] for row in listing["processes"]} == fleet.pids
    revision, output = confirm("on", fleet.url)
    assert all_confirmed(output, 6, revision)


def test_a_preloading_gunicorn_master_is_not_a_member(
    fleet: Fleet, start_app: Start
) -> None:
    """--preload builds the middleware in the master, which then forks the
    workers: it serves nothing, so no wait may wait for it."""
    beside = start_beside(
        start_app, fleet.url, environment={"GUNICORN_CMD_ARGS": "--preload"}
    )
    master = beside.process.pid
    workers = reporting(fleet.url, beside, 4)
    assert beside.log_text().count("following the switch at") == 1  # the master's
    listing = json.loads(command("processes", "--json", url=fleet.url).stdout)
    pids = {row["pid"] for row in listing["processes"]}
    assert master not in pids
    assert pids == fleet.pids | workers
    revision, output = confirm("on", fleet.url)
    assert all_confirmed(output, 10, revision)


@pytest.fixture
def forwarder(module_redis_server: RedisServer) -> Iterator[Forwarder]:
    """A TCP forwarder to the fleet's Redis. Ask for it before start_app: it
    closes after the servers behind it have stopped (and left)."""
    forwarding = Forwarder(module_redis_server.port)
    yield forwarding
    forwarding.close()


def test_a_partitioned_gunicorn_is_named_silent_until_it_is_back(
    fleet: Fleet, forwarder: Forwarder, start_app: Start
) -> None:
    """One gunicorn reaches Redis through a forwarder, which is cut for longer
    than three intervals: its workers keep serving what they had, so no wait may
    say every process switched until they are back."""
    confirm("off", fleet.url)
    beside = start_beside(start_app, f"redis://127.0.0.1:{forwarder.port}/0")
    cut_off = reporting(fleet.url, beside, 4)
    forwarder.cut()
    try:
        # Cut off for the whole wait: longer than three intervals.
        started = time.monotonic()
        result = command("on", "--wait", "5", url=fleet.url)
        partitioned = time.monotonic() - started
        let_in_cut_off = let_in(beside)  # it still serves what it had: off
    finally:
        forwarder.restore()
    assert result.returncode == 1, result.stdout
    assert "but 4 of 10 processes are behind after 5 s:" in result.stderr
    for pid in cut_off:
        why = r"silent since \d+ s ago \(it last served revision \d+, maintenance off"
        assert named(pid, "gunicorn", why).search(result.stderr)
    assert not any(f":{pid} (" in result.stderr for pid in fleet.pids)
    started = time.monotonic()
    revision, output = confirm("on", fleet.url)
    restored = time.monotonic() - started
    assert all_confirmed(output, 10, revision)
    blocked_let_in = let_in(beside)
    assert blocked_let_in == 0  # once confirmed, the cut-off one switched too
    print(
        f"FIGURE partition: on --wait 5 exit 1 after {partitioned:.2f} s naming the "
        f"4 cut-off workers silent (meanwhile they let in {let_in_cut_off} of 20 "
        f"blocked requests, as the wait said); restored, on --wait exit 0 in "
        f"{restored:.2f} s (confirmed in {confirmed_seconds(output):.1f} s); "
        f"{blocked_let_in} blocked requests let in after it"
    )
