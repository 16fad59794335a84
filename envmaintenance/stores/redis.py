"""A switch in Redis: the document in one key, written compare-and-set by a
script, and the fleet's membership in keys beside it. One server (redis://,
rediss://), the primary a set of sentinels names (redis+sentinel://,
rediss+sentinel://) or a cluster (redis+cluster://, rediss+cluster://): the
URLs are read in redis_urls.py, the clients made in redis_clients.py.

All keys share one hash slot (the document key's hash tag, or the whole key),
so a cluster serves them from one node and one script covers a write. The
client library is imported only when a Redis switch is in use.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from importlib.util import find_spec
from typing import Any, TypeVar, cast
from urllib.parse import SplitResult, urlsplit

from envmaintenance.stores.base import (
    HISTORY_LENGTH,
    MAX_DOCUMENT_BYTES,
    MAX_ENTRY_BYTES,
    Conflict,
    Member,
    StoreError,
    SwitchLocation,
    decode_document,
    redact_url,
)
from envmaintenance.stores.redis_clients import LazyClient, client_factory, errors
from envmaintenance.stores.redis_urls import parse_redis_url

T = TypeVar("T")

# KEYS[1]: the document, KEYS[2]: the history. ARGV: the text expected (""
# and ARGV[3] = "absent" for none), the new text, "check" / "absent" / "force",
# the history entry ("": none) and the history's length. Returns {1} when
# written, else {0, current} ({0} when there is no document). Sent whole
# (EVAL, not EVALSHA): a write is rare, and a failed-over primary or a cluster
# node never lacks it.
_COMPARE_AND_SET = """
local current = redis.call('GET', KEYS[1])
local absent = ARGV[3] == 'absent'
if ARGV[3] ~= 'force' and ((absent and current) or
    (not absent and current ~= ARGV[1])) then
  if current then return {0, current} end
  return {0}
end
redis.call('SET', KEYS[1], ARGV[2])
if ARGV[4] ~= '' then
  redis.call('LPUSH', KEYS[2], ARGV[4])
  redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[5]) - 1)
end
return {1}
"""


def parse_location(text: str, parts: SplitResult) -> SwitchLocation:
    parse_redis_url(text, parts)  # ValueError, in one line, when it does not
    if find_spec("redis") is None:
        raise ValueError(
            f"{redact_url(text)!r} needs the Redis client: "
            f"pip install 'django-envmaintenance[redis]'"
        )
    return SwitchLocation(parts.scheme, redact_url(text), text)


def connect(location: SwitchLocation, key: str, timeout_seconds: float) -> RedisStore:
    """Used directly, not through Django's cache framework, whose clear() in a
    deploy script would wipe the switch. Nothing connects here: a store that is
    down at start-up is a failed read, not a failed start."""
    target = parse_redis_url(location.url, urlsplit(location.url))
    client = LazyClient(client_factory(target, timeout_seconds))
    return RedisStore(location, key, client, errors())


def hash_tag(key: str) -> str | None:
    """What Redis hashes a key by when it holds a hash tag: the text between
    the first '{' and the first '}' after it, if not empty."""
    opening = key.find("{")
    closing = key.find("}", opening + 1) if opening != -1 else -1
    return key[opening + 1 : closing] if closing > opening + 1 else None


def related_key(key: str, name: str) -> str:
    """A key beside the document's, in its hash slot: ``key:name`` when the key
    holds a hash tag, else ``{key}:name`` (the whole key as the tag). A key
    with a '}' and no tag cannot be a tag itself: a short tag of the same slot
    stands in for it, followed by the key."""
    if hash_tag(key) is not None:
        return f"{key}:{name}"
    if "}" not in key:
        return f"{{{key}}}:{name}"
    return f"{{{_tag_of_slot(_slot(key))}}}:{key}:{name}"


def _slot(text: str) -> int:
    from redis.crc import key_slot

    return int(key_slot(text.encode()))


@functools.cache
def _tag_of_slot(slot: int) -> str:
    """The first of 0, 1, 2… that hashes to the slot (each of the 16384 slots
    has one below 100,000)."""
    return next(str(n) for n in range(1_000_000) if _slot(str(n)) == slot)


class RedisStore:
    def __init__(
        self,
        location: SwitchLocation,
        key: str,
        client: LazyClient,
        errors: tuple[type[Exception], ...],
    ) -> None:
        self.location = location
        self.key = key
        self._client = client
        self.errors = errors
        self.members = RedisMembers(self)
        self.history = RedisHistory(self)

    @property
    def client(self) -> Any:
        """The client (made at the first call: a cluster's connects then)."""
        return self._client.get()

    def call(self, what: str, action: Callable[[Any], T]) -> T:
        """``action(client)``; a StoreError saying ``what`` failed, if it did."""
        try:
            return action(self.client)
        except self.errors as exc:
            raise self.failed(what, exc) from None

    def read(self) -> str | None:
        # Without decode_responses, redis-py answers bytes.
        data = cast("bytes | None", self.call("read", lambda c: c.get(self.key)))
        if data is None:
            return None
        if len(data) > MAX_DOCUMENT_BYTES:
            raise StoreError(f"{self.key} holds {len(data)} bytes: not a switch")
        return decode_document(data)

    def write(
        self,
        text: str,
        expected: str | None,
        *,
        force: bool = False,
        entry: bytes = b"",
    ) -> None:
        mode = "force" if force else ("absent" if expected is None else "check")
        keys = [self.key, self.history.key]
        arguments = [expected or "", text, mode, entry, HISTORY_LENGTH]
        found = self.call(
            "write", lambda c: c.eval(_COMPARE_AND_SET, 2, *keys, *arguments)
        )
        if found[0] != 1:
            current = found[1] if len(found) > 1 else None
            raise Conflict(
                None if current is None else current.decode(errors="replace")
            )

    def failed(self, what: str, exc: Exception) -> StoreError:
        """The error to raise, naming the store without its password."""
        return StoreError(f"cannot {what} {self.location.display}: {exc}")


class RedisMembers:
    """{key}:members (a hash: id -> the last report), {key}:held (a sorted set:
    id -> the revision it holds) and {key}:host:<host key> (a hash: id ->
    "pid started"), so a sibling finds who has gone without reading reports."""

    def __init__(self, store: RedisStore) -> None:
        self.store = store
        self.reports = related_key(store.key, "members")
        self.held = related_key(store.key, "held")
        self.where = f"{store.location.display} ({self.reports})"

    def can_report(self) -> bool:
        return True

    def _host(self, host_key: str) -> str:
        return related_key(self.store.key, f"host:{host_key}")

    def report(self, member: Member, revision: int, data: bytes) -> None:
        """One round trip, never a transaction: HSET, ZADD, HSET."""

        def run(client: Any) -> None:
            pipe = client.pipeline(transaction=False)
            pipe.hset(self.reports, member.id, data)
            pipe.zadd(self.held, {member.id: revision})
            place = f"{member.pid} {member.started}"
            pipe.hset(self._host(member.host_key), member.id, place)
            pipe.execute()

        self.store.call("report to", run)

    def leave(self, member: Member) -> None:
        self._forget([member.id], self._host(member.host_key))

    def forget(self, ids: Iterable[str]) -> None:
        self._forget(list(ids))

    def _forget(self, ids: list[str], host: str | None = None) -> None:
        def run(client: Any) -> None:
            pipe = client.pipeline(transaction=False)
            if host is not None:
                pipe.hdel(host, *ids)
            if ids:
                pipe.hdel(self.reports, *ids)
                pipe.zrem(self.held, *ids)
            pipe.execute()

        self.store.call("update", run)

    def read(self) -> list[tuple[str, bytes]]:
        """Every report, a thousand at a time: no call holds the server long."""
        return self.store.call(
            "read the reports of",
            lambda client: [
                (key.decode(errors="replace"), value)
                for key, value in client.hscan_iter(self.reports, count=1000)
            ],
        )

    def siblings(self, host_key: str) -> list[Member]:
        found = cast(
            "dict[bytes, bytes]",
            self.store.call("read", lambda c: c.hgetall(self._host(host_key))),
        )
        members = []
        for key, value in found.items():
            pid, _, started = value.partition(b" ")
            if pid.isdigit() and started.isdigit():
                members.append(Member(key.decode(), host_key, int(pid), int(started)))
        return members

    def highest_revision(self) -> int | None:
        top = self.store.call(
            "read", lambda c: c.zrevrange(self.held, 0, 0, withscores=True)
        )
        return int(top[0][1]) if top else None


class RedisHistory:
    """{key}:history, a list, newest first, trimmed to HISTORY_LENGTH."""

    def __init__(self, store: RedisStore) -> None:
        self.store = store
        self.key = related_key(store.key, "history")

    def append(self, entry: bytes) -> None:
        def run(client: Any) -> None:
            pipe = client.pipeline(transaction=True)
            pipe.lpush(self.key, entry)
            pipe.ltrim(self.key, 0, HISTORY_LENGTH - 1)
            pipe.execute()

        self.store.call("write the history of", run)

    def read(self, count: int) -> list[bytes]:
        found = self.store.call(
            "read the history of", lambda c: c.lrange(self.key, 0, count - 1)
        )
        return [
            entry
            for entry in cast("list[bytes]", found)
            if len(entry) <= MAX_ENTRY_BYTES
        ]
