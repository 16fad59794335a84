"""The tasks a worker runs: each counted in flight, and one that would start
during maintenance put back on its queue; which processes follow the switch
(the worker, its pool processes, beat)."""

from __future__ import annotations

import logging
import weakref
from typing import Any

from celery import signals
from celery.exceptions import Ignore

from envmaintenance import state as clock_source
from envmaintenance.celery.exempt import active_state, is_exempt
from envmaintenance.inflight import Admitted
from envmaintenance.state import State
from envmaintenance.switch import Switch, get_switch

logger = logging.getLogger("envmaintenance")

_GUARD = "_envmaintenance_guard"


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
        self._tasks: dict[str, tuple[str, Admitted]] = {}

    def started(self, task: Any, task_id: str) -> None:
        switch = get_switch()
        current = switch.current(clock_source.clock())
        self._tasks[task_id] = (task.name, switch.in_flight.admit(current))

    def finished(self, task_id: str) -> None:
        entry = self._tasks.pop(task_id, None)
        if entry is not None:
            entry[1].done()

    def say_still_running(self, new: State) -> None:
        """A switch listener: when maintenance starts, the tasks from before
        that it waits for, by name."""
        if not new.is_active(clock_source.clock()):
            return
        names = [
            f"{name}[{task_id}]"
            for task_id, (name, admitted) in list(self._tasks.items())
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


def connect_process_signals() -> None:
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
