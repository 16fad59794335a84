"""The Celery app the end-to-end tests run a real worker and beat with
(`python -m celery -A tests.celery_app worker`), made the way a project makes
one, with the one line that makes its workers follow maintenance.

Each task records its run as files in the directory TASK_RUNS names:
``<label>.started`` when it starts, ``<label>.finished`` when it ends (each
holding the pid of the process that ran it), so that a test waits for events
rather than for time. The broker is CELERY_BROKER_URL (memory:// without it:
the unit tests only import this module).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from celery import Celery

import envmaintenance.celery
from envmaintenance.celery import maintenance_exempt

HELD_AT_MOST_SECONDS = 60

app = Celery("tests")
app.conf.update(
    broker_url=os.environ.get("CELERY_BROKER_URL", "memory://"),
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=True,
    # Beat's entries, for the beat the tests start during a maintenance.
    beat_schedule={
        "beat": {"task": "tests.celery_app.record", "schedule": 1.0, "args": ("beat",)},
        "beat, exempt": {
            "task": "tests.celery_app.record_exempt",
            "schedule": 1.0,
            "args": ("beat-exempt",),
        },
    },
)
envmaintenance.celery.follow(app)

F = TypeVar("F", bound=Callable[..., Any])


def task(function: F) -> F:
    """app.task, typed: Celery ships no type hints."""
    return cast(F, app.task(function))


def mark(label: str, event: str) -> None:
    """Write ``<label>.<event>`` whole (a rename), so that a reader never sees
    it half-written."""
    runs = Path(os.environ["TASK_RUNS"])
    partial = runs / f".{label}.{event}.{os.getpid()}"
    partial.write_text(f"{os.getpid()} {time.time()}\n")
    partial.rename(runs / f"{label}.{event}")


@task
def slow(label: str, seconds: float) -> None:
    """A task that writes for a while: the one a maintenance must wait for."""
    mark(label, "started")
    time.sleep(seconds)
    mark(label, "finished")


@task
def held(label: str) -> None:
    """A task that runs until the test writes ``<label>.release`` (a hang
    guard ends it after HELD_AT_MOST_SECONDS)."""
    mark(label, "started")
    release = Path(os.environ["TASK_RUNS"]) / f"{label}.release"
    deadline = time.monotonic() + HELD_AT_MOST_SECONDS
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    mark(label, "finished")


@task
def record(label: str) -> None:
    mark(label, "finished")


@task
@maintenance_exempt
def record_exempt(label: str) -> None:
    """Only reads, say: it may run during maintenance."""
    mark(label, "finished")
