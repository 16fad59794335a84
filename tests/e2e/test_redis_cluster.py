"""The switch on a Redis Cluster (three primaries, a replica each), shared by
this module's tests with one gunicorn that follows it: the switch's keys in
one hash slot, that slot migrated to another primary key by key while the
processes read it, then its primary SIGKILLed. The timings are printed as
FIGURE lines (pytest -s)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from redis.crc import key_slot

from envmaintenance.stores.redis import related_key
from tests.e2e.conftest import Server, Start
from tests.e2e.failover import (
    KEY,
    blocked_answers,
    confirm,
    first_reads_after,
    follow,
    percentiles,
    reports_of,
    seconds,
)
from tests.e2e.redis_topologies import Cluster, Node, until
from tests.e2e.switching import INTERVAL, Load, command

SLOT = key_slot(KEY.encode())


@pytest.fixture(scope="module")
def fleet(redis_cluster: Cluster, start_module_app: Start) -> tuple[Server, set[int]]:
    return follow(start_module_app, redis_cluster.url)


def trouble_logged(server: Server) -> int:
    """How many times a worker said the store failed it (once per trouble)."""
    return server.log_text().count("Maintenance switch: cannot ")


def test_the_switch_lives_in_one_slot_and_on_wait_confirms(
    redis_cluster: Cluster, fleet: tuple[Server, set[int]]
) -> None:
    server, pids = fleet
    url = redis_cluster.url
    revision, _ = confirm("on", url)
    listing = json.loads(command("processes", "--json", url=url).stdout)
    assert {row["pid"] for row in listing["processes"]} == pids
    assert {row["revision"] for row in listing["processes"]} == {revision}
    owner = redis_cluster.owner(SLOT)
    keys = set(owner.client(decode_responses=True).cluster("getkeysinslot", SLOT, 100))
    related = {related_key(KEY, name) for name in ("members", "held", "history")}
    assert {KEY, *related} <= keys
    assert {int(owner.client().cluster("keyslot", key)) for key in keys} == {SLOT}
    assert blocked_answers(server) == {503}


def test_a_slot_migration_keeps_the_state_and_costs_no_request(
    redis_cluster: Cluster,
    fleet: tuple[Server, set[int]],
    load: Callable[[Server], Load],
) -> None:
    """A pause of an interval after each key moved, so that every process reads
    and reports while half the slot answers ASK (and a script on two keys
    TRYAGAIN)."""
    server, pids = fleet
    url = redis_cluster.url
    revision, _ = confirm("on", url)
    source = redis_cluster.owner(SLOT)
    target = next(p for p in redis_cluster.primaries() if p.port != source.port)
    troubles = trouble_logged(server)
    running = load(server)
    started = time.monotonic()
    moved = redis_cluster.migrate(SLOT, target, lambda: time.sleep(INTERVAL))
    migrated = time.monotonic() - started
    assert redis_cluster.owner(SLOT).port == target.port
    first_reads_after(url, pids, time.time())  # every process, from the new owner
    statuses = running.finish().statuses
    reports = reports_of(url, pids)
    print(
        f"FIGURE cluster slot migration: {moved} keys in {migrated:.1f} s; requests "
        f"by status: {dict(statuses)}, latency {percentiles(running.latencies)}; "
        f"troubles the workers logged: {trouble_logged(server) - troubles}"
    )
    assert statuses.keys() == {503}, statuses
    assert {(r.revision, r.trouble) for r in reports.values()} == {(revision, None)}
    after, _ = confirm("off", url)
    assert after == revision + 1


def test_a_node_failover_keeps_the_state_and_a_write_after_it_is_confirmed(
    redis_cluster: Cluster,
    fleet: tuple[Server, set[int]],
    load: Callable[[Server], Load],
) -> None:
    server, pids = fleet
    url = redis_cluster.url
    revision, _ = confirm("on", url)
    old = redis_cluster.owner(SLOT)
    replica = redis_cluster.replica_of(old)
    assert old.client().wait(1, 10_000) == 1  # the replica has the revision
    running = load(server)
    until(lambda: running.statuses[503] >= 200, "the load under way")
    before = len(running.latencies)
    killed_at = time.time()
    old.kill()

    def promoted_replica() -> Node | None:
        owner = redis_cluster.owner(SLOT)
        return owner if owner.port != old.port else None

    new = until(promoted_replica, "the replica promoted")
    promoted = time.time() - killed_at
    first_reads = first_reads_after(url, pids, killed_at)
    statuses = running.finish().statuses
    usual, failing = running.latencies[:before], running.latencies[before:]
    print(
        f"FIGURE cluster node failover: the cluster served the slot from its "
        f"replica {promoted:.1f} s after the SIGKILL; the processes read it after "
        f"{seconds(first_reads.values())}; requests by status: {dict(statuses)}; "
        f"latency before the kill {percentiles(usual)}, from the kill on "
        f"{percentiles(failing)}"
    )
    assert new.port == replica.port
    assert statuses.keys() == {503}, statuses
    assert {r.revision for r in reports_of(url, pids).values()} == {revision}
    after, _ = confirm("off", url)
    assert after == revision + 1
    assert blocked_answers(server) == {200}
