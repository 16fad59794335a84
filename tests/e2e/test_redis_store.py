"""The Redis store against a real redis-server: reads, writes, and its faults."""

from __future__ import annotations

import time

import pytest

from envmaintenance.stores import RedisStore, StoreError, parse_switch_url
from tests.e2e.conftest import RedisServer, free_port


def store_for(url: str, key: str = "envmaintenance:switch") -> RedisStore:
    location = parse_switch_url(url)
    assert location is not None
    return RedisStore(location, key)


def test_write_then_read_back(redis_server: RedisServer) -> None:
    store = store_for(redis_server.url, "shop:switch")
    assert store.read() is None
    store.write("MAINTENANCE_MODE=1\n")
    assert store.read() == "MAINTENANCE_MODE=1\n"
    assert redis_server.client().get("shop:switch") == b"MAINTENANCE_MODE=1\n"


def test_a_password_is_used_and_never_shown(redis_server: RedisServer) -> None:
    redis_server.client().config_set("requirepass", "s3cret-pass")
    store = store_for(f"redis://:s3cret-pass@127.0.0.1:{redis_server.port}/0")
    store.write("MAINTENANCE_MODE=0\n")
    assert store.read() == "MAINTENANCE_MODE=0\n"
    wrong = store_for(f"redis://:wrong-pass@127.0.0.1:{redis_server.port}/0")
    with pytest.raises(StoreError) as info:
        wrong.read()
    assert "wrong-pass" not in str(info.value)
    assert store.location.display == f"redis://***@127.0.0.1:{redis_server.port}/0"


def test_a_refused_connection_fails_at_once() -> None:
    store = store_for(f"redis://127.0.0.1:{free_port()}/0")
    started = time.monotonic()
    with pytest.raises(StoreError, match=r"cannot read redis://127\.0\.0\.1:"):
        store.read()
    with pytest.raises(StoreError, match="cannot write"):
        store.write("MAINTENANCE_MODE=1\n")
    assert time.monotonic() - started < 1


def test_a_hanging_server_fails_within_the_timeouts(redis_server: RedisServer) -> None:
    store = store_for(redis_server.url)
    redis_server.pause()
    try:
        started = time.monotonic()
        with pytest.raises(StoreError, match="Timeout"):
            store.read()
        waited = time.monotonic() - started
    finally:
        redis_server.resume()
    assert waited < 0.5  # 100 ms connect + 100 ms read, no retries
    assert store.read() is None  # and it recovers by itself


@pytest.mark.parametrize(
    ("value", "problem"),
    [(b"x" * 20_000, "20000 bytes: not a switch"), (b"\xff\xfe", "not UTF-8")],
)
def test_what_is_no_document_is_a_store_error(
    redis_server: RedisServer, value: bytes, problem: str
) -> None:
    redis_server.client().set("envmaintenance:switch", value)
    with pytest.raises(StoreError, match=problem):
        store_for(redis_server.url).read()


def test_a_key_of_another_type_is_a_store_error(redis_server: RedisServer) -> None:
    redis_server.client().rpush("envmaintenance:switch", "x")
    with pytest.raises(StoreError, match="WRONGTYPE"):
        store_for(redis_server.url).read()
