"""Celery workers follow maintenance: one line where the Celery app is made,

    app = Celery("proj")
    app.config_from_object("django.conf:settings", namespace="CELERY")
    envmaintenance.celery.follow(app)

and each worker process follows the switch like a web process (the background
reader, the cache, its report, revisions). While maintenance is active (full or
read-only: a task may write), the worker's main process stops consuming from its
queues, and consumes again when it ends; the tasks already running finish, each
counted in flight by the pool process that runs it, so `on --wait` returns only
once they have. A task the worker had already taken from the broker (prefetched)
that would start during maintenance is put back on its queue instead.

A task marked @maintenance_exempt (one that only reads, or that runs the
migration itself) is routed to a queue of its own, which every following worker
consumes and the pause never cancels; beat sends it during maintenance, and
skips every other periodic task with a log line.
"""

from __future__ import annotations

import functools
import logging
import types
import weakref
from collections.abc import Iterable
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from celery import Celery, Task, bootsteps, signals
from celery.exceptions import Ignore
from celery.utils.imports import load_extension_class_names, symbol_by_name
from kombu.entity import Exchange, Queue

from envmaintenance import state as clock_source
from envmaintenance.inflight import Admitted, InFlight
from envmaintenance.state import State
from envmaintenance.switch import Switch, get_switch

__all__ = ["EXEMPT_QUEUE", "follow", "maintenance_exempt"]

logger = logging.getLogger("envmaintenance")

EXEMPT_QUEUE = "maintenance-exempt"
MARK = "maintenance_exempt"
_GUARD = "_envmaintenance_guard"

F = TypeVar("F")


def maintenance_exempt(task: F) -> F:
    """Let a task run during maintenance: it is routed to the exempt queue,
    which the pause never cancels, and beat sends it. For tasks that only read,
    or that run the migration itself. Put it under the task decorator:

        @app.task
        @maintenance_exempt
        def rebuild_search_index(): ...
    """
    kind = type(task)  # never isinstance: it would evaluate a lazy task proxy
    if kind is not types.FunctionType and not issubclass(kind, Task):
        raise TypeError(
            "@maintenance_exempt goes under @app.task or @shared_task, on the "
            f"function itself; got {kind.__name__}"
        )
    setattr(task, MARK, True)
    return task


def is_exempt(task: Any) -> bool:
    """Marked on the task, its class, or the function it runs."""
    run = getattr(task, "run", None)
    return bool(getattr(task, MARK, False) or getattr(run, MARK, False))


def active_state() -> State | None:
    """The state in force in this process, if it is active now."""
    now = clock_source.clock()
    current = get_switch().current(now)
    return current if current.is_active(now) else None


def follow(app: Celery, *, exempt_queue: str = EXEMPT_QUEUE) -> None:
    """Make the workers of ``app`` follow maintenance. Call it once, where the
    app is made: it only connects signals and adds a consumer step, so the web
    processes that import the app pay nothing for it."""
    if app in _followed:
        return
    # As Celery makes a queue it was not told of (task_create_missing_queues):
    # a direct exchange of the same name, the name as routing key.
    queue = Queue(exempt_queue, Exchange(exempt_queue), exempt_queue)  # type: ignore[no-untyped-call]
    followed = FollowedApp(app, queue)
    _followed[app] = followed
    app.steps["consumer"].add(Pause)
    app.on_after_configure.connect(followed.configured, weak=False)
    app.on_after_finalize.connect(followed.finalized, weak=False)
    if app.configured:
        followed.configured()
    if app.finalized:
        followed.finalized()
    signals.worker_init.connect(followed.worker_starting, weak=False)
    _connect_process_signals()


class FollowedApp:
    """What follow() sets up for one app: where its exempt tasks go, the
    scheduler beat uses, and the guard on each of its tasks."""

    def __init__(self, app: Celery, exempt_queue: Queue) -> None:
        self.app = app
        self.exempt_queue = exempt_queue

    def configured(self, **_: Any) -> None:
        """Route exempt tasks first (task_routes take precedence over a task's
        own queue), and wrap whichever scheduler beat is configured with."""
        conf = self.app.conf
        routes = conf.task_routes
        if routes is None:
            routes = ()
        elif not isinstance(routes, (list, tuple)):
            routes = (routes,)
        if not any(isinstance(route, ExemptRoute) for route in routes):
            conf.task_routes = (ExemptRoute(self.exempt_queue), *routes)
        if not isinstance(conf.beat_scheduler, SkippingScheduler):
            conf.beat_scheduler = SkippingScheduler(conf.beat_scheduler)

    def finalized(self, **_: Any) -> None:
        """Every task gets the guard before a worker builds its tracers."""
        for task in list(self.app.tasks.values()):
            guard(type(task))

    def worker_starting(self, sender: Any, **_: Any) -> None:
        """In the worker's main process, before it forks its pool: it follows
        the switch and stays a member once it has forked (it consumes), and
        each pool process forked from it becomes one (the fork hooks)."""
        if getattr(sender, "app", None) is not self.app:
            return
        self.finalized()  # tasks registered after the app was finalized
        follow_switch(get_switch(), forks_workers=True)


_followed: WeakKeyDictionary[Celery, FollowedApp] = WeakKeyDictionary()


class ExemptRoute:
    """A task router (Celery's task_routes) that sends exempt tasks to their
    queue. It holds the queue alone: the configuration is pickled with the
    app where pool processes are spawned rather than forked."""

    def __init__(self, queue: Queue) -> None:
        self.queue = queue

    def __call__(
        self,
        name: str,
        args: Any,
        kwargs: Any,
        options: Any,
        task: Any = None,
        **_: Any,
    ) -> dict[str, Any] | None:
        if task is not None and is_exempt(task):
            return {"queue": self.queue}
        return None


def guard(task_class: type[Any]) -> None:
    """Put the task back on its queue, instead of running it, when it would
    start during maintenance: the worker may hold messages it took before the
    pause (prefetched), or take one in the moment before it pauses. Done as
    task_annotations do it, around the task's own before_start, which Celery
    calls inside the trace so that Ignore is honoured."""
    original = task_class.before_start
    if getattr(original, _GUARD, False):
        return

    def before_start(task: Any, task_id: str, args: Any, kwargs: Any) -> Any:
        put_back_during_maintenance(task)
        return original(task, task_id, args, kwargs)

    setattr(before_start, _GUARD, True)
    task_class.before_start = before_start


def put_back_during_maintenance(task: Any) -> None:
    """Send the task's message again, as it came (id, arguments, retries,
    queue), and end this run unrecorded (Ignore: the message is acknowledged,
    no result is stored)."""
    request = task.request
    if request.is_eager or is_exempt(task):
        return
    current = active_state()
    if current is None:
        return
    task.signature_from_request(request).apply_async()
    logger.info(
        "Maintenance: put %s[%s] back on its queue (maintenance %s, revision %d); "
        "it runs when maintenance ends",
        task.name,
        request.id,
        current.describe(clock_source.clock()),
        current.revision,
    )
    raise Ignore()


class Running:
    """The tasks this process runs, each counted in flight under the state it
    started under: a report names this process while one from before runs,
    and the log names the task."""

    def __init__(self) -> None:
        self._tasks: dict[str, tuple[str, InFlight, Admitted]] = {}

    def started(self, task: Any, task_id: str) -> None:
        switch = get_switch()
        current = switch.current(clock_source.clock())
        in_flight = switch.in_flight
        self._tasks[task_id] = (task.name, in_flight, in_flight.admit(current))

    def finished(self, task_id: str) -> None:
        entry = self._tasks.pop(task_id, None)
        if entry is not None:
            InFlight.done(entry[2])

    def say_still_running(self, new: State) -> None:
        """A switch listener: when maintenance starts, the tasks from before
        that it waits for, by name."""
        if not new.is_active(clock_source.clock()):
            return
        names = [
            f"{name}[{task_id}]"
            for task_id, (name, _, admitted) in list(self._tasks.items())
            if admitted.state is not new
        ]
        if names:
            logger.info(
                "Maintenance: revision %d; still running here, from before: %s",
                new.revision,
                ", ".join(names),
            )


running = Running()


_listened: weakref.WeakSet[Switch] = weakref.WeakSet()


def follow_switch(switch: Switch, *, forks_workers: bool = False) -> None:
    """This process reads the switch in the background and reports."""
    if switch not in _listened:  # a forked child inherits the listener
        switch.listeners.add(running.say_still_running)
        _listened.add(switch)
    switch.start(forks_workers=forks_workers)


def _task_started(sender: Any = None, task_id: str = "", **_: Any) -> None:
    if sender is not None and not sender.request.is_eager:
        running.started(sender, task_id)


def _task_finished(task_id: str = "", **_: Any) -> None:
    running.finished(task_id)


def _pool_process_started(**_: Any) -> None:
    """A pool process: forked ones already follow (the fork hooks); one
    started afresh (the spawn start method) begins here."""
    follow_switch(get_switch())


def _pool_process_exiting(**_: Any) -> None:
    """A pool process ends with os._exit, which skips the exit handlers that
    take a process out of the fleet: leave now, so no wait counts it silent."""
    switch = get_switch()
    switch.stop()
    if switch.reporter is not None:
        switch.reporter.leave()


def _beat_starting(**_: Any) -> None:
    """Beat follows the switch from its start, and is a member of the fleet:
    `--wait` knows it will start no periodic task."""
    follow_switch(get_switch())


def _connect_process_signals() -> None:
    """Once per process, whatever the number of apps followed."""
    for signal, receiver in (
        (signals.task_prerun, _task_started),
        (signals.task_postrun, _task_finished),
        (signals.worker_process_init, _pool_process_started),
        (signals.worker_process_shutdown, _pool_process_exiting),
        (signals.beat_init, _beat_starting),
    ):
        signal.connect(
            receiver, weak=False, dispatch_uid=f"envmaintenance.{receiver.__name__}"
        )


class Pause(bootsteps.StartStopStep):  # type: ignore[misc]
    """In the worker's main process, which takes tasks from the broker: every
    half interval (a second at most), in the consumer's own event loop,
    cancel its queues but the exempt one while maintenance is active, and
    consume from them again once it ends."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, c: Any, **kwargs: Any) -> None:
        super().__init__(c, **kwargs)
        self.followed = _followed.get(c.app)
        self.paused: tuple[str, ...] = ()
        self.holding = False
        self.timer: Any = None

    def start(self, c: Any) -> None:
        if self.followed is None:
            return
        queue = self.followed.exempt_queue
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
        exempt = self.followed.exempt_queue.name if self.followed else EXEMPT_QUEUE
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


class SkippingScheduler:
    """Stands for beat's configured scheduler class (celery's beat_scheduler,
    a class or its dotted name, resolved only when beat starts, as Celery does)
    and makes it a subclass whose apply_entry skips a periodic task during
    maintenance, unless the task is exempt."""

    def __init__(self, scheduler: Any) -> None:
        self.scheduler = scheduler

    def __repr__(self) -> str:
        return f"SkippingScheduler({self.scheduler!r})"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        aliases = dict(load_extension_class_names("celery.beat_schedulers"))
        return skipping(symbol_by_name(self.scheduler, aliases=aliases))(
            *args, **kwargs
        )


@functools.cache
def skipping(base: type[Any]) -> type[Any]:
    """``base`` with an apply_entry that skips during maintenance (the entry is
    not postponed: it runs again at its next time)."""

    def apply_entry(self: Any, entry: Any, producer: Any = None) -> None:
        current = active_state()
        if current is None or is_exempt(self.app.tasks.get(entry.task)):
            base.apply_entry(self, entry, producer=producer)
            return
        logger.info(
            "Maintenance %s (revision %d): skipped the periodic task %s (%s)",
            current.describe(clock_source.clock()),
            current.revision,
            entry.name,
            entry.task,
        )

    name = f"{base.__name__}SkippingDuringMaintenance"
    return type(name, (base,), {"apply_entry": apply_entry, "__module__": __name__})
