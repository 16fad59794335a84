"""A thousand processes on one Redis, simulated by light processes that report
exactly as web processes do (tests/e2e/fleet_scale.py; 10,000 is a run by
hand): what each costs the store per interval, and `processes` and `--wait`
with all of them, confirmed and listed. The figures are printed as FIGURE
lines (pytest -s); how long the two take is a target of `make bench`, not a
bound here, which a loaded machine could miss."""

from __future__ import annotations

import json

from tests.e2e.conftest import RedisServer
from tests.e2e.fleet_scale import (
    confirmed_seconds,
    measure,
    poll,
    reported,
    simulated_fleet,
    timed,
)
from tests.e2e.switching import INTERVAL

PROCESSES = 1000


def test_a_thousand_processes_are_confirmed_and_listed(
    redis_server: RedisServer,
) -> None:
    url = redis_server.url
    client = redis_server.client()
    with simulated_fleet(url, PROCESSES, INTERVAL):
        reported(client, PROCESSES)
        _seconds, written = timed("on", url=url)
        assert written.returncode == 0, written.stderr
        # Ten intervals: a process checks its host's other members once in ten.
        cost = measure(client, 10 * INTERVAL)
        print(f"FIGURE {PROCESSES} processes, each per interval: {cost}")
        assert {"GET", "HSET", "ZADD", "HGETALL"} <= cost.commands.keys()

        seconds, result = timed("off", "--wait", "30", url=url)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"All {PROCESSES} processes (every process seen" in result.stdout
        confirmed = confirmed_seconds(result.stdout)
        print(
            f"FIGURE {PROCESSES} processes: off --wait confirmed in {confirmed:.1f} s "
            f"(the whole command {seconds:.1f} s)"
        )

        starting, _version = timed("--version", url=url)
        seconds, result = timed("processes", "--json", url=url)
        assert result.returncode == 0, result.stderr
        assert len(json.loads(result.stdout)["processes"]) == PROCESSES
        print(
            f"FIGURE {PROCESSES} processes: processes --json answered in "
            f"{seconds:.1f} s (the whole command; starting one took {starting:.1f} s)"
            f"; one poll of --wait {poll(client, url)}"
        )
