"""Where the runtime switch lives: a file or a Redis key. Its URL, read and write.

Nothing here imports the Redis client unless a redis:// URL is in use.
"""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    import redis

# The bound: connecting and reading each give up after 100 ms, so a
# store that is down or hangs costs the one reading request at most that.
REDIS_TIMEOUT_SECONDS = 0.1
# A switch document is a few lines; anything larger is not one.
MAX_DOCUMENT_BYTES = 16 * 1024
_REDIS_SCHEMES = ("redis", "rediss")
_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFDIR: "a directory",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}
_EXAMPLES = "file:///var/run/maintenance/switch or redis://redis:6379/0"


class StoreError(Exception):
    """The store could not be read or written; the message says where and why."""


@dataclass(frozen=True)
class SwitchLocation:
    """A validated MAINTENANCE_SWITCH_URL."""

    scheme: str
    display: str  # redact_url(url): for logs, checks and the command
    url: str = field(repr=False)  # may hold a password
    path: Path | None = None  # for file://

    @property
    def is_file(self) -> bool:
        return self.path is not None


def parse_switch_url(raw: str) -> SwitchLocation | None:
    text = raw.strip()
    if not text:
        return None
    userinfo = text.partition("//")[2].rpartition("@")[0]
    if any(character in userinfo for character in "/?#"):
        # urlsplit would end the host there and find no password at all.
        raise ValueError(
            _expected(
                text,
                "the user or password holds '/', '?' or '#'; percent-encode them "
                "(%2F, %3F, %23) or choose a password without them",
            )
        )
    try:
        parts = urlsplit(text)
    except ValueError:
        raise ValueError(_expected(text, "it is not a URL")) from None
    try:
        port = parts.port
    except ValueError:
        raise ValueError(
            _expected(text, "its port is not a number from 1 to 65535")
        ) from None
    if parts.scheme == "file":
        return _file_location(text, parts.netloc, unquote(parts.path), parts.query)
    if parts.scheme in _REDIS_SCHEMES:
        return _redis_location(text, parts.hostname, port, parts.path, parts.query)
    raise ValueError(_expected(text, "the scheme must be file, redis or rediss"))


def redact_url(text: str) -> str:
    """A URL as it may be shown anywhere: whatever stands between // and the
    last @ (a user and a password, whether they parse or not) and any query
    (?password=) become ***. Done on the string, so a URL that urlsplit reads
    wrongly is redacted all the same."""
    head, slashes, rest = text.partition("//")
    if not slashes:
        head, rest = "", text
    _userinfo, at, host = rest.rpartition("@")
    if at:
        rest = "***@" + host
    path, question, _query = rest.partition("?")
    return head + slashes + path + ("?***" if question else "")


def _expected(text: str, problem: str) -> str:
    return f"{redact_url(text)!r}: {problem}; expected a URL like {_EXAMPLES}"


def _file_location(text: str, host: str, path: str, query: str) -> SwitchLocation:
    if host not in ("", "localhost") or query:
        raise ValueError(_expected(text, "a file URL has no host or query"))
    target = Path(path)
    if not path.startswith("/") or path.endswith("/") or target.name in ("", ".", ".."):
        raise ValueError(_expected(text, "give an absolute path to a file"))
    if not target.parent.is_dir():
        raise ValueError(
            _expected(text, f"the directory {str(target.parent)!r} does not exist")
        )
    return SwitchLocation("file", text, text, target)


def _redis_location(
    text: str, host: str | None, port: int | None, path: str, query: str
) -> SwitchLocation:
    if not host:
        raise ValueError(_expected(text, "a Redis URL needs a host"))
    if port == 0:
        raise ValueError(_expected(text, "its port is not a number from 1 to 65535"))
    database = path.lstrip("/")
    if database and not (database.isascii() and database.isdigit()):
        raise ValueError(_expected(text, "the database is a number, like /0"))
    if query:
        raise ValueError(_expected(text, "query parameters are not supported"))
    if find_spec("redis") is None:
        raise ValueError(
            f"{redact_url(text)!r} needs the Redis client: "
            f"pip install 'django-envmaintenance[redis]'"
        )
    scheme = urlsplit(text).scheme
    return SwitchLocation(scheme, redact_url(text), text)


class Store(Protocol):
    location: SwitchLocation
    # A missing file is a deliberate act (no override); a missing Redis key after
    # a document was seen is a flush, an eviction or a failover.
    missing_means_no_override: bool

    def read(self) -> str | None:
        """The document's text, or None when there is none; StoreError on trouble."""

    def write(self, text: str) -> None:
        """Replace the document in one step; StoreError on trouble."""


class FileStore:
    missing_means_no_override = True

    def __init__(self, location: SwitchLocation) -> None:
        assert location.path is not None
        self.location = location
        self.path = location.path

    def read(self) -> str | None:
        """The file's text; None only when there is no file at all.

        Opened anew each time (a Kubernetes ConfigMap swaps a symlink), without
        blocking, and read only if it is a regular file: a FIFO, a device, a
        socket or a directory at the path is a failed read, never a hang. A
        symlink to nothing is a failed read too, not "no override": a ConfigMap
        swap or a deploy in progress must not flip the state.
        """
        try:
            descriptor = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
        except FileNotFoundError:
            if self.path.is_symlink():
                raise StoreError(
                    f"{self.path} is a symlink to {os.readlink(self.path)!r}, "
                    f"which does not exist"
                ) from None
            return None
        except OSError as exc:
            raise StoreError(
                f"cannot read {self.path}: {exc.strerror or exc}"
            ) from None
        try:
            kind = stat.S_IFMT(os.fstat(descriptor).st_mode)
            if kind != stat.S_IFREG:
                what = _KINDS.get(kind, "a special file")
                raise StoreError(
                    f"cannot read {self.path}: not a regular file ({what})"
                )
            data = _read_at_most(descriptor, MAX_DOCUMENT_BYTES + 1)
        except OSError as exc:
            raise StoreError(
                f"cannot read {self.path}: {exc.strerror or exc}"
            ) from None
        finally:
            os.close(descriptor)
        return _decode(data)

    def write(self, text: str) -> None:
        """A temporary file in the same directory, then a rename: readers see the
        old document or the new one, never half of one."""
        problem = f"cannot write {self.path}"
        try:
            handle, temporary = tempfile.mkstemp(
                dir=self.path.parent, prefix=f".{self.path.name}."
            )
        except OSError as exc:
            raise StoreError(f"{problem}: {exc.strerror or exc}") from None
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as target:
                target.write(text)
                target.flush()
                os.fsync(target.fileno())
            os.chmod(temporary, 0o644)
            os.replace(temporary, self.path)
        except OSError as exc:
            Path(temporary).unlink(missing_ok=True)  # nothing half-done stays behind
            raise StoreError(f"{problem}: {exc.strerror or exc}") from None


class RedisStore:
    missing_means_no_override = False

    def __init__(self, location: SwitchLocation, key: str) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.location = location
        self.key = key
        # Used directly, not through Django's cache framework, whose clear() in a
        # deploy script would wipe the switch. No retries: one bounded attempt.
        self.client: redis.Redis = redis.Redis.from_url(
            location.url,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
            health_check_interval=0,
        )
        self.errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)

    def read(self) -> str | None:
        try:
            # Without decode_responses, redis-py answers bytes.
            data = cast("bytes | None", self.client.get(self.key))
        except self.errors as exc:
            raise StoreError(f"cannot read {self.location.display}: {exc}") from None
        if data is None:
            return None
        if len(data) > MAX_DOCUMENT_BYTES:
            raise StoreError(f"{self.key} holds {len(data)} bytes: not a switch")
        return _decode(data)

    def write(self, text: str) -> None:
        try:
            self.client.set(self.key, text.encode())
        except self.errors as exc:
            raise StoreError(f"cannot write {self.location.display}: {exc}") from None


def _read_at_most(descriptor: int, limit: int) -> bytes:
    data = b""
    while len(data) < limit:
        chunk = os.read(descriptor, limit - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _decode(data: bytes) -> str:
    if len(data) > MAX_DOCUMENT_BYTES:
        raise StoreError(f"the document holds over {MAX_DOCUMENT_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise StoreError("the document is not UTF-8 text") from None


def open_store(location: SwitchLocation, key: str) -> Store:
    if location.is_file:
        return FileStore(location)
    return RedisStore(location, key)
