"""The switch over TLS, as managed Redis offers it: a server that speaks only
TLS and asks clients for a certificate (a CA, the server's and a client's
certificates made by the test in its own directory), and an ACL user that may
touch only the switch's keys, with only the commands the package uses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from envmaintenance.stores import StoreError, open_store, parse_switch_url
from envmaintenance.stores.redis import related_key
from tests.e2e.conftest import Start, require
from tests.e2e.failover import KEY, blocked_answers, confirm, follow
from tests.e2e.redis_topologies import (
    Certificates,
    Node,
    SentinelGroup,
    make_certificates,
    tls_query,
    tls_server,
)
from tests.e2e.switching import command

PASSWORD = "tls-s3cret-pass"
# Every command the switch sends (the script's own included), and no other.
COMMANDS = (
    *("get", "set", "eval"),  # the document, the script
    *("hset", "hdel", "hgetall", "hscan", "zadd", "zrem", "zrevrange"),  # the fleet
    *("lpush", "ltrim", "lrange", "multi", "exec"),  # the history
)


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    return make_certificates(tmp_path / "certificates")


@pytest.fixture
def tls_redis(tmp_path: Path, certificates: Certificates) -> Iterator[Node]:
    """The server, with user "switch" allowed the switch's keys and commands."""
    node = tls_server(
        require("redis-server", "redis-server"), tmp_path / "tls", certificates
    )
    try:
        allow_the_switch(node.start())
        yield node
    finally:
        node.kill()


def allow_the_switch(node: Node, *more: str) -> None:
    """User "switch": the switch's keys, the commands the package sends."""
    node.client().execute_command(
        "ACL", "SETUSER", "switch", "on", f">{PASSWORD}", "resetchannels",
        f"~{KEY}", f"~{{{KEY}}}:*", "-@all",
        *(f"+{name}" for name in (*COMMANDS, *more)),
    )  # fmt: skip


@pytest.fixture
def tls_sentinel_group(
    tmp_path: Path, certificates: Certificates
) -> Iterator[SentinelGroup]:
    """A Sentinel group that speaks TLS only; user "switch" on its servers."""
    program = require("redis-server", "redis-server")
    group = SentinelGroup(program, tmp_path / "redis", certificates)
    try:
        for server in group.start().servers:
            allow_the_switch(server, "role")  # and the check of the primary
        yield group
    finally:
        group.stop()


def url_of(node: Node, certificates: Certificates, *, client: bool = True) -> str:
    query = tls_query(certificates, client=client)
    return f"rediss://switch:{PASSWORD}@127.0.0.1:{node.port}/0?{query}"


def denied(node: Node) -> list[str]:
    """What the ACL refused the switch's user, by command or key. redis-py's
    CLIENT SETINFO (Redis 7.2 on) is refused too, and ignored by redis-py."""
    return [
        f"{entry['reason']} {entry['object']}"
        for entry in node.client().acl_log()
        if entry["username"] == "switch" and entry["object"] != "client|setinfo"
    ]


def test_on_wait_and_processes_over_tls_with_a_user_of_the_switch_keys_only(
    tls_redis: Node, certificates: Certificates, start_app: Start
) -> None:
    url = url_of(tls_redis, certificates)
    server, pids = follow(start_app, url)
    revision, output = confirm("on", url, "--reason", "over TLS")
    listing = json.loads(command("processes", "--json", url=url).stdout)
    assert {(row["pid"], row["revision"]) for row in listing["processes"]} == {
        (pid, revision) for pid in pids
    }
    history = command("history", url=url)
    assert history.returncode == 0, history.stderr
    assert "over TLS" in history.stdout
    assert blocked_answers(server) == {503}
    after, _ = confirm("off", url)
    assert after == revision + 1
    assert blocked_answers(server) == {200}
    assert denied(tls_redis) == []
    stored = set(tls_redis.client(decode_responses=True).keys("*"))
    assert KEY in stored
    assert {related_key(KEY, name) for name in ("members", "held", "history")} <= stored
    assert all(key == KEY or key.startswith(f"{{{KEY}}}:") for key in stored)
    for shown in (output, server.log_text()):
        assert PASSWORD not in shown
        assert str(certificates.ca) not in shown  # the query is never shown


def test_on_wait_and_processes_over_tls_through_the_sentinels(
    tls_sentinel_group: SentinelGroup, certificates: Certificates, start_app: Start
) -> None:
    """rediss+sentinel://: TLS to the sentinels and to the servers, the user
    "switch" on the servers; then the primary dies, and a write after the
    promotion is confirmed."""
    url = tls_sentinel_group.url.replace("://", f"://switch:{PASSWORD}@", 1)
    server, pids = follow(start_app, url)
    revision, _ = confirm("on", url)
    listing = json.loads(command("processes", "--json", url=url).stdout)
    assert {(row["pid"], row["revision"]) for row in listing["processes"]} == {
        (pid, revision) for pid in pids
    }
    tls_sentinel_group.replicated()
    old = tls_sentinel_group.primary
    old.kill()
    new = tls_sentinel_group.promoted(old)
    after, _ = confirm("off", url)
    assert after == revision + 1
    assert blocked_answers(server) == {200}
    live = [node for node in tls_sentinel_group.servers if node.alive]
    assert new in live
    assert [denied(node) for node in live] == [[]] * len(live)
    assert PASSWORD not in server.log_text()


def test_the_user_may_touch_nothing_else(
    tls_redis: Node, certificates: Certificates
) -> None:
    location = parse_switch_url(url_of(tls_redis, certificates))
    assert location is not None
    store = open_store(location, KEY, 2.0)
    assert store.read() is None  # allowed
    with pytest.raises(StoreError):
        open_store(location, "another:switch", 2.0).read()
    as_switch = tls_redis.client(username="switch", password=PASSWORD)
    with pytest.raises(redis.exceptions.NoPermissionError):
        as_switch.set("sessions:1", "x")  # another key
    with pytest.raises(redis.exceptions.NoPermissionError):
        as_switch.flushall()  # another command
    assert len(denied(tls_redis)) == 3


def test_tls_is_required_and_a_certificate_is_asked_for(
    tls_redis: Node, certificates: Certificates
) -> None:
    for url in (
        url_of(tls_redis, certificates, client=False),  # no client certificate
        f"redis://switch:{PASSWORD}@127.0.0.1:{tls_redis.port}/0",  # no TLS
        f"rediss://switch:{PASSWORD}@127.0.0.1:{tls_redis.port}/0",  # an unknown CA
    ):
        location = parse_switch_url(url)
        assert location is not None
        with pytest.raises(StoreError) as info:
            open_store(location, KEY, 2.0).read()
        assert PASSWORD not in str(info.value)
