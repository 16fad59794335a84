"""The process's view of the switch: reads per interval, faults, transitions.

A scripted store stands in for a failing one here; the real file store is used
as is, and the real Redis (killed, hung, flushed) is in tests/e2e/test_switch*.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from envmaintenance import switch as switch_module
from envmaintenance.conf import Config, load_config
from envmaintenance.stores import FileStore, StoreError, SwitchLocation
from envmaintenance.switch import Switch

ON = "MAINTENANCE_MODE=1\nSET_BY=alice\nREASON=db upgrade\n"
OFF = "MAINTENANCE_MODE=0\nSET_BY=bob\n"
ENVIRONMENT = load_config({})  # interval 2 s


class ScriptedStore:
    """Answers from a script: text, None (no document), or an exception."""

    location = SwitchLocation("redis", "redis://cache:6379/0", "redis://cache:6379/0")

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


def test_without_a_store_the_environment_decides_and_nothing_is_read() -> None:
    switch = Switch(load_config({"MAINTENANCE_MODE": "1"}), None)
    assert switch.current(1e12).is_active(0)
    assert switch.state.source == "environment"
    assert switch.next_read == float("inf")


def test_a_missing_file_means_no_override(tmp_path: Path) -> None:
    switch = file_switch(tmp_path / "switch")
    assert switch.state.source == "environment"
    assert switch.trouble is None
    assert switch.last_read_at is not None


def test_a_change_is_seen_after_the_interval_not_before(
    tmp_path: Path, log: Log
) -> None:
    path = tmp_path / "switch"
    switch = file_switch(path)
    started = switch.last_read_at
    assert started is not None
    before = switch.state
    path.write_text(ON)
    assert switch.current(started + 1.9) is before
    effective = switch.current(started + 2.0)
    assert effective is not before
    assert effective.is_active(0)
    assert effective.source == "switch"
    assert log()[-1] == (
        f"INFO Maintenance switched on by alice (reason: db upgrade) via file://{path}"
    )


def test_each_transition_is_logged_once(tmp_path: Path, log: Log) -> None:
    path = tmp_path / "switch"
    switch = file_switch(path)
    now = switch.last_read_at or 0
    for document in (ON, ON, OFF, OFF, None):
        if document is None:
            path.unlink()
        else:
            path.write_text(document)
        now += 2
        switch.current(now)
    assert [line.split(" via ")[0] for line in log()] == [
        "INFO Maintenance switched on by alice (reason: db upgrade)",
        "INFO Maintenance switched off by bob",
        "INFO Maintenance handed back to the environment (maintenance off)",
    ]


def test_at_most_one_read_per_interval() -> None:
    store = ScriptedStore(ON)
    switch = Switch(ENVIRONMENT, store)
    now = switch.last_read_at or 0
    for step in range(100):
        switch.current(now + step * 0.05)  # five seconds of requests
    assert store.reads == 1 + 2  # start-up, then at +2 s and +4 s


def test_concurrent_requests_never_read_together() -> None:
    store = ScriptedStore(OFF)
    switch = Switch(ENVIRONMENT, store)
    store.gate = threading.Event()
    due = (switch.last_read_at or 0) + 2
    threads = [threading.Thread(target=switch.current, args=(due,)) for _ in range(20)]
    for thread in threads:
        thread.start()
    time.sleep(0.05)
    store.gate.set()
    for thread in threads:
        thread.join(5)
    assert store.reads == 2  # start-up and one reader; nineteen used memory


def test_an_unreadable_store_keeps_the_last_good_state_and_backs_off(log: Log) -> None:
    down = StoreError("cannot read redis://cache:6379/0: Connection refused")
    store = ScriptedStore(ON, down, down, down, down, down, down, ON)
    switch = Switch(ENVIRONMENT, store)
    now = switch.last_read_at or 0
    gaps = []
    for _ in range(7):
        now = switch.next_read
        switch.current(now)
        assert switch.state.is_active(0)  # still on
        gaps.append(switch.next_read - now)
    assert gaps == [4, 8, 16, 32, 60, 60, 2]  # doubling, capped, then back to 2
    assert [line for line in log() if "Connection refused" in line] == [
        "WARNING Maintenance switch: cannot read redis://cache:6379/0: Connection "
        "refused; keeping the last good state (maintenance on) until it is "
        "readable again"
    ]
    assert (
        log()[-1] == "INFO Maintenance switch: redis://cache:6379/0 is readable again"
    )


def test_an_invalid_document_keeps_the_last_good_state(log: Log) -> None:
    maybe = "MAINTENANCE_MODE=maybe"
    store = ScriptedStore(ON, maybe, maybe, maybe, "<html>", "<html>", OFF)
    switch = Switch(ENVIRONMENT, store)
    for _ in range(5):
        switch.current(switch.next_read)
        assert switch.state.is_active(0)
    warnings = [line for line in log() if line.startswith("WARNING")]
    assert len(warnings) == 2  # one per problem, however often it repeats
    assert "MAINTENANCE_MODE: 'maybe' is not a switch" in warnings[0]
    assert "line 1 is not NAME=value" in warnings[1]
    switch.current(switch.next_read)
    assert not switch.state.is_active(0)


def test_a_vanished_redis_document_does_not_end_maintenance(log: Log) -> None:
    store = ScriptedStore(ON, None, None, OFF)
    switch = Switch(ENVIRONMENT, store)
    for _ in range(2):
        now = switch.next_read
        switch.current(now)
        assert switch.state.is_active(0)
        assert switch.next_read == now + 2  # the store answers: no back-off
    gone = [line for line in log() if "is gone" in line]
    assert len(gone) == 1
    assert "run 'manage.py maintenance env'" in gone[0]
    switch.current(switch.next_read)
    assert not switch.state.is_active(0)


def test_a_redis_key_never_written_is_no_override() -> None:
    switch = Switch(load_config({"MAINTENANCE_MODE": "1"}), ScriptedStore(None))
    assert switch.trouble is None
    assert switch.state.is_active(0)


def test_a_store_down_at_start_up_is_an_error_and_the_environment_rules(
    log: Log,
) -> None:
    down = StoreError("cannot read redis://cache:6379/0: Name or service not known")
    environment = load_config({"MAINTENANCE_MODE": "1"})
    switch = Switch(environment, ScriptedStore(down))
    assert switch.state is environment.environment
    assert switch.stale_since is not None
    (line,) = log()
    assert line.startswith("ERROR Maintenance switch: cannot read")
    assert "keeping the environment's state (maintenance on)" in line


def test_a_hanging_store_costs_the_reading_request_the_timeout_only() -> None:
    store = ScriptedStore(ON)
    switch = Switch(ENVIRONMENT, store)
    store.gate = threading.Event()  # the next read hangs until the test ends
    started = time.monotonic()
    try:
        effective = switch.current(switch.next_read)
        waited = time.monotonic() - started
    finally:
        store.gate.set()
    assert effective.is_active(0)  # last good state
    assert waited < switch_module.READ_TIMEOUT_SECONDS + 1  # not the 10 s hang
    assert "did not answer within 0.25 s" in (switch.trouble or "")


async def test_async_reads_happen_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The read waits on a gate that only a coroutine on the event loop opens: it
    succeeds only if the loop kept running while the read waited. A blocked loop
    would open it too late (after the read gave up), whatever the machine's load."""
    monkeypatch.setattr(switch_module, "READ_TIMEOUT_SECONDS", 5)  # < the gate's 10
    store = ScriptedStore(ON, OFF)
    switch = Switch(ENVIRONMENT, store)  # reads ON at start-up
    gate = store.gate = threading.Event()

    async def release() -> None:
        await asyncio.sleep(0)
        gate.set()

    effective, _ = await asyncio.gather(switch.acurrent(switch.next_read), release())
    assert switch.trouble is None
    assert not effective.is_active(0)  # the gated read's OFF, in force


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
    assert switch.current(switch.next_read).is_active(0)


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
    switch.current(switch.next_read)
    assert log()[-1] == (
        "INFO Maintenance upcoming (2999-01-01T22:00:00+00:00 → no end set) by carol "
        f"via file://{path}"
    )
