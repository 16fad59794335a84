"""The switch's history: who switched what, when and why, kept in the store
beside the document (the last thousand entries), so that it is not spread over
the logs of fifty processes."""

from __future__ import annotations

import json
import socket
from dataclasses import asdict, dataclass
from typing import Any

from envmaintenance.state import State

# What an entry says happened.
SWITCHED = "switched"
PASS_ISSUED = "pass issued"  # noqa: S105 - an event, not a secret
PASS_REVOKED = "pass revoked"  # noqa: S105 - an event, not a secret
LOST = "document lost"  # the command found the store without its document
EVENTS = (SWITCHED, PASS_ISSUED, PASS_REVOKED, LOST)


@dataclass(frozen=True)
class Entry:
    event: str
    at: str  # ISO 8601, when the command wrote it
    by: str
    reason: str
    host: str  # where the command ran
    revision: int  # the revision written, or in force
    state: str = ""  # on / off / environment / scheduled / upcoming
    paths: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    ends_at: str | None = None
    read_only: bool = False
    holder: str = ""  # a pass's holder
    pass_id: str = ""
    expires: str | None = None

    def encode(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Issued:
    """A pass as the history remembers it (never its token)."""

    holder: str
    id: str
    expires: str
    by: str
    at: str
    revoked: bool


def switched(state: State, now: float, notes: dict[str, str]) -> Entry:
    """The entry of a write: what every process will serve."""
    words = "environment" if state.source == "environment" else state.describe(now)
    return Entry(
        event=SWITCHED,
        at=notes.get("SET_AT", ""),
        by=notes.get("SET_BY", ""),
        reason=notes.get("REASON", ""),
        host=socket.gethostname()[:255],
        revision=state.revision,
        state=words,
        paths=state.paths.prefixes,
        hosts=state.hosts.hosts,
        ends_at=None if state.ends_at is None else state.ends_at.isoformat(),
        read_only=state.read_only,
    )


def lost(revision: int, notes: dict[str, str]) -> Entry:
    """The command found the store without its document; ``revision`` was seen."""
    return Entry(
        event=LOST,
        at=notes.get("SET_AT", ""),
        by=notes.get("SET_BY", ""),
        reason="",
        host=socket.gethostname()[:255],
        revision=revision,
    )


def parse_entry(data: bytes) -> Entry | None:
    """An entry as written, or None for anything else (never trusted further)."""
    try:
        found = json.loads(data)
        entry = Entry(**found)
    except (ValueError, TypeError):
        return None
    valid = (
        entry.event in EVENTS
        and type(entry.revision) is int
        and all(_printable(getattr(entry, name)) for name in _TEXTS)
        and isinstance(entry.paths, list | tuple)
        and isinstance(entry.hosts, list | tuple)
        and all(_printable(item) for item in (*entry.paths, *entry.hosts))
    )
    return entry if valid else None


_TEXTS = ("at", "by", "reason", "host", "state", "holder", "pass_id")


def _printable(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 500 and value.isprintable()
