"""Beat skips periodic tasks during maintenance, but exempt ones."""

from __future__ import annotations

import functools
import logging
from typing import Any

from celery.utils.imports import load_extension_class_names, symbol_by_name

from envmaintenance import state as clock_source
from envmaintenance.celery.exempt import active_state, is_exempt

logger = logging.getLogger("envmaintenance")


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
