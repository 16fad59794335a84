"""The runtime switch: one shared document that starts or lifts a maintenance in
every process within seconds, without a restart.

Each serving process reads it in a background daemon thread, every interval;
requests only read the State in memory, so none ever waits on the store. A read
that does not return in time is abandoned (and no other is queued behind it);
when the store is down, hung or returns garbage, the last good state stays
(fail static, like Envoy and feature-flag SDKs), said once in the logs. The
last good document is kept on local disk, so a process that starts during an
outage starts from it rather than from the environment. Where threads do not
run (uWSGI without --enable-threads), a request that finds the state older than
two intervals reads the store itself, bounded by the store's own timeouts.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from typing import Any

from envmaintenance import schedule
from envmaintenance.cache import SwitchCache, default_cache_path
from envmaintenance.conf import Config, get_config
from envmaintenance.documents import InvalidDocument, parse_document
from envmaintenance.fleet import InFlight, Reporter, reports_for
from envmaintenance.schedule import State
from envmaintenance.stores import Store, StoreError, open_store

logger = logging.getLogger("envmaintenance")

# Two store timeouts (connect, read) and some slack: a read that takes longer is
# abandoned, even a DNS lookup or an NFS read that hangs.
READ_TIMEOUT_SECONDS = 0.25


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

    def __init__(
        self,
        config: Config,
        store: Store | None,
        cache: SwitchCache | None = None,
        reporter: Reporter | None = None,
    ) -> None:
        self.config = config
        self.environment = config.environment
        self.store = store
        self.cache = cache
        self.interval: float = config.switch_interval_seconds
        self.state = self.environment  # replaced, whole, on each change
        self.text: str | None = None  # the document in force, as read
        self.last_read_at: float | None = None  # the last read that succeeded
        self.attempted_at = float("-inf")  # the last read, whatever it found
        self._stale_at = float("-inf")  # two intervals after it
        self.stale_since: float | None = None
        self.trouble: str | None = None
        self._seen_document = False
        self._lock = threading.Lock()  # one read at a time
        self._stuck: threading.Thread | None = None  # a read that never returned
        self._reader: threading.Thread | None = None
        self._stopped = threading.Event()
        # Requests let through, by state: what this process reports in flight.
        self.in_flight = reporter.in_flight if reporter else InFlight()
        self.reporter = reporter
        _switches.add(self)
        if store is not None:
            self.refresh(schedule.clock(), starting=True)

    @classmethod
    def for_config(cls, config: Config) -> Switch:
        """The switch a process's configuration describes (none: the environment)."""
        if config.switch is None:
            return cls(config, None)
        location = config.switch
        store = open_store(location, config.switch_key)
        path = config.switch_cache or default_cache_path(
            location.url, config.switch_key
        )
        reports = reports_for(store)
        reporter = None if reports is None else Reporter(reports, InFlight())
        if reporter is not None:
            atexit.register(reporter.exited)
        return cls(config, store, SwitchCache(path, location.display), reporter)

    @property
    def display(self) -> str:
        return "" if self.store is None else self.store.location.display

    def current(self, now: float) -> State:
        """The state in force, from memory; reads inline only when no reader has
        read for two intervals (threads that do not run, a reader not started)."""
        if now > self._stale_at or self._reader is None:  # one comparison, mostly
            if now > self._stale_at and self.store is not None:
                self.refresh(now, inline=True)
            self.start()
        return self.state

    def start(self) -> None:
        """Start this process's reader, if it has none yet: the middleware does at
        start-up, a forked child at once (its state is its parent's)."""
        if self._reader is None and self.store is not None:
            self._start_reader()

    def stop(self) -> None:
        """End the background reader (a replaced switch, a test)."""
        self._stopped.set()

    def _start_reader(self) -> None:
        # Threads do not survive a fork (gunicorn --preload): _forget_threads
        # starts another in the child. Its first read is at once.
        self._reader = threading.Thread(
            target=self._read_every_interval, name="envmaintenance-switch", daemon=True
        )
        self._reader.start()

    def _read_every_interval(self) -> None:
        # No back-off while the store fails: a read of a store that is down
        # costs it nothing, and every process follows it within an interval
        # and a read of its recovery.
        while not self._stopped.is_set():
            try:
                now = schedule.clock()
                self.refresh(now)
                # From here, never from a request; not while a read hangs (a hung
                # mount would hang the report's write, and this thread with it).
                stuck = self._stuck is not None and self._stuck.is_alive()
                if self.reporter is not None and not stuck:
                    self.reporter.report(self, now)
            except Exception:  # never let the reader die silently
                logger.exception("Maintenance switch: the reader failed")
            self._stopped.wait(self.interval)

    def refresh(
        self, now: float, *, starting: bool = False, inline: bool = False
    ) -> None:
        """Read the store once (unless a read is under way) and follow it."""
        if self.store is None or not self._lock.acquire(blocking=False):
            return
        try:
            self.attempted_at, self._stale_at = now, now + 2 * self.interval
            self._read(now, starting, inline)
        finally:
            self._lock.release()

    def _read(self, now: float, starting: bool, inline: bool) -> None:
        assert self.store is not None
        try:
            text = self.store.read() if inline else self._read_bounded()
            state = (
                self.environment
                if text is None
                else parse_document(text, self.environment)
            )
        except (StoreError, InvalidDocument) as exc:
            self._fail(now, str(exc), starting=starting)
            return
        if (
            text is None
            and self._seen_document
            and not self.store.missing_means_no_override
        ):
            problem = (
                f"the document is gone from {self.display} (flushed, evicted or "
                f"failed over?); run 'manage.py maintenance env' to hand control "
                f"back to the environment"
            )
            self._fail(now, problem, starting=starting)
            return
        self._succeed(now, text, state, starting=starting)

    def _read_bounded(self) -> str | None:
        """store.read() in a thread of its own, waited for READ_TIMEOUT_SECONDS.

        A read that does not return is left behind (a daemon thread), and no
        other starts until it has: at most one stuck read per process.
        """
        assert self.store is not None
        if self._stuck is not None and self._stuck.is_alive():
            raise StoreError(f"an earlier read of {self.display} has not returned")
        outcome: dict[str, Any] = {}
        read = self.store.read

        def run() -> None:
            try:
                outcome["text"] = read()
            except Exception as exc:  # handed to the waiting thread
                outcome["error"] = exc

        reader = threading.Thread(target=run, name="envmaintenance-read", daemon=True)
        reader.start()
        reader.join(READ_TIMEOUT_SECONDS)
        if reader.is_alive():
            self._stuck = reader
            raise StoreError(
                f"{self.display} did not answer within {READ_TIMEOUT_SECONDS} s"
            )
        error = outcome.get("error")
        if error is not None:
            if isinstance(error, StoreError):
                raise error
            raise StoreError(f"cannot read {self.display}: {error!r}") from None
        return outcome.get("text")

    def _fail(self, now: float, problem: str, *, starting: bool) -> None:
        if self.trouble is None:
            self.stale_since = now
        kept = "the last good state"
        if starting:
            kept = self._start_without_the_store(now)
        if problem != self.trouble:  # a new problem is said once; a repeat never
            logger.log(
                logging.ERROR if starting else logging.WARNING,
                "Maintenance switch: %s; keeping %s (maintenance %s) until it is "
                "readable again",
                problem,
                kept,
                self.state.describe(now),
            )
        self.trouble = problem

    def _start_without_the_store(self, now: float) -> str:
        """The cache, else MAINTENANCE_SWITCH_UNREADABLE; says which it took."""
        cache = self.cache
        if cache is not None and (cached := cache.load()) is not None:
            try:
                state = (
                    self.environment
                    if cached.text is None
                    else parse_document(cached.text, self.environment)
                )
            except InvalidDocument:
                pass  # a cache that no longer parses is no cache
            else:
                self.state, self.text = state, cached.text
                self._seen_document = cached.text is not None
                age = max(0, round(now - cached.read_at))
                return f"the cached state of {age} s ago ({cache.path})"
        if self.config.switch_unreadable == "on":
            self.state = State(
                enabled=True,
                ends_at=self.environment.ends_at,
                message=self.environment.message,
                read_only=self.environment.read_only,
                source="switch",
            )
            return "maintenance on (MAINTENANCE_SWITCH_UNREADABLE=on, no cache)"
        return "the environment's state (no cache)"

    def _succeed(
        self, now: float, text: str | None, state: State, *, starting: bool
    ) -> None:
        self.last_read_at = now
        if self.trouble is not None:
            logger.info("Maintenance switch: %s is readable again", self.display)
        self.trouble = self.stale_since = None
        self._seen_document = self._seen_document or text is not None
        self._save(text, now)
        if text != self.text or state != self.state:
            self.text = text
            self.state = state
            if not starting:  # the start-up line says the state then
                log_transition(state, now, self.display)

    def _save(self, text: str | None, now: float) -> None:
        if self.cache is None:
            return
        try:
            self.cache.save(text, now)
        except OSError as exc:
            if self.trouble is None:
                logger.warning(
                    "Maintenance switch: cannot write the cache %s (%s): a process "
                    "that starts while the store is down will not start from it",
                    self.cache.path,
                    exc.strerror or exc,
                )
            self.cache = None  # said once; reads go on


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


_switches: weakref.WeakSet[Switch] = weakref.WeakSet()


def _forget_threads() -> None:
    """In a forked child: the parent's threads and locks do not exist here."""
    for switch in list(_switches):
        switch._reader = None
        switch._stuck = None
        switch._lock = threading.Lock()
        stopped, switch._stopped = switch._stopped.is_set(), threading.Event()
        if stopped:
            switch._stopped.set()
        switch.in_flight.forget()  # the parent's requests are not ours
        if switch.reporter is not None:
            switch.reporter.forked()
        if not stopped and switch is _process_switch:
            switch.start()  # the state is the parent's: read it anew, now


os.register_at_fork(after_in_child=_forget_threads)

_process_switch: Switch | None = None


def get_switch() -> Switch:
    """The process-wide switch, shared by the middleware, templates, workers and
    the command: one reader for all of them. Follows get_config()."""
    global _process_switch
    config = get_config()
    if _process_switch is None or _process_switch.config is not config:
        if _process_switch is not None:
            _process_switch.stop()
        _process_switch = Switch.for_config(config)
    return _process_switch


def state_in_force() -> State:
    """What maintenance is now, environment and switch together: the one answer
    the middleware, templates, is_active(), the status endpoint, the command and
    the export all give."""
    return get_switch().current(schedule.clock())
