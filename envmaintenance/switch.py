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
from types import MappingProxyType
from typing import Any

from envmaintenance import schedule
from envmaintenance.conf import STATE_FIELDS, VARIABLES, Config, get_config
from envmaintenance.schedule import State
from envmaintenance.stores import Store, StoreError, open_store

logger = logging.getLogger("envmaintenance")

# What the switch may set: the mode, the window, the message and read-only, by
# the environment's own names and parsers (conf.VARIABLES: one source of truth).
SWITCHED: dict[str, tuple[str, Callable[[str], Any]]] = {
    VARIABLES[name][0]: (name, VARIABLES[name][1]) for name in STATE_FIELDS
}
NOTES = ("SET_BY", "SET_AT", "REASON")  # who, when and why: shown, never obeyed
_NEVER_SWITCHED = {v for v, _ in VARIABLES.values()} - set(SWITCHED)
# Two store timeouts (connect, read) and some slack: nothing a request waits on
# can take longer, even a DNS lookup that hangs.
READ_TIMEOUT_SECONDS = 0.25
MAX_BACKOFF_SECONDS = 60


class InvalidDocument(ValueError):
    """A switch document that does not parse; the message names the line."""


def parse_document(text: str, environment: State) -> State:
    """The state a document puts in force over the environment's.

    NAME=value lines, as in an env file; blank lines and # comments allowed.
    The document's mode and window replace the environment's; its end, message
    and read-only switch, when given, replace the environment's. Switched on
    without a window of its own, the environment's end still says when the site
    is expected back. Without MAINTENANCE_MODE the environment decides.
    """
    values, notes = _read_lines(text)
    if "enabled" not in values:
        return dataclasses.replace(environment, notes=notes)
    borrow_end = values["enabled"] and "starts_at" not in values
    return State(
        enabled=values["enabled"],
        starts_at=values.get("starts_at"),
        ends_at=values.get("ends_at", environment.ends_at if borrow_end else None),
        message=values.get("message", environment.message),
        read_only=values.get("read_only", environment.read_only),
        source="switch",
        notes=notes,
    )


def _read_lines(text: str) -> tuple[dict[str, Any], Mapping[str, str]]:
    """(state fields set, notes) of a document, or InvalidDocument."""
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
        if name in NOTES:
            if name in notes:
                raise InvalidDocument(f"{name} is set twice")
            notes[name] = raw.strip()
        elif name in SWITCHED:
            field_name, parse = SWITCHED[name]
            if field_name in values:
                raise InvalidDocument(f"{name} is set twice")
            values[field_name] = _parse_value(name, parse, raw)
        elif name in _NEVER_SWITCHED:
            raise InvalidDocument(f"{name} can never be set through the switch")
        else:
            raise InvalidDocument(f"line {number}: {name!r} is not a switch setting")
    starts, ends = values.get("starts_at"), values.get("ends_at")
    if starts and ends and ends <= starts:
        raise InvalidDocument("MAINTENANCE_ENDS_AT is not after MAINTENANCE_STARTS_AT")
    return values, MappingProxyType(notes)


def _parse_value(name: str, parse: Callable[[str], Any], raw: str) -> Any:
    try:
        return parse(raw)
    except ValueError as exc:
        raise InvalidDocument(f"{name}: {exc}") from None


def write_document(config: Mapping[str, str], notes: Mapping[str, str]) -> str:
    """The text of a document; every line must read back as written."""
    lines = [f"{name}={value}" for name, value in {**config, **notes}.items()]
    return "\n".join(lines) + "\n"


def replace_document(store: Store, text: str, environment: State) -> State:
    """Write a document and read it back: StoreError unless the store now holds
    exactly this text (a command must never claim a change that did not happen).
    Returns the state it puts in force."""
    state = parse_document(text, environment)  # never write what none could read
    store.write(text)
    found = store.read()
    if found != text:
        raise StoreError(
            f"{store.location.display} holds something else after the write "
            f"(another writer?): {found!r}"
        )
    return state


class Switch:
    """The process's view of the switch (or of the environment alone)."""

    def __init__(self, config: Config, store: Store | None) -> None:
        self.config = config
        self.environment = config.environment
        self.store = store
        self.interval = config.switch_interval_seconds
        self.state = self.environment  # replaced on each change
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

    @classmethod
    def for_config(cls, config: Config) -> Switch:
        """The switch a process's config describe (none: the environment)."""
        store = (
            None
            if config.switch is None
            else open_store(config.switch, config.switch_key)
        )
        return cls(config, store)

    @property
    def display(self) -> str:
        return "" if self.store is None else self.store.location.display

    def current(self, now: float) -> State:
        """The state in force; the one request that finds the interval over reads."""
        if now >= self.next_read:
            self.refresh(now)
        return self.state

    async def acurrent(self, now: float) -> State:
        """The same for async code: the read runs in a thread, never on the loop."""
        if now >= self.next_read and not self._lock.locked():
            await asyncio.to_thread(self.refresh, now)
        return self.state

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
            state = (
                self.environment
                if text is None
                else parse_document(text, self.environment)
            )
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
        self._succeed(now, text, state, starting=starting)

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
                self.state.describe(now),
            )
        self.trouble = problem

    def _succeed(
        self, now: float, text: str | None, state: State, *, starting: bool
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
            self.state = state
            if not starting:  # the start-up line says the state then
                log_transition(state, now, self.display)


def log_transition(state: State, now: float, display: str) -> None:
    described = state.describe(now)
    if state.source == "environment":
        what = f"handed back to the environment (maintenance {described})"
    elif described == "on":
        ends = state.ends_at
        what = "switched on" + ("" if ends is None else f" until {ends.isoformat()}")
    elif described == "off":
        what = "switched off"
    else:
        what = f"{described} ({state.window()})"
    logger.info("Maintenance %s%s via %s", what, state.signed(), display)


_process_switch: Switch | None = None


def get_switch() -> Switch:
    """The process-wide switch, shared by the middleware, templates, workers and
    the command: one read per interval for all of them. Follows get_config()."""
    global _process_switch
    config = get_config()
    if _process_switch is None or _process_switch.config is not config:
        _process_switch = Switch.for_config(config)
    return _process_switch


def state_in_force() -> State:
    """What maintenance is now, environment and switch together: the one answer
    the middleware, templates, is_active(), the status endpoint, the command and
    the export all give."""
    return get_switch().current(schedule.clock())
