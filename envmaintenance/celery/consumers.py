"""The consumer step that stops a worker taking tasks during maintenance."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from celery import bootsteps

from envmaintenance import state as clock_source
from envmaintenance.celery.exempt import EXEMPT_QUEUE, active_state, exempt_queues
from envmaintenance.state import State
from envmaintenance.switch import get_switch

logger = logging.getLogger("envmaintenance")


class Pause(bootsteps.StartStopStep):  # type: ignore[misc]
    """In the worker's main process, which takes tasks from the broker: every
    half interval (a second at most), in the consumer's own event loop,
    cancel its queues but the exempt one while maintenance is active, and
    consume from them again once it ends."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, c: Any, **kwargs: Any) -> None:
        super().__init__(c, **kwargs)
        self.exempt_queue = exempt_queues.get(c.app)
        self.paused: tuple[str, ...] = ()
        self.holding = False
        self.timer: Any = None

    def start(self, c: Any) -> None:
        queue = self.exempt_queue
        if queue is None:
            return
        c.add_task_queue(
            queue.name, exchange=queue.exchange.name, routing_key=queue.routing_key
        )
        self.check(c)
        poll_seconds = min(1.0, get_switch().interval / 2)
        self.timer = c.timer.call_repeatedly(
            poll_seconds, self.check, (c,), priority=10
        )

    def stop(self, c: Any) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def check(self, c: Any) -> None:
        try:
            current = active_state()
            if current is not None and not self.holding:
                self.pause(c, current)
            elif current is None and self.holding:
                self.resume(c)
        except Exception:  # never let the consumer's loop die of it
            logger.exception("Maintenance: pausing or resuming the worker failed")

    def pause(self, c: Any, current: State) -> None:
        exempt = self.exempt_queue.name if self.exempt_queue else EXEMPT_QUEUE
        self.paused = tuple(q.name for q in c.task_consumer.queues if q.name != exempt)
        for name in self.paused:
            c.cancel_task_queue(name)
        self.holding = True
        logger.info(
            "Maintenance %s (revision %d): stopped consuming from %s; tasks already "
            "running finish; exempt tasks go on from %s",
            current.describe(clock_source.clock()),
            current.revision,
            _names(self.paused),
            exempt,
        )

    def resume(self, c: Any) -> None:
        for name in self.paused:
            c.add_task_queue(name)
        logger.info("Maintenance over: consuming from %s again", _names(self.paused))
        self.paused, self.holding = (), False


def _names(queues: Iterable[str]) -> str:
    return ", ".join(queues) or "no other queue"
