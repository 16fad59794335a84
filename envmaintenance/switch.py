"""The runtime switch: one shared document that starts or lifts a maintenance in
every process within seconds, without a restart.

Each process reads it at most once per interval: the request that finds the
interval over does the read, bounded in time, and every other request uses the
state in memory. When the store is down, slow or returns garbage, the last good
state stays (fail static, like Envoy and feature-flag SDKs), said once in the
logs, and reads back off. The switch only ever carries what the environment's
mode and window carry: it can start or lift a maintenance, never open a way in.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from envmaintenance import schedule
from envmaintenance.conf import (
    VARIABLES,
    MaintenanceConfig,
    get_config,
)
from envmaintenance.schedule import MaintenanceState
from envmaintenance.stores import Store, StoreError, open_store

logger = logging.getLogger("envmaintenance")

# What the switch may set: the mode, the window, the message and read-only, by
# the environment's own names and parsers (conf.VARIABLES: one source of truth).
SWITCHED: dict[str, tuple[str, Callable[[str], Any]]] = {
    VARIABLES[name][0]: (name, VARIABLES[name][1])
    for name in ("enabled", "starts_at", "ends_at", "message", "read_only")
}
NOTES = ("SET_BY", "SET_AT", "REASON")  # who, when and why: shown, never obeyed
_NEVER_SWITCHED = {v for v, _ in VARIABLES.values()} - set(SWITCHED)
# Two store timeouts (connect, read) and some slack: nothing a request waits on
# can take longer, even a DNS lookup that hangs.
READ_TIMEOUT_SECONDS = 0.25
MAX_BACKOFF_SECONDS = 60


class InvalidDocument(ValueError):
    """A switch document that does not parse; the message names the line."""


@dataclass(frozen=True)
class SwitchDocument:
    """A parsed switch document: config fields it sets, and the notes."""

    values: Mapping[str, Any]
    notes: Mapping[str, str]

    @property
    def overrides(self) -> bool:
        """Without MAINTENANCE_MODE, a document leaves the environment in charge."""
        return "enabled" in self.values

    def signed(self) -> str:
        """'by alice (reason: db upgrade)', as far as the notes tell."""
        by = f" by {self.notes['SET_BY']}" if "SET_BY" in self.notes else ""
        reason = f" (reason: {self.notes['REASON']})" if "REASON" in self.notes else ""
        return by + reason


def parse_document(text: str) -> SwitchDocument:
    """NAME=value lines, as in an env file; blank lines and # comments allowed."""
    values: dict[str, Any] = {}
    notes: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, equals, raw = line.partition("=")
        name = name.strip()
        if not equals:
            raise InvalidDocument(f"line {number} is not NAME=value")
        if name in values or name in notes:
            raise InvalidDocument(f"{name} is set twice")
        if name in NOTES:
            notes[name] = raw.strip()
        elif name in SWITCHED:
            values[name] = _parse_value(name, raw)
        elif name in _NEVER_SWITCHED:
            raise InvalidDocument(f"{name} can never be set through the switch")
        else:
            raise InvalidDocument(f"line {number}: {name!r} is not a switch setting")
    fields = {SWITCHED[name][0]: value for name, value in values.items()}
    starts, ends = fields.get("starts_at"), fields.get("ends_at")
    if starts and ends and ends <= starts:
        raise InvalidDocument("MAINTENANCE_ENDS_AT is not after MAINTENANCE_STARTS_AT")
    return SwitchDocument(MappingProxyType(fields), MappingProxyType(notes))


def _parse_value(name: str, raw: str) -> Any:
    try:
        return SWITCHED[name][1](raw)
    except ValueError as exc:
        raise InvalidDocument(f"{name}: {exc}") from None


def write_document(settings: Mapping[str, str], notes: Mapping[str, str]) -> str:
    """The text of a document; every line must read back as written."""
    lines = [f"{name}={value}" for name, value in {**settings, **notes}.items()]
    return "\n".join(lines) + "\n"


def replace_document(store: Store, text: str) -> SwitchDocument:
    """Write a document and read it back: StoreError unless the store now holds
    exactly this text (a command must never claim a change that did not happen)."""
    document = parse_document(text)  # never write what no process could read
    store.write(text)
    found = store.read()
    if found != text:
        raise StoreError(
            f"{store.location.display} holds something else after the write "
            f"(another writer?): {found!r}"
        )
    return document


def apply_document(
    environment: MaintenanceConfig, document: SwitchDocument | None
) -> MaintenanceConfig:
    """The effective config: the document's mode and window replace the
    environment's; its end, message and read-only switch, when given, replace
    the environment's.
    Switched on without a window of its own, the environment's end still says
    when the site is expected back."""
    if document is None or not document.overrides:
        return environment
    values = document.values
    borrow_end = values["enabled"] and "starts_at" not in values
    return dataclasses.replace(
        environment,
        enabled=values["enabled"],
        starts_at=values.get("starts_at"),
        ends_at=values.get("ends_at", environment.ends_at if borrow_end else None),
        message=values.get("message", environment.message),
        read_only=values.get("read_only", environment.read_only),
    )


@dataclass(frozen=True)
class Effective:
    """What the process serves now: the config in force and its schedule."""

    config: MaintenanceConfig
    schedule: schedule.Schedule
    document: SwitchDocument | None = None

    @property
    def source(self) -> str:
        overridden = self.document is not None and self.document.overrides
        return "switch" if overridden else "environment"

    def state(self, now: float) -> MaintenanceState:
        return dataclasses.replace(self.schedule.state(now), source=self.source)


def _effective(env: MaintenanceConfig, document: SwitchDocument | None) -> Effective:
    config = apply_document(env, document)
    return Effective(config, schedule.Schedule(config), document)


class Switch:
    """The process's view of the switch (or of the environment alone)."""

    def __init__(
        self, environment: MaintenanceConfig, store: Store | None, interval: int
    ) -> None:
        self.environment = environment
        self.store = store
        self.interval = interval
        self.effective = _effective(environment, None)  # replaced on each change
        self.next_read = float("inf") if store is None else 0.0
        self.last_read_at: float | None = None
        self.stale_since: float | None = None
        self.trouble: str | None = None
        self.text: str | None = None  # the document in force, as read
        self._seen_document = False
        self._failures = 0
        self._lock = threading.Lock()
        self._reader: tuple[int, concurrent.futures.ThreadPoolExecutor] | None = None
        if store is not None:
            self.refresh(schedule.clock(), starting=True)

    @property
    def display(self) -> str:
        return "" if self.store is None else self.store.location.display

    def current(self, now: float) -> Effective:
        """The state in force; the one request that finds the interval over reads."""
        if now >= self.next_read:
            self.refresh(now)
        return self.effective

    async def acurrent(self, now: float) -> Effective:
        """The same for async code: the read runs in a thread, never on the loop."""
        if now >= self.next_read and not self._lock.locked():
            await asyncio.to_thread(self.refresh, now)
        return self.effective

    def refresh(self, now: float, *, starting: bool = False) -> None:
        if not self._lock.acquire(blocking=False):
            return  # another request is reading: no herd
        try:
            if now >= self.next_read:
                self._read(now, starting)
        finally:
            self._lock.release()

    def _read(self, now: float, starting: bool) -> None:
        try:
            text = self._read_bounded()
            document = None if text is None else parse_document(text)
        except (StoreError, InvalidDocument) as exc:
            self._fail(now, str(exc), starting=starting, back_off=True)
            return
        if text is None and self._seen_document and self._keeps_state_when_missing():
            problem = (
                f"the document is gone from {self.display} (flushed, evicted or "
                f"failed over?); run 'manage.py maintenance env' to hand control "
                f"back to the environment"
            )
            self._fail(now, problem, starting=starting, back_off=False)
            return
        self._succeed(now, text, document, starting=starting)

    def _keeps_state_when_missing(self) -> bool:
        return self.store is not None and not self.store.missing_means_no_override

    def _read_bounded(self) -> str | None:
        """store.read() in a helper thread, waited for at most READ_TIMEOUT_SECONDS."""
        assert self.store is not None
        future = self._executor().submit(self.store.read)
        try:
            return future.result(timeout=READ_TIMEOUT_SECONDS)
        except concurrent.futures.TimeoutError:
            raise StoreError(
                f"{self.display} did not answer within {READ_TIMEOUT_SECONDS} s"
            ) from None

    def _executor(self) -> concurrent.futures.ThreadPoolExecutor:
        # Threads do not survive a fork (gunicorn --preload): one pool per process.
        if self._reader is None or self._reader[0] != os.getpid():
            pool = concurrent.futures.ThreadPoolExecutor(1, "envmaintenance-switch")
            self._reader = (os.getpid(), pool)
        return self._reader[1]

    def _fail(
        self, now: float, problem: str, *, starting: bool, back_off: bool
    ) -> None:
        # Back off while the store fails; when it answers (without a document)
        # keep reading at the interval, so a new document is seen at once.
        self._failures = self._failures + 1 if back_off else 0
        delay = min(self.interval * 2**self._failures, MAX_BACKOFF_SECONDS)
        self.next_read = now + delay
        if self.trouble is None:
            self.stale_since = now
        if problem != self.trouble:  # a new problem is said once; a repeat never
            level = logging.ERROR if starting else logging.WARNING
            logger.log(
                level,
                "Maintenance switch: %s; keeping %s (maintenance %s) until it is "
                "readable again",
                problem,
                "the environment's state" if starting else "the last good state",
                self.effective.schedule.describe(now),
            )
        self.trouble = problem

    def _succeed(
        self,
        now: float,
        text: str | None,
        document: SwitchDocument | None,
        *,
        starting: bool,
    ) -> None:
        self._failures = 0
        self.next_read = now + self.interval
        self.last_read_at = now
        if self.trouble is not None:
            logger.info("Maintenance switch: %s is readable again", self.display)
        self.trouble = self.stale_since = None
        self._seen_document = self._seen_document or text is not None
        if text != self.text:
            self.text = text
            self.effective = _effective(self.environment, document)
            if not starting:  # the start-up line says the state then
                log_transition(self.effective, now, self.display)


def log_transition(effective: Effective, now: float, display: str) -> None:
    document = effective.document
    signed = "" if document is None else document.signed()
    state = effective.schedule.describe(now)
    if effective.source == "environment":
        what = f"handed back to the environment (maintenance {state})"
    elif state == "on":
        ends = effective.config.ends_at
        what = "switched on" + ("" if ends is None else f" until {ends.isoformat()}")
    elif state == "off":
        what = "switched off"
    else:
        what = f"{state} ({schedule.describe_window(effective.config)})"
    logger.info("Maintenance %s%s via %s", what, signed, display)


_process_switch: Switch | None = None


def get_switch() -> Switch:
    """The process-wide switch, shared by the middleware, templates and workers:
    one read per interval for all of them. Follows get_config()."""
    global _process_switch
    config = get_config()
    if _process_switch is None or _process_switch.environment is not config:
        store = (
            None
            if config.switch is None
            else open_store(config.switch, config.switch_key)
        )
        _process_switch = Switch(config, store, config.switch_interval_seconds)
    return _process_switch
