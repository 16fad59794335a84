"""The fleet: every process that follows a switch says which revision it
applied (its acknowledgement), which it rejected and why, and what it still
serves from before, so that an operator can know the fleet has switched.

A process is a member from its first report until it leaves (a clean exit), a
live process of its host finds its pid gone (a killed worker its server
replaced), or it has been silent for MAINTENANCE_SWITCH_FORGET_AFTER. Reports
are written by the switch's reader, never by a request, and read with bounded
work; one that does not validate is ignored and counted, never trusted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import secrets
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envmaintenance.stores import Member, Members, StoreError

if TYPE_CHECKING:
    from envmaintenance.follower import Rejection
    from envmaintenance.state import State

logger = logging.getLogger("envmaintenance")

# A member with no report for this many intervals is silent: stopped,
# partitioned or wedged, it may be serving anything.
SILENT_INTERVALS = 3
MAX_REPORT_BYTES = 4096
# Reports from further ahead than this are not from a host whose clock agrees.
FUTURE_SLACK_SECONDS = 60
# Troubles and errors are shortened to this in a report.
MAX_TEXT = 500
# A living process checks its host's other members once in this many reports.
SIBLING_CHECK_EVERY = 10
STATES = ("on", "scheduled", "upcoming", "off")
SOURCES = ("environment", "switch")


def server_name() -> str:
    """The server this process runs under, as far as it can tell."""
    for module, name in (
        ("gunicorn.workers", "gunicorn"),
        ("uvicorn", "uvicorn"),
        ("uwsgi", "uwsgi"),
        ("daphne", "daphne"),
        ("hypercorn", "hypercorn"),
        ("celery", "celery"),
    ):
        if module in sys.modules:
            return name
    return Path(sys.argv[0]).name[:32] if sys.argv and sys.argv[0] else "python"


def started_ticks(pid: int) -> int | None:
    """When a process started, in clock ticks since boot (Linux); None when
    there is no such process (or no /proc to ask)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()  # the name may hold spaces
    return int(fields[19]) if len(fields) > 19 and fields[19].isdigit() else None


def this_process() -> Member:
    """This process as a member: a random id (unique across containers that
    share a hostname), its host and pid namespace, its pid and start."""
    host = re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname())[:64]
    pid = os.getpid()
    return Member(
        secrets.token_hex(8), f"{host}~{_machine()}", pid, started_ticks(pid) or 0
    )


def _machine() -> str:
    """This boot of this machine and this pid namespace: two machines with one
    hostname, or two containers with one, are told apart."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text()[:8]
        namespace = os.readlink("/proc/self/ns/pid").strip("pid:[]")
    except OSError:
        return "unknown"
    return f"{boot}~{namespace}"


@dataclass(frozen=True)
class ProcessReport:
    """What one process says of itself, once per interval."""

    id: str
    host: str
    pid: int
    server: str
    started_at: float
    revision: int  # the revision in force (its acknowledgement)
    rejected_revision: int | None  # the last it rejected (its refusal), if any
    rejected_error: str | None
    state: str  # on / scheduled / upcoming / off
    read_only: bool
    source: str
    in_flight: int  # let in under an earlier state, still being served
    last_read_at: float | None
    trouble: str | None
    reported_at: float
    interval: int
    seq: int  # one more with every report: silence shows even without clocks

    def as_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @property
    def name(self) -> str:
        return f"{self.host}:{self.pid} ({self.server}, {self.id})"


def _text(limit: int, *, optional: bool = False) -> Callable[[Any], bool]:
    def valid(value: Any) -> bool:
        if value is None:
            return optional
        return isinstance(value, str) and len(value) <= limit and value.isprintable()

    return valid


def _whole(low: int, high: int, *, optional: bool = False) -> Callable[[Any], bool]:
    def valid(value: Any) -> bool:
        if value is None:
            return optional
        return type(value) is int and low <= value <= high

    return valid


def _moment(*, optional: bool = False) -> Callable[[Any], bool]:
    def valid(value: Any) -> bool:
        if value is None:
            return optional
        return type(value) in (int, float) and math.isfinite(value) and value >= 0

    return valid


_FIELDS: dict[str, Callable[[Any], bool]] = {
    "id": lambda value: (
        isinstance(value, str) and bool(re.fullmatch(r"[0-9a-f]{16}", value))
    ),
    "host": _text(255),
    "pid": _whole(1, 2**32),
    "server": _text(32),
    "started_at": _moment(),
    "revision": _whole(0, 2**53),
    "rejected_revision": _whole(0, 2**53, optional=True),
    "rejected_error": _text(MAX_TEXT, optional=True),
    "state": lambda value: value in STATES,
    "read_only": lambda value: isinstance(value, bool),
    "source": lambda value: value in SOURCES,
    "in_flight": _whole(0, 2**31),
    "last_read_at": _moment(optional=True),
    "trouble": _text(MAX_TEXT, optional=True),
    "reported_at": _moment(),
    "interval": _whole(1, 60),
    "seq": _whole(0, 2**53),
}


def parse_report(data: bytes, now: float) -> ProcessReport | None:
    """A report as a process wrote it, or None for anything else: oversized,
    not JSON, a field missing, of the wrong type or out of range, or dated in
    the future. Fields this version does not know are ignored (a newer
    process's report still counts)."""
    if len(data) > MAX_REPORT_BYTES:
        return None
    try:
        found = json.loads(data)
    except ValueError:
        return None
    if not isinstance(found, dict):
        return None
    if not all(name in found and valid(found[name]) for name, valid in _FIELDS.items()):
        return None
    if found["reported_at"] > now + FUTURE_SLACK_SECONDS:
        return None
    return ProcessReport(**{name: found[name] for name in _FIELDS})


def report_fields(
    state: State,
    rejected: Rejection | None,
    trouble: str | None,
    in_flight: int,
    last_read_at: float | None,
    interval: int,
    now: float,
) -> dict[str, Any]:
    """The fields of a report that the switch knows (the Reporter adds who)."""
    return {
        "revision": state.revision,
        "rejected_revision": None if rejected is None else rejected.revision,
        "rejected_error": None if rejected is None else shortened(rejected.error),
        "state": state.describe(now),
        "read_only": state.read_only,
        "source": state.source,
        "in_flight": in_flight,
        "last_read_at": last_read_at,
        "trouble": shortened(trouble),
        "reported_at": now,
        "interval": interval,
    }


def shortened(text: str | None) -> str | None:
    """One line of printable text at most MAX_TEXT long, for a report."""
    if text is None:
        return None
    line = "".join(c if c.isprintable() else " " for c in text)
    return line if len(line) <= MAX_TEXT else line[: MAX_TEXT - 1] + "…"


class Reporter:
    """This process's membership: its report once per interval (from the
    switch's reader), its removal at a clean exit, and, every few reports, the
    removal of members of its own host whose process has gone."""

    def __init__(self, members: Members) -> None:
        self.members = members
        self.member = this_process()
        self.server = server_name()
        self.started_at = _now()
        self.seq = 0
        self._failing = False
        # A report and the leaving never cross: once left, never back (a
        # preloading master's reader may be mid-report as it forks).
        self._lock = threading.Lock()
        self._left = False

    def forked(self) -> None:
        """In a child process: a member of its own."""
        self.member = this_process()
        self.server = server_name()
        self.started_at, self.seq = _now(), 0
        self._lock, self._left = threading.Lock(), False

    def report(self, fields: dict[str, Any]) -> None:
        """Write this process's report (``fields``: what the switch knows);
        a store that fails is said once."""
        report = ProcessReport(
            id=self.member.id,
            host=socket.gethostname()[:255],
            pid=self.member.pid,
            server=self.server,
            started_at=self.started_at,
            seq=self.seq,
            **fields,
        )
        try:
            with self._lock:
                if self._left:
                    return
                self.members.report(self.member, report.revision, report.as_json())
            if self.seq % SIBLING_CHECK_EVERY == 0:
                self.remove_the_gone()
        except StoreError as exc:
            if not self._failing:
                logger.warning("Maintenance switch: %s (said once)", exc)
            self._failing = True
            return
        self._failing = False
        self.seq += 1

    def remove_the_gone(self) -> None:
        """Members of this host (and pid namespace) whose process has exited:
        a worker killed and replaced by its server never removed itself."""
        if started_ticks(os.getpid()) is None:
            return  # no /proc: nothing to tell a live pid from a gone one
        for sibling in self.members.siblings(self.member.host_key):
            if (
                sibling.id != self.member.id
                and started_ticks(sibling.pid) != sibling.started
            ):
                self.members.leave(sibling)

    def leave(self) -> None:
        """A clean exit: this process is no longer waited for."""
        with self._lock:
            self._left = True
            with contextlib.suppress(StoreError):  # else it is forgotten in time
                self.members.leave(self.member)


def _now() -> float:
    from envmaintenance.state import clock

    return clock()


@dataclass(frozen=True)
class Fleet:
    """The members as read at one moment, and how many reports did not
    validate (ignored, never trusted)."""

    reports: tuple[ProcessReport, ...]
    unreadable: int


def read_fleet(members: Members, now: float, forget_after: float) -> Fleet:
    """Every member's report; those silent for longer than ``forget_after`` are
    forgotten here. A report stored under another member's id is not trusted.
    StoreError when the store cannot be read."""
    reports, unreadable, forgotten = [], 0, []
    for member_id, data in members.read():
        report = parse_report(data, now)
        if report is None or report.id != member_id:  # a forgery, or worse
            unreadable += 1
        elif now - report.reported_at > forget_after:
            forgotten.append(member_id)
        else:
            reports.append(report)
    if forgotten:
        members.forget(forgotten)
    reports.sort(key=lambda r: (r.host, r.pid, r.id))
    return Fleet(tuple(reports), unreadable)


def forget(members: Members, ids: Iterable[str]) -> None:
    members.forget(ids)
