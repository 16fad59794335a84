"""Cron jobs and management commands that hold off during maintenance: a
decorator, and `manage.py maintenance guard -- COMMAND`."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

logger = logging.getLogger("envmaintenance")

F = TypeVar("F", bound=Callable[..., Any])


def skip_during_maintenance(target: F) -> F:
    """Run the function (or the management command's handle()) only while no
    maintenance is active; otherwise log one line and return None.

        @skip_during_maintenance
        def send_newsletter(): ...

        @skip_during_maintenance
        class Command(BaseCommand): ...
    """
    if isinstance(target, type):
        handle = target.handle  # type: ignore[attr-defined]
        target.handle = skip_during_maintenance(handle)  # type: ignore[attr-defined]
        return target

    @functools.wraps(target)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        from envmaintenance import current_state, is_active

        if is_active():
            logger.info(
                "Maintenance: skipped %s (maintenance %s, revision %d)",
                getattr(target, "__qualname__", repr(target)),
                current_state().describe(time.time()),
                current_state().revision,
            )
            return None
        with serving_one():  # --wait waits for it
            return target(*args, **kwargs)

    return cast(F, guarded)


@contextmanager
def serving_one() -> Iterator[None]:
    """One piece of work (a cron job, a command) counted in flight under the
    state in force, so that `--wait` waits for it; this process reports."""
    from envmaintenance.switch import get_switch

    switch = get_switch()
    if switch.store is None:
        yield
        return
    switch.start()
    admitted = switch.in_flight.admit(switch.state)
    try:
        yield
    finally:
        admitted.done()


def wait_until_over(seconds: float, poll_seconds: float) -> bool:
    """Whether maintenance ended within ``seconds`` (asking every poll)."""
    from envmaintenance import is_active

    deadline = time.monotonic() + seconds
    while is_active():
        if time.monotonic() >= deadline:
            return False
        time.sleep(min(poll_seconds, max(0.0, deadline - time.monotonic())))
    return True
