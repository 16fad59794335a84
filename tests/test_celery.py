"""envmaintenance.celery in one process, with Celery's own pieces: its router,
its beat Service and Scheduler, its task tracer (as a pool process runs a task)
and kombu's in-memory broker. The worker, the pause and beat for real, with
Redis, are in tests/e2e/test_celery.py."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar, cast

import pytest
from celery import Celery, signals
from celery.app.trace import build_tracer
from celery.beat import PersistentScheduler, Scheduler, Service

from envmaintenance.celery import (
    EXEMPT_QUEUE,
    beat,
    consumers,
    follow,
    maintenance_exempt,
)
from envmaintenance.celery import tasks as running_tasks
from envmaintenance.celery.exempt import is_exempt
from envmaintenance.fleet import read_fleet
from envmaintenance.state import State
from envmaintenance.switch import get_switch

SetEnv = Callable[..., None]
F = TypeVar("F", bound=Callable[..., Any])


def task(app: Celery, name: str, **options: Any) -> Callable[[F], F]:
    """app.task for this app alone (Celery shares tasks with every app made
    after by default), typed: Celery ships no type hints."""
    return cast(Callable[[F], F], app.task(name=name, shared=False, **options))


@pytest.fixture
def app() -> Iterator[Celery]:
    """An app of this test's own, on kombu's in-memory broker, followed."""
    made = Celery("t", broker="memory://", set_as_current=False)
    made.conf.task_routes = {"t.reports.*": {"queue": "reports"}}
    follow(made)
    yield made
    made.close()


def add_tasks(app: Celery, calls: list[str]) -> SimpleNamespace:
    """A task, an exempt one, and one that says what is in flight as it runs."""

    @task(app, "t.write")
    def write() -> None:
        calls.append("write")

    @task(app, "t.read", bind=True)
    @maintenance_exempt
    def read(self: Any) -> None:
        calls.append("read")

    @task(app, "t.reports.count")
    def count() -> None:
        in_flight = get_switch().in_flight.before(State(enabled=True))
        calls.append(f"in flight {in_flight}")

    app.finalize()
    return SimpleNamespace(write=write, read=read, count=count)


def queue_of(app: Celery, task: str) -> str:
    """Where a task sent from this process goes, as Celery's router says."""
    options = app.amqp.router.route({}, task, (), {}, app.tasks[task])
    return str(options["queue"].name)


def test_exempt_tasks_go_to_the_exempt_queue(app: Celery) -> None:
    add_tasks(app, [])
    assert queue_of(app, "t.read") == EXEMPT_QUEUE


def test_other_tasks_go_where_the_projects_routes_send_them(app: Celery) -> None:
    add_tasks(app, [])
    assert queue_of(app, "t.write") == "celery"
    assert queue_of(app, "t.reports.count") == "reports"


def test_follow_is_once_per_app(app: Celery) -> None:
    follow(app)
    add_tasks(app, [])
    assert app.conf.task_routes[1:] == ({"t.reports.*": {"queue": "reports"}},)
    assert list(app.steps["consumer"]).count(consumers.Pause) == 1


def test_follow_routes_an_app_configured_before_it() -> None:
    app = Celery("t", broker="memory://", set_as_current=False)
    assert app.conf.task_default_queue == "celery"  # configured now
    follow(app)
    add_tasks(app, [])
    assert queue_of(app, "t.read") == EXEMPT_QUEUE


def test_exempt_marks_the_function_the_task_runs(app: Celery) -> None:
    tasks = add_tasks(app, [])
    assert is_exempt(app.tasks["t.read"])
    assert not is_exempt(tasks.write)


def test_exempt_marks_a_task_made_already(app: Celery) -> None:
    @task(app, "t.made", lazy=False)
    def made() -> None: ...

    assert is_exempt(maintenance_exempt(made))


def test_exempt_above_a_lazy_task_says_where_it_goes_and_leaves_it_lazy() -> None:
    app = Celery("t", broker="memory://", set_as_current=False)

    def lazily() -> None: ...

    with pytest.raises(TypeError, match=r"goes under @app\.task"):
        maintenance_exempt(app.task(lazily, shared=False))
    assert not app.finalized


def run_in_worker(app: Celery, name: str) -> str:
    """The task as a pool process runs it, through Celery's tracer: its
    state (SUCCESS, or IGNORED when it was put back)."""
    task = app.tasks[name]
    tracer = build_tracer(name, task, app=app, eager=False)
    request = {"id": "id-1", "delivery_info": {"exchange": "", "routing_key": "celery"}}
    result = tracer("id-1", (), {}, request)
    return "SUCCESS" if result.info is None else str(result.info.state)


def taken_back(app: Celery) -> list[str]:
    """The ids of the messages on the celery queue of the in-memory broker."""
    with app.connection_for_read() as connection:
        queue = connection.SimpleQueue("celery")
        ids = []
        while queue.qsize():
            message = queue.get(timeout=1)
            ids.append(message.headers["id"])
            message.ack()
        queue.close()
        return ids


def test_a_task_that_would_start_during_maintenance_is_put_back_not_run(
    app: Celery, maintenance_env: SetEnv, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []
    add_tasks(app, calls)
    maintenance_env(mode="1")
    with caplog.at_level(logging.INFO, "envmaintenance"):
        assert run_in_worker(app, "t.write") == "IGNORED"
    assert calls == []
    assert taken_back(app) == ["id-1"]
    assert "put t.write[id-1] back on its queue (maintenance on" in caplog.text


def test_an_exempt_task_runs_during_maintenance(
    app: Celery, maintenance_env: SetEnv
) -> None:
    calls: list[str] = []
    add_tasks(app, calls)
    maintenance_env(mode="1")
    assert run_in_worker(app, "t.read") == "SUCCESS"
    assert calls == ["read"]


def test_a_task_runs_when_maintenance_is_off(app: Celery) -> None:
    calls: list[str] = []
    add_tasks(app, calls)
    assert run_in_worker(app, "t.write") == "SUCCESS"
    assert calls == ["write"]
    assert taken_back(app) == []


def test_a_task_run_eagerly_is_never_put_back(
    app: Celery, maintenance_env: SetEnv
) -> None:
    """Outside a worker (task_always_eager, apply()) nothing could run it later."""
    calls: list[str] = []
    tasks = add_tasks(app, calls)
    maintenance_env(mode="1")
    tasks.write.apply()
    assert calls == ["write"]


def test_a_running_task_is_in_flight_in_the_process_that_runs_it(app: Celery) -> None:
    calls: list[str] = []
    add_tasks(app, calls)
    assert run_in_worker(app, "t.reports.count") == "SUCCESS"
    assert calls == ["in flight 1"]
    assert get_switch().in_flight.before(State(enabled=True)) == 0


def test_maintenance_names_the_tasks_from_before_still_running(
    app: Celery, caplog: pytest.LogCaptureFixture
) -> None:
    tasks = add_tasks(app, [])
    running_tasks.running.started(tasks.write, "id-2")
    try:
        with caplog.at_level(logging.INFO, "envmaintenance"):
            running_tasks.running.say_still_running(State(enabled=True, revision=7))
    finally:
        running_tasks.running.finished("id-2")
    assert "revision 7; still running here, from before: t.write[id-2]" in caplog.text


class Worker:
    """What the worker_init signal says of the worker: its app."""

    def __init__(self, app: Celery) -> None:
        self.app = app


def test_the_main_process_follows_and_stays_a_member_once_it_forks(
    app: Celery,
) -> None:
    signals.worker_init.send(sender=Worker(app))
    assert get_switch().forks_workers


def test_a_pool_process_leaves_the_fleet_as_it_exits(
    maintenance_env: SetEnv, tmp_path: Path
) -> None:
    maintenance_env(switch_url=f"file://{tmp_path}/switch", switch_interval="1")
    switch = get_switch()
    signals.worker_process_init.send(sender="pool")

    def reported() -> int:
        return len(read_fleet(switch.store.members, time.time(), 3600).reports)  # type: ignore[union-attr]

    deadline = time.monotonic() + 30  # a hang guard: the reader reports at once
    while not reported() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert reported() == 1
    signals.worker_process_shutdown.send(sender="pool", pid=1, exitcode=0)
    assert reported() == 0


class Consumer:
    """What the pause uses of Celery's worker Consumer, recorded."""

    def __init__(self, app: Celery, *queues: str) -> None:
        self.app = app
        self.task_consumer = SimpleNamespace(
            queues=[SimpleNamespace(name=name) for name in queues]
        )
        self.timer = SimpleNamespace(call_repeatedly=self.call_repeatedly)
        self.calls: list[tuple[str, str]] = []

    def add_task_queue(self, name: str, **_: Any) -> None:
        self.calls.append(("add", name))

    def cancel_task_queue(self, name: str) -> None:
        self.calls.append(("cancel", name))

    def call_repeatedly(self, *_: Any, **__: Any) -> Any:
        return SimpleNamespace(cancel=lambda: None)


def test_the_worker_consumes_the_exempt_queue_and_pauses_every_other(
    app: Celery, maintenance_env: SetEnv
) -> None:
    consumer = Consumer(app, "celery", "reports", EXEMPT_QUEUE)
    pause = consumers.Pause(consumer)
    maintenance_env(mode="1")
    pause.start(consumer)
    assert consumer.calls == [
        ("add", EXEMPT_QUEUE),
        ("cancel", "celery"),
        ("cancel", "reports"),
    ]


def test_the_worker_consumes_again_when_maintenance_ends(
    app: Celery, maintenance_env: SetEnv
) -> None:
    consumer = Consumer(app, "celery", EXEMPT_QUEUE)
    pause = consumers.Pause(consumer)
    maintenance_env(mode="1")
    pause.start(consumer)
    pause.check(consumer)  # still on: nothing more
    maintenance_env(mode="0")
    pause.check(consumer)
    assert consumer.calls[1:] == [("cancel", "celery"), ("add", "celery")]
    pause.stop(consumer)


class Recording(Scheduler):  # type: ignore[misc]
    """Celery's own Scheduler, with the sending recorded."""

    sent: list[str]

    def apply_async(self, entry: Any, producer: Any = None, **_: Any) -> None:
        type(self).sent.append(entry.task)


def scheduler(app: Celery) -> Any:
    """The scheduler beat makes from the configured one (a class here)."""
    Recording.sent = []
    service = Service(app, scheduler_cls=app.conf.beat_scheduler)
    return service.get_scheduler(lazy=True)


def entry(app: Celery, name: str, task: str) -> Any:
    return Scheduler.Entry(name=name, task=task, schedule=1.0, app=app)


def test_beat_skips_a_periodic_task_during_maintenance_and_says_so(
    maintenance_env: SetEnv, caplog: pytest.LogCaptureFixture
) -> None:
    app = Celery("t", broker="memory://", set_as_current=False)
    app.conf.beat_scheduler = Recording
    follow(app)
    add_tasks(app, [])
    beat = scheduler(app)
    maintenance_env(mode="1")
    with caplog.at_level(logging.INFO, "envmaintenance"):
        beat.apply_entry(entry(app, "nightly", "t.write"))
        beat.apply_entry(entry(app, "stats", "t.read"))
    assert Recording.sent == ["t.read"]
    assert "skipped the periodic task nightly (t.write)" in caplog.text


def test_beat_sends_every_periodic_task_when_maintenance_is_off() -> None:
    app = Celery("t", broker="memory://", set_as_current=False)
    app.conf.beat_scheduler = Recording
    follow(app)
    add_tasks(app, [])
    beat = scheduler(app)
    beat.apply_entry(entry(app, "nightly", "t.write"))
    assert Recording.sent == ["t.write"]


def test_beat_gets_the_configured_scheduler_by_name_when_it_starts(app: Celery) -> None:
    wrapper = app.conf.beat_scheduler
    assert repr(wrapper) == "SkippingScheduler('celery.beat:PersistentScheduler')"
    assert issubclass(beat.skipping(PersistentScheduler), PersistentScheduler)
