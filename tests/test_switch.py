"""The process's view of the switch: the background reader, faults, the local
cache, transitions.

A scripted store stands in for a failing one here; the real file store is used
as is, and the real Redis (killed, hung, flushed) and real servers are in
tests/e2e/test_switch*.py. Reads are driven with refresh(), as the reader's
tick does; the reader thread itself runs where a test says so.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from envmaintenance import switch as switch_module
from envmaintenance.cache import SwitchCache
from envmaintenance.conf import Config, load_config
from envmaintenance.stores import FileStore, StoreError, SwitchLocation
from envmaintenance.switch import Switch
from tests.processes import ROOT

ON = "MAINTENANCE_MODE=1\nSET_BY=alice\nREASON=db upgrade\n"
OFF = "MAINTENANCE_MODE=0\nSET_BY=bob\n"
ENVIRONMENT = load_config({})  # interval 2 s
REDIS = SwitchLocation("redis", "redis://cache:6379/0", "redis://cache:6379/0")


class ScriptedStore:
    """Answers from a script: text, None (no document), or an exception."""

    location = REDIS

    def __init__(self, *answers: str | Exception | None, missing_means: bool = False):
        self.answers = list(answers)
        self.reads = 0
        self.missing_means_no_override = missing_means
        self.gate: threading.Event | None = None

    def read(self) -> str | None:
        self.reads += 1
        if self.gate is not None:
            self.gate.wait(10)
        answer = self.answers[0] if len(self.answers) == 1 else self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def write(self, text: str) -> None:
        raise AssertionError("processes never write")


Log = Callable[[], list[str]]


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], list[str]]]:
    with caplog.at_level(logging.DEBUG, logger="envmaintenance"):
        yield lambda: [f"{r.levelname} {r.getMessage()}" for r in caplog.records]


def file_switch(path: Path, config: Config = ENVIRONMENT) -> Switch:
    location = SwitchLocation("file", f"file://{path}", f"file://{path}", path)
    return Switch(config, FileStore(location))


def tick(switch: Switch, seconds: float = 2) -> None:
    """What the reader does after an interval."""
    switch.refresh(switch.attempted_at + seconds)


def test_without_a_store_the_environment_decides_and_nothing_is_read() -> None:
    switch = Switch(load_config({"MAINTENANCE_MODE": "1"}), None)
    assert switch.current(1e12).is_active(0)
    assert switch.state.source == "environment"
    assert switch._reader is None  # no thread for nothing to read


def test_a_missing_file_means_no_override(tmp_path: Path) -> None:
    switch = file_switch(tmp_path / "switch")
    assert switch.state.source == "environment"
    assert switch.trouble is None
    assert switch.last_read_at is not None


def test_a_change_is_followed_at_the_next_read(tmp_path: Path, log: Log) -> None:
    path = tmp_path / "switch"
    switch = file_switch(path)
    before = switch.state
    path.write_text(ON)
    assert switch.state is before  # nothing reads until the reader's next tick
    tick(switch)
    assert switch.state.is_active(0)
    assert switch.state.source == "switch"
    assert log()[-1] == (
        f"INFO Maintenance switched on by alice (reason: db upgrade) via file://{path}"
    )


def test_each_transition_is_logged_once(tmp_path: Path, log: Log) -> None:
    path = tmp_path / "switch"
    switch = file_switch(path)
    for document in (ON, ON, OFF, OFF, None):
        if document is None:
            path.unlink()
        else:
            path.write_text(document)
        tick(switch)
    assert [line.split(" via ")[0] for line in log()] == [
        "INFO Maintenance switched on by alice (reason: db upgrade)",
        "INFO Maintenance switched off by bob",
        "INFO Maintenance handed back to the environment (maintenance off)",
    ]


def test_requests_read_memory_while_the_reader_reads() -> None:
    store = ScriptedStore(OFF, ON)
    switch = Switch(ENVIRONMENT, store)
    switch.interval = 0.05
    deadline = time.monotonic() + 10
    now = switch.attempted_at
    while not switch.current(now).is_active(0):  # requests, with the clock still
        assert time.monotonic() < deadline, "the reader never read"
        time.sleep(0.01)
    switch.stop()
    assert switch._reader is not None
    assert switch._reader.name == "envmaintenance-switch"
    assert switch._reader.daemon


def test_requests_never_read_while_a_reader_runs() -> None:
    store = ScriptedStore(OFF)
    switch = Switch(ENVIRONMENT, store)
    switch.interval = 60  # the reader reads once, at start, then waits
    now = switch.attempted_at
    for step in range(1000):
        switch.current(now + step * 0.1)  # a hundred seconds of requests
    switch.stop()
    assert store.reads <= 2  # start-up and the reader's first read


def test_where_threads_do_not_run_a_request_reads_a_stale_state() -> None:
    """uWSGI without --enable-threads: a reader that never runs."""
    store = ScriptedStore(OFF, ON)
    switch = Switch(ENVIRONMENT, store)
    switch._reader = threading.Thread()  # started, as far as the switch knows
    now = switch.attempted_at
    assert not switch.current(now + 4).is_active(0)  # two intervals: not stale
    assert store.reads == 1
    assert switch.current(now + 4.1).is_active(0)  # older than two: it reads
    assert store.reads == 2


def test_an_unreadable_store_keeps_the_last_good_state(log: Log) -> None:
    down = StoreError("cannot read redis://cache:6379/0: Connection refused")
    store = ScriptedStore(ON, down, down, down, ON)
    switch = Switch(ENVIRONMENT, store)
    for _ in range(3):
        tick(switch)
        assert switch.state.is_active(0)  # still on
    assert [line for line in log() if "Connection refused" in line] == [
        "WARNING Maintenance switch: cannot read redis://cache:6379/0: Connection "
        "refused; keeping the last good state (maintenance on) until it is "
        "readable again"
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
def test_an_invalid_document_keeps_the_last_good_state(
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
    tick(switch)
    assert not switch.state.is_active(0)


def test_a_vanished_redis_document_does_not_end_maintenance(log: Log) -> None:
    store = ScriptedStore(ON, None, None, OFF)
    switch = Switch(ENVIRONMENT, store)
    for _ in range(2):
        tick(switch)
        assert switch.state.is_active(0)
    gone = [line for line in log() if "is gone" in line]
    assert len(gone) == 1
    assert "run 'manage.py maintenance env'" in gone[0]
    tick(switch)
    assert not switch.state.is_active(0)


def test_a_redis_key_never_written_is_no_override() -> None:
    switch = Switch(load_config({"MAINTENANCE_MODE": "1"}), ScriptedStore(None))
    assert switch.trouble is None
    assert switch.state.is_active(0)


DOWN = StoreError("cannot read redis://cache:6379/0: Connection refused")


def cached(tmp_path: Path, text: str | None, read_at: float = 0) -> SwitchCache:
    cache = SwitchCache(tmp_path / "cache.json", REDIS.display)
    cache.save(text, read_at)
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
    assert "keeping the environment's state (no cache) (maintenance on)" in line


def test_a_process_that_starts_during_an_outage_starts_from_the_cache(
    log: Log, tmp_path: Path
) -> None:
    cache = cached(tmp_path, ON, read_at=time.time() - 90)
    switch = Switch(ENVIRONMENT, ScriptedStore(DOWN, None), cache)
    assert switch.state.is_active(0)  # not the environment's "off"
    (line,) = log()
    assert line.startswith("ERROR Maintenance switch: cannot read")
    assert "keeping the cached state of 90 s ago" in line
    # Redis comes back empty: a cached document counts as seen.
    tick(switch)
    assert switch.state.is_active(0)
    assert "is gone" in log()[-1]


def test_the_cache_never_overrides_a_store_that_answers(tmp_path: Path) -> None:
    cache = cached(tmp_path, ON)
    switch = Switch(ENVIRONMENT, ScriptedStore(OFF), cache)
    assert not switch.state.is_active(0)
    loaded = cache.load()
    assert loaded is not None
    assert loaded.text == OFF  # every successful read writes it


def test_a_cache_of_another_switch_or_of_garbage_is_not_trusted(
    tmp_path: Path,
) -> None:
    other = SwitchCache(tmp_path / "cache.json", "redis://elsewhere:6379/0")
    other.save(ON, 0)
    assert SwitchCache(tmp_path / "cache.json", REDIS.display).load() is None
    (tmp_path / "garbage.json").write_text("{not json")
    assert SwitchCache(tmp_path / "garbage.json", REDIS.display).load() is None
    loose = cached(tmp_path, ON)
    loose.path.chmod(0o666)  # anyone may have written it
    assert loose.load() is None
    (tmp_path / "link.json").symlink_to(loose.path)
    assert SwitchCache(tmp_path / "link.json", REDIS.display).load() is None


def test_an_invalid_cached_document_is_not_followed(tmp_path: Path) -> None:
    cache = cached(tmp_path, "MAINTENANCE_MODE=maybe\n")
    switch = Switch(ENVIRONMENT, ScriptedStore(DOWN), cache)
    assert switch.state is ENVIRONMENT.environment


@pytest.mark.parametrize("cache_text", [None, "absent"])
def test_unreadable_on_means_maintenance_until_the_store_answers(
    tmp_path: Path, log: Log, cache_text: str | None
) -> None:
    config = load_config(
        {"MAINTENANCE_SWITCH_UNREADABLE": "on", "MAINTENANCE_MESSAGE": "Migrating."}
    )
    cache = SwitchCache(tmp_path / "cache.json", REDIS.display)
    if cache_text is None:
        cache.save(None, 0)  # the cache says: no document, the environment rules
    switch = Switch(config, ScriptedStore(DOWN, OFF), cache)
    if cache_text is None:
        assert not switch.state.is_active(0)  # a cache is a store's answer
        return
    assert switch.state.is_active(0)
    assert switch.state.message == "Migrating."
    assert "maintenance on (MAINTENANCE_SWITCH_UNREADABLE=on, no cache)" in log()[0]
    tick(switch)
    assert not switch.state.is_active(0)


def test_a_cache_that_cannot_be_written_is_said_once(tmp_path: Path, log: Log) -> None:
    cache = SwitchCache(tmp_path / "missing-directory" / "cache.json", REDIS.display)
    switch = Switch(ENVIRONMENT, ScriptedStore(ON), cache)
    tick(switch)
    assert switch.state.is_active(0)
    assert [line for line in log() if "cannot write the cache" in line] == [
        f"WARNING Maintenance switch: cannot write the cache {cache.path} (No such "
        f"file or directory): a process that starts while the store is down will "
        f"not start from it"
    ]


def test_a_hung_read_is_abandoned_and_none_queues_behind_it() -> None:
    store = ScriptedStore(ON)
    switch = Switch(ENVIRONMENT, store)
    store.gate = threading.Event()  # reads hang until the test ends
    try:
        started = time.monotonic()
        tick(switch)
        waited = time.monotonic() - started
        assert "did not answer within 0.25 s" in (switch.trouble or "")
        tick(switch)  # the first read is still stuck: no second one starts
        assert "has not returned" in (switch.trouble or "")
        assert store.reads == 2  # start-up and the one stuck read
    finally:
        store.gate.set()
    assert switch.state.is_active(0)  # the last good state
    assert waited < 10  # not the store's hang
    stuck = switch._stuck
    assert stuck is not None
    stuck.join(10)
    tick(switch)  # it returned: reads go on
    assert switch.trouble is None
    assert store.reads == 3


def test_a_child_process_starts_its_own_reader(tmp_path: Path) -> None:
    """gunicorn --preload: the switch is made in the parent, which forks."""
    path = tmp_path / "switch"
    switch = file_switch(path)
    switch.interval = 0.05
    switch.current(switch.attempted_at)  # the parent's reader
    parent_reader = switch._reader
    path.write_text(ON)
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child, reported by the pipe
        ok = switch._reader is None
        switch.current(switch.attempted_at)
        deadline = time.monotonic() + 10
        while not switch.state.is_active(0) and time.monotonic() < deadline:
            time.sleep(0.01)
        ok = ok and switch._reader is not parent_reader and switch.state.is_active(0)
        os.write(writing, b"1" if ok else b"0")
        os._exit(0)
    os.close(writing)
    answer = os.read(reading, 1)
    os.waitpid(child, 0)
    switch.stop()
    assert answer == b"1"


def test_a_hung_reader_never_delays_interpreter_exit(tmp_path: Path) -> None:
    program = """
import threading, time
from envmaintenance.conf import load_config
from envmaintenance.stores import SwitchLocation
from envmaintenance.switch import Switch

class Hung:
    location = SwitchLocation("redis", "redis://x:1/0", "redis://x:1/0")
    missing_means_no_override = False
    def read(self):
        time.sleep(3600)

switch = Switch(load_config({}), Hung())
switch.current(switch.attempted_at)  # the reader starts, and hangs in a read
time.sleep(0.5)
print("exiting")
"""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", program],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "exiting\n"
    assert time.monotonic() - started < 30  # not the hour the read would take


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
    for directory, text in ((first, OFF), (second, ON)):
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


def test_a_write_that_reads_back_differently_is_an_error() -> None:
    class Overwritten(ScriptedStore):
        def write(self, text: str) -> None:
            pass  # another writer wins the race: the read sees its document

    with pytest.raises(StoreError, match="holds something else after the write"):
        switch_module.replace_document(Overwritten(OFF), ON, ENVIRONMENT.environment)


def test_a_window_from_the_switch_is_logged_with_its_times(
    tmp_path: Path, log: Log
) -> None:
    path = tmp_path / "switch"
    switch = file_switch(path)
    path.write_text(
        "MAINTENANCE_MODE=0\nMAINTENANCE_STARTS_AT=2999-01-01T22:00:00Z\nSET_BY=carol\n"
    )
    tick(switch)
    assert log()[-1] == (
        "INFO Maintenance upcoming (2999-01-01T22:00:00+00:00 → no end set) by carol "
        f"via file://{path}"
    )
