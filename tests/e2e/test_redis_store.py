"""The Redis store against a real redis-server: reads, writes, and its faults."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from concurrent.futures import Future

import pytest

from envmaintenance.stores import Conflict, StoreError, open_store, parse_switch_url
from envmaintenance.stores.redis import RedisStore
from tests.e2e.conftest import RedisServer, free_port

# A hang guard, not a measure: a read is bounded by its socket timeouts (100 ms
# to connect, 100 ms to answer, no retries), and one that had none would wait
# on a stopped server for ever. No loaded machine takes this long for 200 ms.
HANG_GUARD_SECONDS = 30


def in_background(call: Callable[[], object]) -> Future[object]:
    """call() in a daemon thread: a test that gives up on it is not held up."""
    outcome: Future[object] = Future()

    def run() -> None:
        try:
            outcome.set_result(call())
        except BaseException as exc:
            outcome.set_exception(exc)

    threading.Thread(target=run, daemon=True).start()
    return outcome


def store_for(url: str, key: str = "envmaintenance:switch") -> RedisStore:
    location = parse_switch_url(url)
    assert location is not None
    store = open_store(location, key)  # as a serving process opens it
    assert isinstance(store, RedisStore)
    return store


def test_write_then_read_back(redis_server: RedisServer) -> None:
    store = store_for(redis_server.url, "shop:switch")
    assert store.read() is None
    store.write("REVISION=1\nMAINTENANCE_MODE=1\n", None)
    assert store.read() == "REVISION=1\nMAINTENANCE_MODE=1\n"
    assert (
        redis_server.client().get("shop:switch") == b"REVISION=1\nMAINTENANCE_MODE=1\n"
    )


def test_a_write_is_compare_and_set(redis_server: RedisServer) -> None:
    store = store_for(redis_server.url)
    first, second = (
        "REVISION=1\nMAINTENANCE_MODE=1\n",
        "REVISION=2\nMAINTENANCE_MODE=0\n",
    )
    store.write(first, None)
    with pytest.raises(Conflict) as info:
        store.write(second, None)  # expected no document: there is one
    assert info.value.current == first
    with pytest.raises(Conflict):
        store.write(second, "REVISION=0\n")  # expected another document
    assert store.read() == first  # nothing was written
    store.write(second, first)
    assert store.read() == second
    store.write(first, None, force=True)
    assert store.read() == first


def test_a_conflict_after_the_document_was_deleted_names_none(
    redis_server: RedisServer,
) -> None:
    store = store_for(redis_server.url)
    store.write("REVISION=1\n", None)
    redis_server.client().flushall()
    with pytest.raises(Conflict) as info:
        store.write("REVISION=2\n", "REVISION=1\n")
    assert info.value.current is None
    assert store.read() is None


def test_a_password_is_used_and_never_shown(redis_server: RedisServer) -> None:
    redis_server.client().config_set("requirepass", "s3cret-pass")
    store = store_for(f"redis://:s3cret-pass@127.0.0.1:{redis_server.port}/0")
    store.write("MAINTENANCE_MODE=0\n", None)
    assert store.read() == "MAINTENANCE_MODE=0\n"
    wrong = store_for(f"redis://:wrong-pass@127.0.0.1:{redis_server.port}/0")
    with pytest.raises(StoreError) as info:
        wrong.read()
    assert "wrong-pass" not in str(info.value)
    assert store.location.display == f"redis://***@127.0.0.1:{redis_server.port}/0"


def test_a_refused_connection_is_a_store_error() -> None:
    store = store_for(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(StoreError, match=r"cannot read redis://127\.0\.0\.1:"):
        store.read()
    with pytest.raises(StoreError, match=r"cannot write redis://127\.0\.0\.1:"):
        store.write("MAINTENANCE_MODE=1\n", None)


def test_a_failed_read_is_one_attempt_without_retries() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        store = store_for(f"redis://127.0.0.1:{listener.getsockname()[1]}/0")
        reading = in_background(store.read)
        connection, _ = listener.accept()
        connection.close()  # hung up before answering
        with pytest.raises(StoreError, match="cannot read"):
            reading.result(timeout=HANG_GUARD_SECONDS)
        listener.settimeout(0)
        with pytest.raises(BlockingIOError):
            listener.accept()  # no second connection: no retry


def test_a_hanging_server_is_a_store_error_and_then_recovers(
    redis_server: RedisServer,
) -> None:
    store = store_for(redis_server.url)
    redis_server.pause()  # accepts connections, never answers
    try:
        reading = in_background(store.read)
        with pytest.raises(StoreError, match=r"cannot read redis://127\.0\.0\.1:"):
            reading.result(timeout=HANG_GUARD_SECONDS)
    finally:
        redis_server.resume()
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
    with pytest.raises(StoreError, match=r"cannot read redis://127\.0\.0\.1:"):
        store_for(redis_server.url).read()
