"""A thousand processes on one Redis, simulated by light processes that report
exactly as web processes do (tests/e2e/fleet_scale.py; 10,000 is a run by
hand): what each costs the store per interval, and `processes` and `--wait`
with all of them, confirmed and listed. The figures are printed as FIGURE
lines (pytest -s); how long the two take is a target of `make bench`, not a
bound here, which a loaded machine could miss."""

from __future__ import annotations

from tests.e2e.conftest import RedisServer
from tests.e2e.fleet_scale import report, reported, simulated_fleet
from tests.e2e.switching import INTERVAL

PROCESSES = 1000


def test_a_thousand_processes_are_confirmed_and_listed(
    redis_server: RedisServer,
) -> None:
    """Every process reports, `off --wait` confirms all of them, `processes`
    lists all of them, and the store sees what a web process sends."""
    url = redis_server.url
    with simulated_fleet(url, PROCESSES, INTERVAL):
        reported(redis_server.client(), PROCESSES)
        figures = report(redis_server.client(), url, PROCESSES, INTERVAL)
    assert figures["listed_count"] == PROCESSES
