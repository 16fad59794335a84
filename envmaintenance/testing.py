"""Run your own tests with maintenance on: a context manager, a decorator, a fixture.

    with maintenance_mode(allowed_ips="10.0.0.0/8", exempt_paths="/healthz"):
        response = Client().get("/")

Keyword names are the MAINTENANCE_* variables without the prefix, in lower case;
values are strings as in the environment, or bools, ints and lists of strings.
The configuration is validated as at start-up. Django builds the middleware
chain on a test client's first request, so use a client that has not yet made
one (pytest-django's ``client`` fixture is new in every test).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from importlib.util import find_spec

from django.test.utils import TestContextDecorator

from envmaintenance.conf import ConfigError, get_config

__all__ = ["maintenance_mode", "maintenance_switch"]  # and the fixture: below

Value = str | int | bool | Iterable[str]


def _as_environment(value: Value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (str, int)):
        return str(value)
    return ",".join(value)


class maintenance_mode(TestContextDecorator):  # lower case, like override_settings
    """Maintenance on (unless ``mode=False``) with these settings, then restored."""

    def __init__(self, **variables: Value) -> None:
        variables.setdefault("mode", True)
        self.environment = {
            f"MAINTENANCE_{name.upper()}": _as_environment(value)
            for name, value in variables.items()
        }
        self.saved: dict[str, str] = {}
        super().__init__()

    def enable(self) -> None:
        self.saved = {
            k: v for k, v in os.environ.items() if k.startswith("MAINTENANCE_")
        }
        for name in self.saved:
            del os.environ[name]
        os.environ.update(self.environment)
        get_config.cache_clear()
        try:
            get_config()  # invalid settings fail here, not at the first request
        except ConfigError:
            self.disable()
            raise

    def disable(self) -> None:
        for name in list(os.environ):
            if name.startswith("MAINTENANCE_"):
                del os.environ[name]
        os.environ.update(self.saved)
        get_config.cache_clear()


@contextlib.contextmanager
def maintenance_switch() -> Iterator[Callable[..., None]]:
    """A function that switches maintenance on until the block ends (the fixture)."""
    active: list[maintenance_mode] = []

    def switch_on(**variables: Value) -> None:
        context = maintenance_mode(**variables)
        context.enable()
        active.append(context)

    try:
        yield switch_on
    finally:
        for context in reversed(active):
            context.disable()


if find_spec("pytest_django") is not None:  # pragma: no branch - tests have it
    import pytest

    __all__ += ["maintenance"]

    @pytest.fixture
    def maintenance() -> Iterator[Callable[..., None]]:
        """Call it to switch maintenance on for the rest of the test:
        ``maintenance(allowed_ips="10.0.0.0/8")``. Load it with
        ``pytest_plugins = ["envmaintenance.testing"]`` in your conftest.py.
        """
        with maintenance_switch() as switch_on:
            yield switch_on
