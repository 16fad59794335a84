"""What every backend shares: the location, the errors, and the two interfaces a
store offers (the document, and the fleet's membership)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

# A switch document is a few lines; anything larger is not one.
MAX_DOCUMENT_BYTES = 16 * 1024
# The history keeps the last this many entries (writes, passes), each at most
# this large.
HISTORY_LENGTH = 1000
MAX_ENTRY_BYTES = 4096
# How long one call to the store may take in a serving process (connect, then
# read): a store that is down or hangs costs the reader that, never a request.
PROCESS_TIMEOUT_SECONDS = 0.1
# The command reads every report at once, and waits for nobody: more room.
COMMAND_TIMEOUT_SECONDS = 2.0
_EXAMPLES = "file:///var/run/maintenance/switch or redis://redis:6379/0"


class StoreError(Exception):
    """The store could not be read or written; the message says where and why."""


class Conflict(StoreError):
    """Somebody wrote the document between our read and our write."""

    def __init__(self, current: str | None) -> None:
        self.current = current
        super().__init__("the document changed since it was read")


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


@dataclass(frozen=True)
class Member:
    """Who a report is from, as far as membership needs to know.

    ``host_key`` names a host and its pid namespace: two containers that share a
    hostname have two. ``started`` is the process's start time in clock ticks
    since boot (Linux), so that a pid the kernel gave to another process later
    is not taken for the member.
    """

    id: str
    host_key: str
    pid: int
    started: int


class Store(Protocol):
    @property
    def location(self) -> SwitchLocation: ...

    @property
    def members(self) -> Members: ...

    @property
    def history(self) -> History: ...

    def read(self) -> str | None:
        """The document's text, or None when there is none; StoreError on trouble."""

    def write(
        self,
        text: str,
        expected: str | None,
        *,
        force: bool = False,
        entry: bytes = b"",
    ) -> None:
        """Replace the document in one step if it is still ``expected`` (None: no
        document), else Conflict; ``force`` writes whatever it holds. ``entry``
        goes into the history in the same step."""


class History(Protocol):
    """Who switched what, when and why: the last HISTORY_LENGTH entries, kept
    beside the document (not in the logs of fifty processes)."""

    def append(self, entry: bytes) -> None: ...
    def read(self, count: int) -> list[bytes]:
        """The newest ``count`` entries, newest first."""


class Members(Protocol):
    """The processes that follow the switch: one report each, from the first
    until the process leaves or is forgotten."""

    where: str

    def can_report(self) -> bool:
        """Whether processes can report here at all (a read-only directory:
        no)."""

    def report(self, member: Member, revision: int, data: bytes) -> None: ...
    def leave(self, member: Member) -> None: ...
    def forget(self, ids: Iterable[str]) -> None: ...
    def read(self) -> list[tuple[str, bytes]]: ...
    def siblings(self, host_key: str) -> list[Member]: ...
    def highest_revision(self) -> int | None:
        """The highest revision a member holds; None when there is no member."""


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


def expected_url(text: str, problem: str) -> str:
    return f"{redact_url(text)!r}: {problem}; expected a URL like {_EXAMPLES}"


def decode_document(data: bytes) -> str:
    if len(data) > MAX_DOCUMENT_BYTES:
        raise StoreError(f"the document holds over {MAX_DOCUMENT_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise StoreError("the document is not UTF-8 text") from None
