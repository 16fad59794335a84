"""Cron holds off during maintenance through the real command, in processes of
its own: `maintenance guard -- COMMAND` reading a Redis switch that another
process switches, as a scheduler would run it (tests/test_guards.py has the
environment and the window, in this process)."""

from __future__ import annotations

import shlex
from pathlib import Path

from tests.e2e.conftest import RedisServer
from tests.e2e.switching import (
    DEADLINE_SECONDS,
    Background,
    command,
    connected,
    maintenance,
    members,
    until,
)


def test_guard_follows_the_switch_another_process_writes(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    url, marker = redis_server.url, tmp_path / "ran"
    job = ["sh", "-c", f"echo ran >> {shlex.quote(str(marker))}"]
    maintenance("on", switch_url=url)
    skipped = maintenance("guard", "--", *job, switch_url=url)
    assert skipped == "Skipped sh: maintenance is on (the switch, revision 1).\n"
    assert not marker.exists()

    waiting = Background("guard", "--wait-until-over", "60s", "--", *job, url=url)
    try:
        # It has read the switch (on) once it holds a connection to Redis.
        until(
            lambda: connected(waiting.process.pid, redis_server.port),
            "the guard reading the switch",
        )
        assert not marker.exists()
        maintenance("off", switch_url=url)
    finally:
        result = waiting.finish(DEADLINE_SECONDS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert marker.read_text() == "ran\n"  # once, after the switch said off
    # It left the fleet as it exited: no silent member for the next --wait.
    assert members(url) == []


def test_guard_exits_with_the_status_of_its_command(
    redis_server: RedisServer,
) -> None:
    result = command("guard", "--", "sh", "-c", "exit 3", url=redis_server.url)
    assert result.returncode == 3, result.stdout + result.stderr
