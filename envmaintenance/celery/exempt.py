"""Which tasks run during maintenance (those marked exempt, on a queue of
their own), and whether maintenance is active in this process now."""

from __future__ import annotations

import types
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from celery import Celery, Task
from kombu.entity import Queue

from envmaintenance import state as clock_source
from envmaintenance.state import State
from envmaintenance.switch import get_switch

EXEMPT_QUEUE = "maintenance-exempt"
MARK = "maintenance_exempt"

F = TypeVar("F")

# Each followed app's exempt queue (follow() fills it, the consumer step reads it).
exempt_queues: WeakKeyDictionary[Celery, Queue] = WeakKeyDictionary()


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
