"""A switch in Redis (redis:// and rediss://): the document in one key, written
compare-and-set by a script, and the fleet's membership in keys beside it.

All keys share one hash slot (the document key, or a hash tag of it), so a
Redis Cluster can serve them and one script covers a write. The client library
is imported only when a Redis switch is in use.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import SplitResult

from envmaintenance.stores.base import (
    HISTORY_LENGTH,
    MAX_DOCUMENT_BYTES,
    MAX_ENTRY_BYTES,
    Conflict,
    Member,
    StoreError,
    SwitchLocation,
    decode_document,
    expected_url,
    redact_url,
)

if TYPE_CHECKING:
    import redis

# KEYS[1]: the document, KEYS[2]: the history. ARGV: the text expected (""
# and ARGV[3] = "absent" for none), the new text, "check" / "absent" / "force",
# the history entry ("": none) and the history's length. Returns {1} when
# written, else {0, current} ({0} when there is no document).
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
    try:
        port = parts.port
    except ValueError:
        port = 0
    if not parts.hostname:
        raise ValueError(expected_url(text, "a Redis URL needs a host"))
    if port == 0:
        raise ValueError(expected_url(text, "its port is not a number from 1 to 65535"))
    database = parts.path.lstrip("/")
    if database and not (database.isascii() and database.isdigit()):
        raise ValueError(expected_url(text, "the database is a number, like /0"))
    if parts.query:
        raise ValueError(expected_url(text, "query parameters are not supported"))
    if find_spec("redis") is None:
        raise ValueError(
            f"{redact_url(text)!r} needs the Redis client: "
            f"pip install 'django-envmaintenance[redis]'"
        )
    return SwitchLocation(parts.scheme, redact_url(text), text)


def connect(location: SwitchLocation, key: str, timeout_seconds: float) -> RedisStore:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # Used directly, not through Django's cache framework, whose clear() in a
    # deploy script would wipe the switch. No retries: one bounded attempt.
    client = redis.Redis.from_url(
        location.url,
        socket_connect_timeout=timeout_seconds,
        socket_timeout=timeout_seconds,
        retry=Retry(NoBackoff(), 0),
        retry_on_timeout=False,
        health_check_interval=0,
    )
    return RedisStore(location, key, client, (redis.RedisError, OSError))


def related_key(key: str, name: str) -> str:
    """A key beside the document's, in its hash slot: ``{key}:name``, or
    ``key:name`` when the key already holds a hash tag."""
    opening = key.find("{")
    closing = key.find("}", opening + 1)
    if opening != -1 and closing > opening + 1:
        return f"{key}:{name}"
    return f"{{{key}}}:{name}"


class RedisStore:
    def __init__(
        self,
        location: SwitchLocation,
        key: str,
        client: redis.Redis,
        errors: tuple[type[Exception], ...],
    ) -> None:
        self.location = location
        self.key = key
        self.client = client
        self.errors = errors
        self._compare_and_set = client.register_script(_COMPARE_AND_SET)
        self.members = RedisMembers(self)
        self.history = RedisHistory(self)

    def read(self) -> str | None:
        try:
            # Without decode_responses, redis-py answers bytes.
            data = cast("bytes | None", self.client.get(self.key))
        except self.errors as exc:
            raise self.failed("read", exc) from None
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
        try:
            found = self._compare_and_set(
                keys=[self.key, self.history.key],
                args=[expected or "", text, mode, entry, HISTORY_LENGTH],
            )
        except self.errors as exc:
            raise self.failed("write", exc) from None
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
        self.client = store.client
        self.reports = related_key(store.key, "members")
        self.held = related_key(store.key, "held")
        self.where = f"{store.location.display} ({self.reports})"

    def can_report(self) -> bool:
        return True

    def _host(self, host_key: str) -> str:
        return related_key(self.store.key, f"host:{host_key}")

    def report(self, member: Member, revision: int, data: bytes) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(self.reports, member.id, data)
        pipe.zadd(self.held, {member.id: revision})
        pipe.hset(
            self._host(member.host_key), member.id, f"{member.pid} {member.started}"
        )
        self._run(pipe, "report to")

    def leave(self, member: Member) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.hdel(self._host(member.host_key), member.id)
        self._forget(pipe, [member.id])

    def forget(self, ids: Iterable[str]) -> None:
        self._forget(self.client.pipeline(transaction=False), list(ids))

    def _forget(self, pipe: Any, ids: list[str]) -> None:
        if ids:
            pipe.hdel(self.reports, *ids)
            pipe.zrem(self.held, *ids)
        self._run(pipe, "update")

    def read(self) -> list[tuple[str, bytes]]:
        """Every report, a thousand at a time: no call holds the server long."""
        try:
            return [
                (key.decode(errors="replace"), value)
                for key, value in self.client.hscan_iter(self.reports, count=1000)
            ]
        except self.store.errors as exc:
            raise self.store.failed("read the reports of", exc) from None

    def siblings(self, host_key: str) -> list[Member]:
        try:
            found = cast(
                "dict[bytes, bytes]", self.client.hgetall(self._host(host_key))
            )
        except self.store.errors as exc:
            raise self.store.failed("read", exc) from None
        members = []
        for key, value in found.items():
            pid, _, started = value.partition(b" ")
            if pid.isdigit() and started.isdigit():
                members.append(Member(key.decode(), host_key, int(pid), int(started)))
        return members

    def highest_revision(self) -> int | None:
        try:
            top = self.client.zrevrange(self.held, 0, 0, withscores=True)
        except self.store.errors as exc:
            raise self.store.failed("read", exc) from None
        return int(top[0][1]) if top else None

    def _run(self, pipe: Any, what: str) -> None:
        try:
            pipe.execute()
        except self.store.errors as exc:
            raise self.store.failed(what, exc) from None


class RedisHistory:
    """{key}:history, a list, newest first, trimmed to HISTORY_LENGTH."""

    def __init__(self, store: RedisStore) -> None:
        self.store = store
        self.key = related_key(store.key, "history")

    def append(self, entry: bytes) -> None:
        pipe = self.store.client.pipeline(transaction=True)
        pipe.lpush(self.key, entry)
        pipe.ltrim(self.key, 0, HISTORY_LENGTH - 1)
        try:
            pipe.execute()
        except self.store.errors as exc:
            raise self.store.failed("write the history of", exc) from None

    def read(self, count: int) -> list[bytes]:
        try:
            found = self.store.client.lrange(self.key, 0, count - 1)
        except self.store.errors as exc:
            raise self.store.failed("read the history of", exc) from None
        return [
            entry
            for entry in cast("list[bytes]", found)
            if len(entry) <= MAX_ENTRY_BYTES
        ]
