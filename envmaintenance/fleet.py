"""Every process that follows a switch says what it serves, so that an operator
can know the fleet has switched (and drained) instead of guessing.

Each process reports once per interval, from the switch's background reader
(never from a request): who it is, the document in force, the state, when it
last read the store, the trouble if any, and how many requests it is still
serving that were let through under an earlier state. Redis: one key per process
under the switch key, with an expiry; a file switch: one file per process in a
directory beside the switch file, when that directory is writable.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import logging
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

from envmaintenance.stores import FileStore, RedisStore, Store, StoreError

if TYPE_CHECKING:
    from envmaintenance.schedule import State
    from envmaintenance.switch import Switch

logger = logging.getLogger("envmaintenance")

# A process that has not reported for this many intervals may be stopped,
# partitioned or wedged: it is "not reporting", and may still be serving.
SILENT_INTERVALS = 3
# Reports outlive that, so a process that died is named for a while, then
# forgotten. uvicorn's workers end by re-raising SIGTERM, which skips Python's
# exit handlers: theirs are not removed at a clean exit, and expire so.
EXPIRY_INTERVALS = 10
NO_DOCUMENT = "environment"


def digest(text: str | None) -> str:
    """What identifies a document in reports: its SHA-256, or "environment"."""
    if text is None:
        return NO_DOCUMENT
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]


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
    return Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"


@dataclass(frozen=True)
class ProcessReport:
    """What one process says of itself, once per interval."""

    host: str
    pid: int
    server: str
    started_at: float
    document: str  # digest() of the document in force
    state: str  # on / scheduled / upcoming / off
    read_only: bool
    source: str
    last_read_at: float | None
    trouble: str | None
    in_flight: int  # requests let through under an earlier state, still served
    reported_at: float
    interval: float

    @classmethod
    def parse(cls, text: str | bytes) -> ProcessReport | None:
        try:
            found = json.loads(text)
            return cls(**found)
        except (ValueError, TypeError):
            return None

    def as_json(self) -> str:
        return json.dumps(asdict(self))

    @property
    def name(self) -> str:
        return f"{self.host}:{self.pid}"

    def silent(self, now: float) -> bool:
        """No report for SILENT_INTERVALS intervals: it may be serving anything."""
        return now - self.reported_at > SILENT_INTERVALS * self.interval


class Admitted(collections.deque[None]):
    """The requests being served that were let through under one state: one
    item each. A deque's append and pop are thread-safe, so a request takes no
    lock; the state is kept so that its id is not reused while counted."""

    __slots__ = ("dropped", "state")

    def __init__(self, state: State | None) -> None:
        super().__init__()
        self.state = state
        self.dropped = False  # no longer counted: a request must admit again


class InFlight:
    """Requests being served, by the state they were let through under.

    Correct under threaded workers (gunicorn gthread) and ASGI, without a lock
    per request (about a tenth of a microsecond). The lock guards the table of
    states, which changes once per new document.
    """

    def __init__(self) -> None:
        self._by_state: dict[int, Admitted] = {}
        self.forget()

    def admit(self, state: State) -> Admitted:
        """Count a request in until ``done``; returns what ``done`` takes."""
        admitted = self._last
        if admitted.state is not state or admitted.dropped:
            admitted = self._register(state)
        admitted.append(None)
        if admitted.dropped:  # dropped between the look-up and the append
            admitted.pop()
            return self.admit(state)
        return admitted

    @staticmethod
    def done(admitted: Admitted) -> None:
        admitted.pop()

    def _register(self, state: State) -> Admitted:
        with self._lock:
            admitted = self._by_state.setdefault(id(state), Admitted(state))
            self._last = admitted
            return admitted

    def before(self, state: State) -> int:
        """Still served, let through under another state than this one. The
        states that nothing is served under any more are dropped here."""
        with self._lock:
            for key, admitted in list(self._by_state.items()):
                if admitted.state is not state and not admitted:
                    admitted.dropped = True
                    del self._by_state[key]
            return sum(len(a) for a in self._by_state.values() if a.state is not state)

    def forget(self) -> None:
        """Count nothing (in a forked child: the parent's requests are not this
        process's)."""
        self._lock = threading.Lock()  # the parent's may have been held
        for admitted in self._by_state.values():
            admitted.dropped = True
            admitted.clear()
        self._by_state = {}
        # The state requests were last let in under: none yet.
        self._last = Admitted(None)
        self._last.dropped = True


class Reports(Protocol):
    """Where the processes of one switch report."""

    where: str

    def write(self, report: ProcessReport) -> None: ...
    def remove(self, host: str, pid: int) -> None: ...
    def read_all(self) -> list[ProcessReport]: ...


class RedisReports:
    """<key>:process:<host>:<pid>, each with an expiry."""

    def __init__(self, store: RedisStore) -> None:
        self.client = store.client
        self.prefix = f"{store.key}:process:"
        self.where = f"{store.location.display} ({self.prefix}*)"
        self.errors = store.errors

    def write(self, report: ProcessReport) -> None:
        seconds = max(20, round(EXPIRY_INTERVALS * report.interval))
        key = f"{self.prefix}{report.host}:{report.pid}"
        try:
            self.client.set(key, report.as_json(), ex=seconds)
        except self.errors as exc:
            raise StoreError(f"cannot report to {self.where}: {exc}") from None

    def remove(self, host: str, pid: int) -> None:
        try:
            self.client.delete(f"{self.prefix}{host}:{pid}")
        except self.errors as exc:
            raise StoreError(f"cannot remove the report: {exc}") from None

    def read_all(self) -> list[ProcessReport]:
        try:
            keys = list(self.client.scan_iter(match=f"{self.prefix}*", count=1000))
            values = cast("list[bytes | None]", self.client.mget(keys)) if keys else []
        except self.errors as exc:
            raise StoreError(f"cannot read {self.where}: {exc}") from None
        return _parsed(values)


class FileReports:
    """<switch file>.processes/<host>:<pid>.json, each written whole."""

    def __init__(self, store: FileStore) -> None:
        self.directory = store.path.with_name(store.path.name + ".processes")
        self.where = str(self.directory)

    def writable(self) -> bool:
        """Whether reports can be written here (a ConfigMap volume: no)."""
        try:
            self.directory.mkdir(exist_ok=True)
            probe, path = tempfile.mkstemp(dir=self.directory, prefix=".probe.")
        except OSError:
            return False
        os.close(probe)
        Path(path).unlink(missing_ok=True)
        return True

    def write(self, report: ProcessReport) -> None:
        target = self.directory / f"{report.host}:{report.pid}.json"
        try:
            handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=".report.")
            with os.fdopen(handle, "w", encoding="utf-8") as output:
                output.write(report.as_json())
            os.chmod(temporary, 0o644)
            os.replace(temporary, target)
        except OSError as exc:
            raise StoreError(f"cannot report to {self.where}: {exc}") from None

    def remove(self, host: str, pid: int) -> None:
        (self.directory / f"{host}:{pid}.json").unlink(missing_ok=True)

    def read_all(self) -> list[ProcessReport]:
        texts = []
        try:
            paths = sorted(self.directory.glob("*.json"))
        except OSError as exc:
            raise StoreError(f"cannot read {self.where}: {exc}") from None
        for path in paths:
            try:
                texts.append(path.read_bytes())
            except OSError:
                continue  # removed meanwhile: that process exited cleanly
        return _parsed(texts)


def _parsed(values: Iterable[bytes | None]) -> list[ProcessReport]:
    reports = (ProcessReport.parse(value) for value in values if value is not None)
    return sorted(
        (report for report in reports if report is not None),
        key=lambda report: (report.host, report.pid),
    )


def reports_for(store: Store) -> Reports | None:
    """Where this switch's processes report; None when they cannot."""
    if isinstance(store, RedisStore):
        return RedisReports(store)
    if isinstance(store, FileStore):
        reports = FileReports(store)
        return reports if reports.writable() else None
    return None


class Reporter:
    """The reports of this process: written by the switch's reader, removed at a
    clean exit. A store that is down makes them fail quietly (said once)."""

    def __init__(self, reports: Reports, in_flight: InFlight) -> None:
        self.reports = reports
        self.in_flight = in_flight
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.started_at = time.time()
        self.server = server_name()
        self._failing = False

    def forked(self) -> None:
        """In a child process: a new pid, a new start, its own requests."""
        self.pid, self.started_at = os.getpid(), time.time()
        self.server = server_name()

    def report(self, switch: Switch, now: float) -> None:
        state = switch.state
        report = ProcessReport(
            host=self.host,
            pid=self.pid,
            server=self.server,
            started_at=self.started_at,
            document=digest(switch.text),
            state=state.describe(now),
            read_only=state.read_only,
            source=state.source,
            last_read_at=switch.last_read_at,
            trouble=switch.trouble,
            in_flight=self.in_flight.before(state),
            reported_at=now,
            interval=switch.interval,
        )
        try:
            self.reports.write(report)
        except StoreError as exc:
            if not self._failing:
                logger.warning("Maintenance switch: %s (said once)", exc)
            self._failing = True
            return
        self._failing = False

    def exited(self) -> None:
        """A clean exit: this process is not waited for."""
        with contextlib.suppress(StoreError):  # else it expires by itself
            self.reports.remove(self.host, self.pid)


@dataclass(frozen=True)
class Progress:
    """Where the fleet stands after a write, process by process."""

    switched: tuple[ProcessReport, ...]
    draining: tuple[ProcessReport, ...]  # the new document, old requests in flight
    behind: tuple[ProcessReport, ...]  # reporting, not the new document yet
    silent: tuple[ProcessReport, ...]  # no report for SILENT_INTERVALS intervals

    @property
    def confirmed(self) -> bool:
        return not (self.draining or self.behind or self.silent)

    @property
    def waiting(self) -> tuple[ProcessReport, ...]:
        return self.draining + self.behind + self.silent


def progress(reports: Iterable[ProcessReport], document: str, now: float) -> Progress:
    """Each process that reports (those that exited cleanly have removed their
    report) judged against the document just written. Documents carry SET_AT,
    so its digest alone says a process follows it, whatever the hosts' clocks."""
    kinds: dict[str, list[ProcessReport]] = {
        "switched": [],
        "draining": [],
        "behind": [],
        "silent": [],
    }
    for report in reports:
        if report.silent(now):
            kind = "silent"
        elif report.document != document:
            kind = "behind"
        elif report.in_flight:
            kind = "draining"
        else:
            kind = "switched"
        kinds[kind].append(report)
    return Progress(**{kind: tuple(found) for kind, found in kinds.items()})
