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

from typing import Any

from celery import Celery, signals
from kombu.entity import Exchange, Queue

from envmaintenance.celery.beat import SkippingScheduler
from envmaintenance.celery.consumers import Pause
from envmaintenance.celery.exempt import (
    EXEMPT_QUEUE,
    exempt_queues,
    is_exempt,
    maintenance_exempt,
)
from envmaintenance.celery.tasks import connect_process_signals, follow_switch, guard
from envmaintenance.switch import get_switch

__all__ = ["EXEMPT_QUEUE", "follow", "maintenance_exempt"]


def follow(app: Celery, *, exempt_queue: str = EXEMPT_QUEUE) -> None:
    """Make the workers of ``app`` follow maintenance. Call it once, where the
    app is made: it only connects signals and adds a consumer step, so the web
    processes that import the app pay nothing for it."""
    if app in exempt_queues:
        return
    # As Celery makes a queue it was not told of (task_create_missing_queues):
    # a direct exchange of the same name, the name as routing key.
    queue = Queue(exempt_queue, Exchange(exempt_queue), exempt_queue)  # type: ignore[no-untyped-call]
    followed = FollowedApp(app, queue)
    exempt_queues[app] = queue
    app.steps["consumer"].add(Pause)
    app.on_after_configure.connect(followed.configured, weak=False)
    app.on_after_finalize.connect(followed.finalized, weak=False)
    if app.configured:
        followed.configured()
    if app.finalized:
        followed.finalized()
    signals.worker_init.connect(followed.worker_starting, weak=False)
    connect_process_signals()


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
