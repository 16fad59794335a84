"""What the failover tests check on the fleet: gunicorn following a switch,
writes that must be confirmed, the processes' reports, and the latencies of a
load before and after a fault."""

from __future__ import annotations

import time
from typing import Any

from envmaintenance.documents import revision_of
from envmaintenance.fleet import ProcessReport, read_fleet
from tests.e2e.conftest import Server, Start, request
from tests.e2e.redis_topologies import Node, until
from tests.e2e.switching import (
    BLOCKED,
    INTERVAL,
    command,
    reporting,
    switch_store,
    wait_for_workers,
    written_revision,
)

KEY = "envmaintenance:switch"


def follow(start: Start, url: str) -> tuple[Server, set[int]]:
    """gunicorn with two workers on the switch at ``url``, both reporting."""
    server = start("gunicorn", workers=2, switch_url=url, switch_interval=str(INTERVAL))
    wait_for_workers(server, 2)
    return server, reporting(url, server, 2)


def confirm(action: str, url: str, *args: str) -> tuple[int, str]:
    """``action --wait``, which must succeed: the revision written, the output."""
    result = command(action, *args, "--wait", "30", url=url)
    assert result.returncode == 0, result.stdout + result.stderr
    return written_revision(result.stdout), result.stdout


def stored_revision(node: Node) -> int:
    """The revision of the document a server holds, read straight from it."""
    stored = node.client().get(KEY)
    return revision_of(None if stored is None else stored.decode())


def reports_of(url: str, pids: set[int]) -> dict[int, ProcessReport]:
    """The reports of these processes, as the store holds them now."""
    fleet = read_fleet(switch_store(url).members, time.time(), float("inf"))
    return {report.pid: report for report in fleet.reports if report.pid in pids}


def first_reads_after(url: str, pids: set[int], fault_at: float) -> dict[int, float]:
    """Seconds from the fault to each process's first good read of the store
    after it, as their reports say (each reads once an interval)."""
    first: dict[int, float] = {}

    def every_process_read_again() -> bool:
        for pid, report in reports_of(url, pids).items():
            read_at = report.last_read_at
            if read_at is not None and read_at > fault_at and report.trouble is None:
                first.setdefault(pid, read_at - fault_at)
        return set(first) == pids

    until(every_process_read_again, "every process reading the store again")
    return first


def percentiles(latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p99 = ordered[int(len(ordered) * 0.99)]
    return f"p99 {p99 * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms ({len(ordered)})"


def blocked_answers(server: Server, requests: int = 10) -> set[int]:
    """The statuses a blocked client gets, over a few requests."""
    return {request(server.port, "/", source=BLOCKED).status for _ in range(requests)}


def seconds(values: Any) -> str:
    return ", ".join(f"{value:.1f} s" for value in sorted(values))
