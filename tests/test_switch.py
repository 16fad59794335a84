"""The switch in a process: the background reader, bounded reads, what it logs,
the local cache it keeps, its reports, and forks.

A scripted store stands in for a failing one here; the real file store is used
as is, and the real Redis (killed, hung, flushed, partitioned) and real servers
are in tests/e2e/test_switch*.py and test_fleet.py. Reads are driven with
refresh() and tick(), as the reader does; the reader thread itself runs where a
test says so.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest

from envmaintenance.cache import Cached, SwitchCache
from envmaintenance.conf import Config, load_config
from envmaintenance.fleet import Reporter, parse_report
from envmaintenance.state import State
from envmaintenance.stores import Member, StoreError, SwitchLocation
from envmaintenance.stores.file import FileStore
from envmaintenance.switch import Switch
from tests.processes import ROOT

ON = "REVISION=1\nMAINTENANCE_MODE=1\nSET_BY=alice\nREASON=db upgrade\n"
OFF = "REVISION=2\nMAINTENANCE_MODE=0\nSET_BY=bob\n"
# Off first, then on: in the order of their revisions.
FIRST_OFF = "REVISION=1\nMAINTENANCE_MODE=0\n"
THEN_ON = "REVISION=2\nMAINTENANCE_MODE=1\n"
ENVIRONMENT = load_config({})  # interval 2 s
REDIS = SwitchLocation("redis", "redis://cache:6379/0", "redis://cache:6379/0")
DOWN = StoreError("cannot read redis://cache:6379/0: Connection refused")


class ScriptedMembers:
    """Reports kept in memory; the fleet's highest revision as scripted."""

    where = "memory"

    def __init__(self, highest: int | None = None) -> None:
        self.reports: dict[str, bytes] = {}
        self.highest = highest
        self.left: list[str] = []

    def can_report(self) -> bool:
        return True

    def report(self, member: Member, revision: int, data: bytes) -> None:
        self.reports[member.id] = data

    def leave(self, member: Member) -> None:
        self.left.append(member.id)
        self.reports.pop(member.id, None)

    def forget(self, ids: Iterable[str]) -> None:
        for member_id in ids:
            self.reports.pop(member_id, None)

    def read(self) -> list[tuple[str, bytes]]:
        return list(self.reports.items())

    def siblings(self, host_key: str) -> list[Member]:
        return []

    def highest_revision(self) -> int | None:
        return self.highest


class ScriptedStore:
    """Answers from a script: text, None (no document), or an exception."""

    location = REDIS

    def __init__(self, *answers: str | Exception | None) -> None:
        self.answers = list(answers)
        self.reads = 0
        self.gate: threading.Event | None = None
        self.members = ScriptedMembers()

    def read(self) -> str | None:
        self.reads += 1
        if self.gate is not None:
            self.gate.wait(10)
        answer = self.answers[0] if len(self.answers) == 1 else self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def write(
        self,
        text: str,
        expected: str | None,
        *,
        force: bool = False,
        entry: bytes = b"",
    ) -> None:
        raise AssertionError("processes never write")

    @property
    def history(self) -> NoHistory:
        return NoHistory()


class NoHistory:
    def append(self, entry: bytes) -> None:
        raise AssertionError("processes never write the history")

    def read(self, count: int) -> list[bytes]:
        return []


Log = Callable[[], list[str]]


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], list[str]]]:
    with caplog.at_level(logging.DEBUG, logger="envmaintenance"):
        yield lambda: [f"{r.levelname} {r.getMessage()}" for r in caplog.records]


def file_switch(path: Path, config: Config = ENVIRONMENT) -> Switch:
    location = SwitchLocation("file", f"file://{path}", f"file://{path}", path)
    return Switch(config, FileStore(location))


def serving(switch: Switch) -> Switch:
    """A switch that serves (writes its cache); tests that use it keep its
    reader from running (no_reader) and drive its reads."""
    switch.start()
    return switch


def tick(switch: Switch) -> None:
    """What the reader does after an interval."""
    switch.refresh(time.time())


def test_without_a_store_the_environment_decides_and_nothing_is_read() -> None:
    switch = Switch(load_config({"MAINTENANCE_MODE": "1"}), None)
    assert switch.current(1e12).is_active(0)
    assert switch.state.source == "environment"
    switch.start()
    assert not switch.reader.started  # no thread for nothing to read


def test_a_missing_file_means_the_environment(tmp_path: Path) -> None:
    switch = file_switch(tmp_path / "switch")
    assert switch.state is ENVIRONMENT.environment
    assert switch.follower.trouble is None
    assert switch.last_read_at is not None


def test_a_change_is_followed_at_the_next_read(tmp_path: Path, log: Log) -> None:
    path = tmp_path / "switch"
    switch = file_switch(path)
    before = switch.state
    path.write_text(ON)
    assert switch.state is before  # nothing reads until the reader's next tick
    tick(switch)
    assert switch.state.is_active(0)
    assert (switch.state.source, switch.state.revision) == ("switch", 1)
    assert log()[-1] == (
        f"INFO Maintenance switched on, revision 1 by alice (reason: db upgrade), "
        f"via file://{path}"
    )


def test_each_transition_is_logged_once(tmp_path: Path, log: Log) -> None:
    path = tmp_path / "switch"
    switch = file_switch(path)
    env = "REVISION=3\nSET_BY=carol\n"
    for document in (ON, ON, OFF, OFF, env):
        path.write_text(document)
        tick(switch)
    assert [line.split(", via ")[0] for line in log()] == [
        "INFO Maintenance switched on, revision 1 by alice (reason: db upgrade)",
        "INFO Maintenance switched off, revision 2 by bob",
        "INFO Maintenance handed back to the environment (maintenance off there), "
        "revision 3 by carol",
    ]


def test_listeners_see_a_new_state_before_requests_do(tmp_path: Path) -> None:
    path = tmp_path / "switch"
    switch = file_switch(path)
    seen: list[tuple[State, State]] = []

    class Listener:
        def prepare(self, new: State) -> None:
            seen.append((new, switch.state))

    listener = Listener()
    switch.listeners.add(listener.prepare)
    path.write_text(ON)
    tick(switch)
    ((new, in_force),) = seen
    assert new.is_active(0)
    assert not in_force.is_active(0)  # requests still saw the old state
    del listener  # a listener that is gone is dropped, not called
    path.write_text(OFF)
    tick(switch)
    assert len(seen) == 1


def test_requests_read_memory_while_the_reader_reads() -> None:
    store = ScriptedStore(FIRST_OFF, THEN_ON)
    switch = Switch(ENVIRONMENT, store)
    switch.reader.interval = 0.05
    switch.start()
    deadline = time.monotonic() + 10
    now = time.time()
    while not switch.current(now).is_active(0):  # requests, with the clock still
        assert time.monotonic() < deadline, "the reader never read"
        time.sleep(0.01)
    switch.stop()
    thread = switch.reader._thread
    assert thread is not None
    assert thread.name == "envmaintenance-switch"
    assert thread.daemon


def test_requests_never_read_while_a_reader_runs() -> None:
    store = ScriptedStore(OFF)
    switch = Switch(ENVIRONMENT, store)
    switch.reader.interval = 60  # the reader reads once, at start, then waits
    switch.start()
    now = time.time()
    for step in range(1000):
        switch.current(now + step * 0.003)  # three seconds of requests
    switch.stop()
    assert store.reads <= 2  # start-up and the reader's first read


@pytest.mark.usefixtures("no_reader")
def test_where_threads_do_not_run_a_request_reads_a_stale_state() -> None:
    """uWSGI without --enable-threads: a reader that never runs."""
    store = ScriptedStore(FIRST_OFF, THEN_ON)
    switch = Switch(ENVIRONMENT, store)
    switch.start()
    read_at = switch.last_read_at
    assert read_at is not None
    assert not switch.current(read_at + 4).is_active(0)  # two intervals: fresh
    assert store.reads == 1
    assert switch.current(read_at + 4.1).is_active(0)  # older than two: it reads
    assert store.reads == 2


def test_an_unreadable_store_keeps_the_last_good_state(log: Log) -> None:
    store = ScriptedStore(ON, DOWN, DOWN, DOWN, ON)
    switch = Switch(ENVIRONMENT, store)
    for _ in range(3):
        tick(switch)
        assert switch.state.is_active(0)  # still on
    assert [line for line in log() if "Connection refused" in line] == [
        "WARNING Maintenance switch: cannot read redis://cache:6379/0: Connection "
        "refused; keeping revision 1 (maintenance on) until it is readable again"
    ]
    tick(switch)
    assert (
        log()[-1] == "INFO Maintenance switch: redis://cache:6379/0 is readable again"
    )


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ("MAINTENANCE_MODE=maybe", "MAINTENANCE_MODE: 'maybe' is not a switch"),
        ("<html>", "line 1 is not NAME=value"),
        ("", "the document is empty"),
        ("MAINTENANCE_MODE=\n", "MAINTENANCE_MODE has no value"),
        ("MAINTENANCE_MODE=1\nREASON=a\u2028MAINTENANCE_READ_ONLY=1", "U+2028"),
    ],
)
def test_an_invalid_document_is_rejected_once_and_changes_nothing(
    log: Log, bad: str, problem: str
) -> None:
    store = ScriptedStore(ON, bad, bad, bad, OFF)
    switch = Switch(ENVIRONMENT, store)
    for _ in range(3):
        tick(switch)
        assert switch.state.is_active(0)
        assert not switch.state.read_only
    (warning,) = [line for line in log() if line.startswith("WARNING")]
    assert problem in warning  # once, however often it repeats
    assert "keeping revision 1" in warning
    tick(switch)
    assert not switch.state.is_active(0)


def test_a_lost_redis_document_is_said_once_and_does_not_end_maintenance(
    log: Log,
) -> None:
    store = ScriptedStore(ON, None, None, OFF)
    switch = Switch(ENVIRONMENT, store)
    for _ in range(2):
        tick(switch)
        assert switch.state.is_active(0)
    lost = [line for line in log() if "lost the document" in line]
    assert len(lost) == 1
    assert "until it is readable again" not in lost[0]  # it is readable
    tick(switch)
    assert not switch.state.is_active(0)


def cached(tmp_path: Path, text: str, revision: int, read_at: float) -> SwitchCache:
    cache = SwitchCache(tmp_path / "cache.json", REDIS.display)
    cache.save(Cached(text, revision, read_at))
    return cache


def test_without_store_or_cache_the_environment_rules_said_as_an_error(
    log: Log, tmp_path: Path
) -> None:
    environment = load_config({"MAINTENANCE_MODE": "1"})
    cache = SwitchCache(tmp_path / "cache.json", REDIS.display)
    switch = Switch(environment, ScriptedStore(DOWN), cache)
    assert switch.state is environment.environment
    assert switch.stale_since is not None
    (line,) = log()
    assert line.startswith("ERROR Maintenance switch: cannot read")
    assert "keeping the environment's state (maintenance on)" in line


def test_a_process_that_starts_during_an_outage_starts_from_the_cache(
    log: Log, tmp_path: Path
) -> None:
    cache = cached(tmp_path, ON, 1, read_at=time.time() - 90)
    switch = Switch(ENVIRONMENT, ScriptedStore(DOWN, None), cache)
    assert switch.state.is_active(0)  # not the environment's "off"
    (line,) = log()
    assert line.startswith("ERROR Maintenance switch: cannot read")
    assert "keeping the cached revision 1, first read 90 s ago" in line
    # Redis comes back empty: the cached revision counts as seen.
    tick(switch)
    assert switch.state.is_active(0)
    assert "lost the document" in log()[-1]


def test_a_process_that_starts_after_a_flush_keeps_the_cached_revision(
    tmp_path: Path,
) -> None:
    """The store answers, with no document: that is a loss, not an override."""
    cache = cached(tmp_path, ON, 1, read_at=time.time() - 5)
    switch = Switch(ENVIRONMENT, ScriptedStore(None), cache)
    assert switch.state.is_active(0)
    assert switch.state.revision == 1
    assert "lost the document" in (switch.follower.trouble or "")


@pytest.mark.usefixtures("no_reader")
def test_the_cache_never_overrides_a_later_revision_of_the_store(
    tmp_path: Path,
) -> None:
    cache = cached(tmp_path, ON, 1, read_at=0)
    switch = serving(Switch(ENVIRONMENT, ScriptedStore(OFF), cache))
    assert not switch.state.is_active(0)
    tick(switch)  # a serving process rewrites it after a new revision
    loaded = cache.load(time.time())
    assert loaded is not None
    assert (loaded.text, loaded.revision) == (OFF, 2)


@pytest.mark.usefixtures("no_reader")
def test_the_cache_records_when_a_revision_was_first_read(tmp_path: Path) -> None:
    cache = SwitchCache(tmp_path / "cache.json", REDIS.display)
    switch = serving(Switch(ENVIRONMENT, ScriptedStore(OFF), cache))
    tick(switch)
    first = cache.load(time.time())
    assert first is not None
    time.sleep(0.01)
    tick(switch)  # the same revision again: the file says when it was first read
    again = cache.load(time.time())
    assert again == first


def test_only_a_serving_process_writes_the_cache(tmp_path: Path) -> None:
    """The command reads the store but never writes the cache."""
    cache = SwitchCache(tmp_path / "cache.json", REDIS.display)
    switch = Switch(ENVIRONMENT, ScriptedStore(OFF), cache)
    tick(switch)
    assert not cache.path.exists()


@pytest.mark.usefixtures("no_reader")
def test_a_cache_that_cannot_be_written_is_distrusted_and_retried(
    tmp_path: Path, log: Log, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = cached(tmp_path, ON, 1, read_at=0)  # an older revision, on disk
    store = ScriptedStore(OFF)
    switch = serving(Switch(ENVIRONMENT, store, cache))
    full = OSError(28, "No space left on device")

    def failing(cache: SwitchCache, cached: Cached) -> None:
        raise full

    real_save = SwitchCache.save
    monkeypatch.setattr(SwitchCache, "save", failing)
    store.answers = ["REVISION=3\nMAINTENANCE_MODE=1\n"]
    tick(switch)
    assert switch.state.revision == 3
    # Nothing on disk a starting process would trust: the old revision 1 is gone.
    assert cache.load(time.time()) is None
    tick(switch)
    warnings = [line for line in log() if "cannot write the cache" in line]
    assert warnings == [
        f"WARNING Maintenance switch: cannot write the cache {cache.path} (No space "
        f"left on device): no process will start from it until it is written again"
    ]
    monkeypatch.setattr(SwitchCache, "save", real_save)
    tick(switch)  # no new revision, but the write that failed is tried again
    loaded = cache.load(time.time())
    assert loaded is not None
    assert loaded.revision == 3
    assert (
        log()[-1] == f"INFO Maintenance switch: the cache {cache.path} is written again"
    )


def test_a_hung_read_is_abandoned_and_none_queues_behind_it() -> None:
    store = ScriptedStore(ON)
    switch = Switch(ENVIRONMENT, store)
    store.gate = threading.Event()  # reads hang until the test ends
    try:
        tick(switch)
        assert "did not answer within 0.25 s" in (switch.follower.trouble or "")
        tick(switch)  # the first read is still stuck: no second one starts
        assert "has not returned" in (switch.follower.trouble or "")
        assert store.reads == 2  # start-up and the one stuck read
        assert switch.reader.stuck
    finally:
        store.gate.set()
    assert switch.state.is_active(0)  # the last good state
    stuck = switch.reader._stuck
    assert stuck is not None
    stuck.join(10)
    tick(switch)  # it returned: reads go on
    assert switch.follower.trouble is None
    assert store.reads == 3


def test_the_reader_reports_what_the_process_holds(tmp_path: Path) -> None:
    store = ScriptedStore(ON)
    switch = Switch(ENVIRONMENT, store, reporter=Reporter(store.members))
    now = time.time()
    switch.tick(now)
    ((_member, data),) = store.members.read()
    report = parse_report(data, now)
    assert report is not None
    assert (report.revision, report.state, report.source) == (1, "on", "switch")
    assert report.in_flight == 0
    assert report.rejected_revision is None


def test_a_rejected_document_is_reported_with_its_revision_and_error() -> None:
    store = ScriptedStore(ON, "REVISION=2\nMAINTENANCE_MODE=maybe\n")
    switch = Switch(ENVIRONMENT, store, reporter=Reporter(store.members))
    now = time.time()
    switch.tick(now)
    report = parse_report(store.members.read()[0][1], now)
    assert report is not None
    assert (report.revision, report.rejected_revision) == (1, 2)
    assert "'maybe' is not a switch" in (report.rejected_error or "")


def test_requests_let_in_before_are_reported_until_they_finish() -> None:
    store = ScriptedStore(FIRST_OFF, THEN_ON)
    switch = Switch(ENVIRONMENT, store, reporter=Reporter(store.members))
    admitted = switch.in_flight.admit(switch.state)  # a request, under "off"
    now = time.time()
    switch.tick(now)  # the switch goes on
    report = parse_report(store.members.read()[0][1], now)
    assert report is not None
    assert report.in_flight == 1
    admitted.done()
    switch.tick(now + 2)
    report = parse_report(store.members.read()[0][1], now + 2)
    assert report is not None
    assert report.in_flight == 0


def in_child(check: Callable[[], bool]) -> bool:
    """Fork; the answer of ``check()`` in the child, reported through a pipe."""
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child, reported by the pipe
        try:
            ok = check()
        except BaseException:
            ok = False
        os.write(writing, b"1" if ok else b"0")
        os._exit(0)
    os.close(writing)
    answer = os.read(reading, 1)
    os.waitpid(child, 0)
    return answer == b"1"


def test_a_child_process_starts_its_own_reader(tmp_path: Path) -> None:
    """gunicorn --preload: the switch is made in the parent, which forks."""
    path = tmp_path / "switch"
    switch = file_switch(path)
    switch.reader.interval = 0.05
    switch.start()  # the parent's reader
    parent_reader = switch.reader._thread
    path.write_text(ON)

    def child() -> bool:
        deadline = time.monotonic() + 10
        while not switch.state.is_active(0) and time.monotonic() < deadline:
            time.sleep(0.01)
        return switch.reader._thread is not parent_reader and switch.state.is_active(0)

    # The process-wide switch is the one a fork restarts.
    from envmaintenance import switch as switch_module

    saved, switch_module._process_switch = switch_module._process_switch, switch
    try:
        assert in_child(child)
    finally:
        switch_module._process_switch = saved
        switch.stop()


def test_a_parent_that_forked_before_serving_leaves_the_fleet() -> None:
    """gunicorn --preload's master loads the app, then forks its workers: it
    serves nothing, so it is not a member; a worker is."""
    store = ScriptedStore(OFF)
    reporter = Reporter(store.members)
    switch = Switch(ENVIRONMENT, store, reporter=reporter)
    switch.tick(time.time())
    master = reporter.member.id
    assert in_child(lambda: switch.reporting and reporter.member.id != master)
    assert not switch.reporting
    assert store.members.left == [master]
    switch.tick(time.time())
    assert store.members.read() == []  # the master reports no more


def test_a_parent_that_served_stays_in_the_fleet() -> None:
    store = ScriptedStore(OFF)
    switch = Switch(ENVIRONMENT, store, reporter=Reporter(store.members))
    switch.in_flight.admit(switch.state).done()  # it served
    assert in_child(lambda: True)
    assert switch.reporting


def test_a_hung_reader_never_delays_interpreter_exit(tmp_path: Path) -> None:
    program = """
import time
from envmaintenance.conf import load_config
from envmaintenance.stores import SwitchLocation
from envmaintenance.switch import Switch
from tests.test_switch import ScriptedMembers

class Hung:
    location = SwitchLocation("redis", "redis://x:1/0", "redis://x:1/0")
    members = ScriptedMembers()
    def read(self):
        time.sleep(3600)

switch = Switch(load_config({}), Hung())
switch.start()  # the reader starts, and hangs in a read
time.sleep(0.5)
print("exiting")
"""
    result = subprocess.run(
        [sys.executable, "-c", program],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,  # not the hour the read would take
        check=False,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "exiting\n"


@pytest.mark.parametrize(
    "kind", ["fifo", "directory", "socket", "device", "dangling symlink", "empty"]
)
def test_a_file_that_is_no_document_keeps_the_last_good_state(
    tmp_path: Path, log: Log, kind: str, request: pytest.FixtureRequest
) -> None:
    path = tmp_path / "switch"
    path.write_text(ON)
    switch = file_switch(path)
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)  # no writer: a blocking open would hang forever
    elif kind == "directory":
        path.mkdir()
    elif kind == "socket":
        listening = socket.socket(socket.AF_UNIX)
        request.addfinalizer(listening.close)
        listening.bind(str(path))
    elif kind == "device":
        path.symlink_to("/dev/zero")  # endless, if it were read
    elif kind == "dangling symlink":
        path.symlink_to(tmp_path / "..data" / "switch")
    else:
        path.write_text("")  # a shell redirect or an editor, mid-write
    tick(switch)
    assert switch.state.is_active(0)
    (warning,) = [line for line in log() if line.startswith("WARNING")]
    expected = {
        "fifo": "not a regular file (a FIFO)",
        "directory": "not a regular file (a directory)",
        "socket": "No such device or address",  # open() refuses a socket
        "device": "not a regular file (a character device)",
        "dangling symlink": "which does not exist",
        "empty": "the document is empty",
    }[kind]
    assert expected in warning


def test_the_file_store_sees_a_kubernetes_style_symlink_swap(tmp_path: Path) -> None:
    """A ConfigMap volume: switch -> ..data/switch, ..data -> a timestamped dir,
    swapped with one rename."""
    first, second = tmp_path / "..2026_11_30_1", tmp_path / "..2026_11_30_2"
    for directory, text in (
        (first, "MAINTENANCE_MODE=0\n"),
        (second, "MAINTENANCE_MODE=1\n"),
    ):
        directory.mkdir()
        (directory / "switch").write_text(text)
    (tmp_path / "..data").symlink_to(first.name)
    (tmp_path / "switch").symlink_to("..data/switch")
    switch = file_switch(tmp_path / "switch")
    assert not switch.state.is_active(0)
    (tmp_path / "..data_tmp").symlink_to(second.name)
    (tmp_path / "..data_tmp").rename(tmp_path / "..data")
    tick(switch)
    assert switch.state.is_active(0)


def test_a_window_from_the_switch_is_logged_with_its_times(
    tmp_path: Path, log: Log
) -> None:
    path = tmp_path / "switch"
    switch = file_switch(path)
    path.write_text(
        "REVISION=4\nMAINTENANCE_MODE=0\nMAINTENANCE_STARTS_AT=2999-01-01T22:00:00Z\n"
        "SET_BY=carol\n"
    )
    tick(switch)
    assert log()[-1] == (
        "INFO Maintenance upcoming (2999-01-01T22:00:00+00:00 → no end set), "
        f"revision 4 by carol, via file://{path}"
    )


def test_a_report_is_what_the_switch_says_of_itself() -> None:
    store = ScriptedStore(ON)
    switch = Switch(ENVIRONMENT, store)
    fields = switch.report_fields(time.time())
    assert json.dumps(fields)  # plain JSON values
    assert fields["revision"] == 1
    assert fields["interval"] == 2


def test_a_write_landing_while_a_new_process_reads_is_no_loss() -> None:
    """A process that has seen no revision asks the fleet, and reads the
    document: a write that lands between the two is applied, never taken for a
    store that lost its document (which, with MAINTENANCE_SWITCH_UNREADABLE=on,
    would switch maintenance on)."""

    class RacingStore(ScriptedStore):
        """Whatever is asked first is answered from before the write, the
        rest from after it."""

        def __init__(self) -> None:
            super().__init__(None)
            self.written = False
            self.members.highest_revision = self.highest  # type: ignore[method-assign]

        def highest(self) -> int | None:
            answer = 1 if self.written else None
            self.written = True
            return answer

        def read(self) -> str | None:
            answer = THEN_ON if self.written else None
            self.written = True
            return answer

    config = load_config({"MAINTENANCE_SWITCH_UNREADABLE": "on"})
    switch = Switch(config, RacingStore())
    assert switch.follower.trouble is None
    assert switch.state.revision == 2
