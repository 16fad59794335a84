"""The runtime switch in a process: one shared document that starts or lifts a
maintenance in every process within seconds, without a restart.

Each serving process reads it in a background thread (reader.py), every
interval; requests only read the State in memory, so none ever waits on the
store. What a read means is decided by the follower (follower.py): a new
revision is applied, an unreadable store, a lost document or one from the past
keep what the process holds (fail static), said once in the logs. The last
document applied is kept on local disk (cache.py), so that a process that starts
during an outage starts from it. Each process reports the revision it applied
(fleet.py), so that `--wait` can know. Where threads do not run (uWSGI without
--enable-threads), a request that finds the state older than two intervals
reads the store itself, bounded by the store's own timeouts.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from collections.abc import Callable
from typing import Any

from envmaintenance import report, state
from envmaintenance.cache import SwitchCache, default_cache_path
from envmaintenance.conf import Config, get_config
from envmaintenance.fleet import Reporter, report_fields
from envmaintenance.follower import Follower, Outcome
from envmaintenance.inflight import InFlight
from envmaintenance.reader import Reader
from envmaintenance.state import State
from envmaintenance.stores import Store, StoreError, open_store

logger = logging.getLogger("envmaintenance")

# Two store timeouts (connect, read) and some slack: a read that takes longer is
# abandoned, even a DNS lookup or an NFS read that hangs.
READ_TIMEOUT_SECONDS = 0.25

Listener = Callable[[State], None]


class Listeners:
    """Bound methods called with each new state, held weakly: a middleware a
    test client dropped is forgotten, not kept alive."""

    def __init__(self) -> None:
        self._methods: list[weakref.WeakMethod[Listener]] = []

    def add(self, listener: Listener) -> None:
        self._methods.append(weakref.WeakMethod(listener))

    def tell(self, new: State) -> None:
        for reference in list(self._methods):
            listener = reference()
            if listener is None:
                self._methods.remove(reference)
                continue
            try:
                listener(new)
            except Exception:  # a listener never keeps a state from requests
                logger.exception("Maintenance switch: preparing the new state failed")


class Telling:
    """What the switch says in the log after a read: the store readable again,
    a new trouble once and a new rejection once (a repeat never)."""

    def __init__(self, display: str) -> None:
        self.display = display
        self._rejected_said: object = None

    def read(
        self,
        follower: Follower,
        before: str | None,
        now: float,
        kept: str | None,
        *,
        starting: bool,
    ) -> None:
        trouble, rejected = follower.trouble, follower.rejected
        if before is not None and trouble is None:
            logger.info("Maintenance switch: %s is readable again", self.display)
        if trouble is not None and trouble != before:
            level = logging.ERROR if starting else logging.WARNING
            logger.log(level, "%s", report.trouble(trouble, kept, follower.state, now))
        if rejected != self._rejected_said and rejected is not None:
            logger.warning(
                "%s", report.rejection(rejected, self.display, follower.state)
            )
        self._rejected_said = rejected


class Switch:
    """What this process follows: the environment alone, or the switch too."""

    def __init__(
        self,
        config: Config,
        store: Store | None,
        cache: SwitchCache | None = None,
        reporter: Reporter | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.cache = cache
        self.reporter = reporter
        self.interval = config.switch_interval_seconds
        self.follower = Follower(config.environment, config.switch_unreadable)
        self.state = config.environment  # the follower's, published whole
        self.in_flight = InFlight()
        self.reader = Reader(self.tick, self.interval)
        self.last_read_at: float | None = None  # the last read that succeeded
        self.stale_since: float | None = None
        self.serving = False  # reads in the background, writes the cache
        self.wanted = False  # start() was called: a forked child serves
        self.reporting = True  # not in a parent that forked before serving
        self.replaced = False
        self.forks_workers = False
        self.telling = Telling(self.display)
        self._stale_at = float("-inf")  # two intervals after the last read
        self.listeners = Listeners()
        self._lock = threading.Lock()  # one read at a time
        _switches.add(self)
        if store is not None:
            self._start(state.clock())

    @property
    def display(self) -> str:
        return "" if self.store is None else self.store.location.display

    def current(self, now: float) -> State:
        """The state in force, from memory; reads inline only when no reader has
        read for two intervals (threads that do not run, a reader not started)."""
        if now > self._stale_at:  # one comparison, mostly
            if self.store is not None:
                self.refresh(now, inline=True)
            self.start()
        return self.state

    def start(self, *, forks_workers: bool = False) -> None:
        """This process serves: it reads in the background, reports, and keeps
        the cache. The middleware starts it; a forked child at once.
        ``forks_workers``: it stays a member after it forks (a Celery worker's
        main process consumes the tasks its pool runs)."""
        self.forks_workers = self.forks_workers or forks_workers
        if self.store is not None and not self.replaced:
            if self.cache is not None and not self.serving:
                self.cache.behind = True  # written at the next read, then kept
            self.serving = self.wanted = True
            self.reader.start()

    def stop(self) -> None:
        """End the background reader for good (a replaced switch, a test)."""
        self.replaced = True
        self.reader.stop()

    def tick(self, now: float) -> None:
        """The reader's work, every interval: read, then report (never while a
        read hangs: a hung mount would hang the report's write too)."""
        self.refresh(now)
        if self.reporter is not None and self.reporting and not self.reader.stuck:
            self.reporter.report(self.report_fields(now))

    def refresh(
        self, now: float, *, inline: bool = False, starting: bool = False
    ) -> None:
        """Read the store once (unless a read is under way) and follow it."""
        if self.store is None or not self._lock.acquire(blocking=False):
            return
        try:
            self._stale_at = now + 2 * self.interval
            self._read(self.store, now, inline=inline, starting=starting)
        finally:
            self._lock.release()

    def _start(self, now: float) -> None:
        cached = None if self.cache is None else self.cache.load(now)
        if cached is not None and self.follower.start_from(cached):
            self.state = self.follower.state
        self.refresh(now, starting=True)

    def _read(self, store: Store, now: float, *, inline: bool, starting: bool) -> None:
        def bounded(call: Callable[[], Any]) -> Any:
            if inline:
                return call()
            return self.reader.bounded(call, READ_TIMEOUT_SECONDS, self.display)

        follower, trouble = self.follower, self.follower.trouble
        try:
            highest = None
            if follower.asks_the_fleet():
                highest = bounded(store.members.highest_revision)
            text = bounded(store.read)
            outcome = follower.follow(text, now, lambda: highest)
        except StoreError as exc:
            self.stale_since = self.stale_since or now
            kept = follower.failed(str(exc), now, starting=starting)
            self._publish(now, starting=True)
            self.telling.read(follower, trouble, now, kept, starting=starting)
            return
        self.last_read_at = now
        if outcome is Outcome.APPLIED:
            self._publish(now, starting=starting)
        self.stale_since = None
        self.telling.read(follower, trouble, now, None, starting=False)
        cache = self.cache
        if cache and self.serving and (outcome is Outcome.APPLIED or cache.behind):
            cache.keep(follower.text, self.state.revision, follower.read_at)

    def _publish(self, now: float, *, starting: bool) -> None:
        """The follower's state in force: listeners first, then requests."""
        new = self.follower.state
        if new is self.state:
            return
        # The middleware renders its answers there, not in a request.
        self.listeners.tell(new)
        self.state = new
        if not starting:  # the start-up line says the state then
            logger.info("%s", report.transition(new, now, self.display))

    def report_fields(self, now: float) -> dict[str, Any]:
        """What this process says of itself (fleet.ProcessReport's fields)."""
        follower = self.follower
        return report_fields(
            self.state,
            follower.rejected,
            follower.trouble,
            self.in_flight.before(self.state),
            self.last_read_at,
            self.interval,
            now,
        )


def switch_for(config: Config) -> Switch:
    """The switch a process's configuration describes (none: the environment)."""
    if config.switch is None:
        return Switch(config, None)
    store = open_store(config.switch, config.switch_key)
    path = config.switch_cache or default_cache_path(
        config.switch.url, config.switch_key
    )
    cache = None if path is None else SwitchCache(path, cache_name(config))
    reporter = Reporter(store.members)
    atexit.register(reporter.leave)
    return Switch(config, store, cache, reporter)


def cache_name(config: Config) -> str:
    """What a cache file says it caches: the switch and its key."""
    assert config.switch is not None
    return f"{config.switch.display} {config.switch_key}"


_switches: weakref.WeakSet[Switch] = weakref.WeakSet()
_process_switch: Switch | None = None


def _in_child() -> None:
    """In a child: the parent's threads, locks and requests are not here."""
    for switch in list(_switches):
        switch._lock = threading.Lock()
        switch.reader.forked(stopped=switch.replaced)
        switch.in_flight.forget()
        switch.reporting = True
        if switch.reporter is not None:
            switch.reporter.forked()
    if _process_switch is not None and _process_switch.wanted:
        _process_switch.start()  # the state is the parent's: read it anew, now


def _in_parent() -> None:
    """A process that forks before it served a request (gunicorn --preload's
    master) serves nothing: it is no member of the fleet, and reads no more.
    Its children, forked with this state, read at once."""
    for switch in list(_switches):
        if switch.in_flight.served or switch.forks_workers or not switch.reporting:
            continue
        switch.reporting = switch.serving = False
        switch.reader.stop()
        if switch.reporter is not None:
            switch.reporter.leave()


os.register_at_fork(after_in_child=_in_child, after_in_parent=_in_parent)


def get_switch() -> Switch:
    """The process-wide switch, shared by the middleware, templates, workers and
    the command: one reader for all of them. Follows get_config()."""
    global _process_switch
    config = get_config()
    if _process_switch is None or _process_switch.config is not config:
        if _process_switch is not None:
            _process_switch.stop()
        _process_switch = switch_for(config)
    return _process_switch


def state_in_force() -> State:
    """What maintenance is now, environment and switch together: the one answer
    the middleware, templates, is_active(), the status endpoint, the command and
    the export all give."""
    return get_switch().current(state.clock())
