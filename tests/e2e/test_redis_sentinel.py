"""The switch on Redis Sentinel, with real failovers: gunicorn following a
primary that two replicas copy and three sentinels watch (a group of each
test's own), the primary SIGKILLed under load, and a replica promoted that
never received the last write. The timings are printed as FIGURE lines
(pytest -s)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from envmaintenance.stores.redis_clients import handshake_with_the_primary
from tests.e2e.conftest import Server, Start
from tests.e2e.failover import (
    blocked_answers,
    confirm,
    first_reads_after,
    follow,
    percentiles,
    reports_of,
    seconds,
    stored_revision,
)
from tests.e2e.redis_topologies import SentinelGroup, until
from tests.e2e.switching import Background, Load, command


def only_the_primary_is_read(group: SentinelGroup) -> bool:
    """The handshake of a Sentinel connection (AUTH, SELECT, then ROLE) passes
    on the primary, and fails on each replica, as on a demoted primary."""
    from redis import connection as connections
    from redis.exceptions import ConnectionError as RedisConnectionError

    connection_class: Any = connections.Connection
    passed = set()
    for node in group.servers:
        connection = connection_class(
            host="127.0.0.1",
            port=node.port,
            socket_timeout=5,
            redis_connect_func=handshake_with_the_primary,
        )
        try:
            connection.connect()
            passed.add(node.port)
        except RedisConnectionError:
            pass
        finally:
            connection.disconnect()
    return passed == {group.primary_port()}


def test_a_killed_primary_costs_no_request_and_the_state_stays(
    sentinel_group: SentinelGroup, start_app: Start, load: Callable[[Server], Load]
) -> None:
    """SIGKILL the primary while a blocked client keeps asking: every answer is
    the maintenance page, none waits on the store; every process finds the new
    primary through the sentinels; `on --wait` issued during the failover
    succeeds or says what it did not do, and a write after it is confirmed."""
    url = sentinel_group.url
    assert only_the_primary_is_read(sentinel_group)
    server, pids = follow(start_app, url)
    revision, _ = confirm("on", url)
    sentinel_group.replicated()
    running = load(server)
    until(lambda: running.statuses[503] >= 200, "the load under way")

    old = sentinel_group.primary
    before = len(running.latencies)  # answered before the primary died
    killed_at = time.time()
    old.kill()
    during = Background("on", "--wait", "30", "--reason", "failover", url=url)
    new = sentinel_group.promoted(old)
    promoted = time.time() - killed_at
    first_reads = first_reads_after(url, pids, killed_at)
    outcome = during.finish(timeout=60)
    statuses = running.finish().statuses
    usual, failing = running.latencies[:before], running.latencies[before:]

    print(
        f"FIGURE sentinel failover: the sentinels named the new primary "
        f"{promoted:.1f} s after the SIGKILL; the processes read it after "
        f"{seconds(first_reads.values())}; requests by status: {dict(statuses)}; "
        f"latency before the kill {percentiles(usual)}, from the kill on "
        f"{percentiles(failing)}"
    )
    last_line = (outcome.stdout + outcome.stderr).strip().splitlines()[-1]
    print(
        f"FIGURE on --wait issued during the failover: exit {outcome.returncode}: "
        f"{last_line}"
    )
    assert statuses.keys() == {503}, statuses  # the state kept: never a 500
    assert stored_revision(new) >= revision  # the promoted replica had it
    assert only_the_primary_is_read(sentinel_group)  # now the promoted one
    if outcome.returncode != 0:  # it failed, saying what it did and did not do
        said = outcome.stderr
        assert (
            "the switch was not changed" in said
            or f"The switch was written (revision {revision + 1})" in said
        ), said
    after, _ = confirm("off", url)
    assert after > revision
    assert blocked_answers(server) == {200}


def test_a_replica_promoted_without_the_last_write_is_outrun(
    sentinel_group: SentinelGroup, start_app: Start
) -> None:
    """The replicas are stopped and cut off while the primary takes a write,
    then the primary dies: the promoted replica holds the revision before it.
    Every process keeps the newer one, the command says the store went back,
    and the next write goes above both."""
    url = sentinel_group.url
    server, pids = follow(start_app, url)
    older, _ = confirm("off", url)
    sentinel_group.replicated()
    old = sentinel_group.primary
    replicas = [node for node in sentinel_group.servers if node is not old]
    for replica in replicas:
        replica.pause()
    try:
        # Their links closed: nothing written from now on reaches them.
        old.client().execute_command("CLIENT", "KILL", "TYPE", "replica")
        newer, _ = confirm("on", url, "--reason", "missed by the replicas")
        old.kill()
    finally:
        for replica in replicas:
            replica.resume()
    new = sentinel_group.promoted(old)
    assert stored_revision(new) == older

    def every_process_keeps_the_newer() -> bool:
        reports = reports_of(url, pids)
        return set(reports) == pids and all(
            r.revision == newer and "the store went back" in (r.trouble or "")
            for r in reports.values()
        )

    until(every_process_keeps_the_newer, f"every process keeping revision {newer}")
    assert blocked_answers(server) == {503}

    status = command(url=url)
    assert status.returncode == 0, status.stderr
    assert (
        f"the store WENT BACK to revision {older}; revision {newer} was written; "
        f"the next write is revision {newer + 1}"
    ) in status.stdout
    after, output = confirm("off", url)
    assert after == newer + 1
    assert (
        f"The store WENT BACK to revision {older}; the fleet holds revision {newer}: "
        f"writing revision {newer + 1}, above it."
    ) in output
    assert blocked_answers(server) == {200}
    print(
        f"FIGURE went back: the promoted replica held revision {older}, the fleet "
        f"kept {newer}, the next write was {after}"
    )
