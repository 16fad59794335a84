"""The thread that reads the switch: one per serving process, every interval,
so that no request ever waits on the store.

A read that does not return in time is abandoned (a daemon thread left behind),
and no other starts until it has: at most one stuck read per process. Threads
do not survive a fork (gunicorn --preload): the fork hook in switch.py starts
another in the child.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from envmaintenance import state
from envmaintenance.stores import StoreError

logger = logging.getLogger("envmaintenance")

T = TypeVar("T")


class Reader:
    """Calls ``tick(now)`` at once, then every ``interval`` seconds, in a daemon
    thread, until stopped. Interpreter exit never waits for it."""

    def __init__(self, tick: Callable[[float], None], interval: float) -> None:
        self._tick = tick
        self.interval = interval
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._stuck: threading.Thread | None = None

    @property
    def started(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        if self._thread is None and not self._stopped.is_set():
            self._thread = threading.Thread(
                target=self._run, name="envmaintenance-switch", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def forked(self, *, stopped: bool) -> None:
        """In a child: the parent's threads do not exist here."""
        self._thread, self._stuck, self._stopped = None, None, threading.Event()
        if stopped:
            self._stopped.set()

    @property
    def stuck(self) -> bool:
        """A read has not returned (a hung store or mount)."""
        return self._stuck is not None and self._stuck.is_alive()

    def _run(self) -> None:
        # No back-off while the store fails: a read of a store that is down
        # costs it nothing, and every process follows it within an interval
        # and a read of its recovery.
        while not self._stopped.is_set():
            try:
                self._tick(state.clock())
            except Exception:  # never let the reader die silently
                logger.exception("Maintenance switch: the reader failed")
            self._stopped.wait(self.interval)

    def bounded(self, call: Callable[[], T], seconds: float, what: str) -> T:
        """``call()`` in a thread of its own, waited for ``seconds``; StoreError
        when it fails or does not return in time."""
        if self.stuck:
            raise StoreError(f"an earlier read of {what} has not returned")
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["value"] = call()
            except Exception as exc:  # handed to the waiting thread
                outcome["error"] = exc

        thread = threading.Thread(target=run, name="envmaintenance-read", daemon=True)
        thread.start()
        thread.join(seconds)
        if thread.is_alive():
            self._stuck = thread
            raise StoreError(f"{what} did not answer within {seconds} s")
        error = outcome.get("error")
        if isinstance(error, StoreError):
            raise error
        if error is not None:
            raise StoreError(f"cannot read {what}: {error!r}")
        return outcome["value"]  # type: ignore[no-any-return]
