"""The redis-py client a Redis URL needs: one server, the primary the sentinels
name (redis.sentinel.Sentinel(...).master_for), or a cluster
(redis.cluster.RedisCluster); every socket call bounded by the timeout, no
retries, reads from the primary only.

On a failover:
- Sentinel: a call on a connection to the dead primary fails; the next one
  connects anew, asking the sentinels (in turn) where the primary is, and
  checks with ROLE that it is one (the Sentinel client spec's step 3): a
  replica the sentinels still name, or an old primary they demoted, is never
  read. Finding a primary is tried again every PRIMARY_POLL_SECONDS while the
  call's timeout lasts: once in a serving process (100 ms), for 2 s in the
  command. Sentinel closes the connections of an instance it demotes.
- Cluster: reads go to the primary of the key's slot (never READONLY on a
  replica); a MOVED or ASK (a slot migrated) is followed within the call, a
  connection error asks for the topology again at the next call. The client
  connects when it is made (CLUSTER SLOTS, COMMAND), so it is made at the first
  call, and again after one that could not.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from envmaintenance.stores.redis_urls import CLUSTER, SENTINEL, RedisTarget

if TYPE_CHECKING:
    import redis

PRIMARY_POLL_SECONDS = 0.1


def errors() -> tuple[type[Exception], ...]:
    """What redis-py raises when the store cannot answer."""
    import redis
    from redis.exceptions import RedisClusterException

    return (redis.RedisError, RedisClusterException, OSError)


def client_factory(target: RedisTarget, timeout_seconds: float) -> Callable[[], Any]:
    """A function that makes the client; only a cluster's connects then."""
    if target.topology == SENTINEL:
        return lambda: _sentinel_primary(target, timeout_seconds)
    if target.topology == CLUSTER:
        return lambda: _cluster(target, timeout_seconds)
    return lambda: _server(target, timeout_seconds)


class LazyClient:
    """The client, made at the first call that needs it (again after one that
    failed to), once even when two threads ask at once."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._client: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._make()
                client = self._client
        return client


def _no_retries() -> Any:
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return Retry(NoBackoff(), 0)


def _options(
    target: RedisTarget, timeout_seconds: float, *, sentinel: bool = False
) -> dict[str, Any]:
    """Connection options: timeouts, credentials, TLS."""
    options: dict[str, Any] = {
        "socket_connect_timeout": timeout_seconds,
        "socket_timeout": timeout_seconds,
        "health_check_interval": 0,
        "username": target.sentinel_username if sentinel else target.username,
        "password": target.sentinel_password if sentinel else target.password,
    }
    if target.tls is not None:
        tls = target.tls
        options.update(
            ssl_cert_reqs=tls.cert_reqs,
            ssl_check_hostname=tls.cert_reqs == "required",
            ssl_ca_certs=tls.ca_file,
            ssl_certfile=tls.cert_file,
            ssl_keyfile=tls.key_file,
        )
    return options


def _server(target: RedisTarget, timeout_seconds: float) -> redis.Redis:
    import redis

    (host, port), secure = target.nodes[0], target.tls is not None
    return redis.Redis(
        host=host,
        port=port,
        db=target.database,
        ssl=secure,
        retry=_no_retries(),
        **_options(target, timeout_seconds),
    )


def _sentinel_primary(target: RedisTarget, timeout_seconds: float) -> Any:
    from redis.sentinel import Sentinel

    sentinel_options = _options(target, timeout_seconds, sentinel=True)
    if target.tls is not None:
        sentinel_options["ssl"] = True
    sentinel = Sentinel(
        list(target.nodes),
        sentinel_kwargs={**sentinel_options, "retry": _no_retries()},
    )
    assert target.service is not None
    return sentinel.master_for(
        target.service,
        db=target.database,
        retry=_no_retries(),
        connection_class=_primary_connection(secure=target.tls is not None),
        patience_seconds=timeout_seconds,
        # Called in place of the handshake on each new connection, by every
        # redis-py since 4 (as RedisCluster uses it).
        redis_connect_func=handshake_with_the_primary,
        **_options(target, timeout_seconds),
    )


def handshake_with_the_primary(connection: Any) -> None:
    """The usual handshake (AUTH, SELECT), then ROLE: a server that is not the
    primary is a failed connection, and the sentinels are asked again."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    connection.on_connect()
    connection.send_command("ROLE")
    role = connection.read_response()
    if not role or role[0] not in (b"master", "master"):
        raise RedisConnectionError(
            f"{connection.host}:{connection.port} is not the primary (yet)"
        )


def _cluster(target: RedisTarget, timeout_seconds: float) -> Any:
    from redis.cluster import ClusterNode, RedisCluster

    return RedisCluster(
        startup_nodes=[
            ClusterNode(host, port)  # type: ignore[no-untyped-call]
            for host, port in target.nodes
        ],
        retry=_no_retries(),
        ssl=target.tls is not None,
        **_options(target, timeout_seconds),
    )


@functools.cache
def _primary_connection(*, secure: bool) -> type[Any]:
    """The Sentinel-managed connection class that waits for a primary while a
    call's time lasts (made once: redis-py is imported only when a Redis URL is
    in use)."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from redis.sentinel import SentinelManagedConnection, SentinelManagedSSLConnection

    base: type[Any] = SentinelManagedConnection
    if secure:
        base = SentinelManagedSSLConnection

    class PrimaryConnection(base):  # type: ignore[misc]
        def __init__(self, *, patience_seconds: float = 0.0, **kwargs: Any) -> None:
            self.patience_seconds = patience_seconds
            super().__init__(**kwargs)

        def connect(self) -> None:
            """Ask the sentinels again while the call's time lasts: nothing
            has been sent yet, so trying again cannot write twice."""
            deadline = time.monotonic() + self.patience_seconds
            while True:
                try:
                    super().connect()
                    return
                except (RedisConnectionError, RedisTimeoutError):
                    if time.monotonic() + PRIMARY_POLL_SECONDS >= deadline:
                        raise
                time.sleep(PRIMARY_POLL_SECONDS)

    return PrimaryConnection
