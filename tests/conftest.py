from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.test import AsyncClient, Client

from envmaintenance import reader, state, switch
from envmaintenance.conf import Config, get_config
from envmaintenance.state import State
from envmaintenance.testing import maintenance  # noqa: F401 - the fixture users get
from envmaintenance.variables import STATE_FIELDS

SetEnv = Callable[..., None]
SetNow = Callable[[Any], None]
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

# The suite leaves nothing in the system's temporary directory: the tests' own
# code writes to pytest's (clean_environment), every process they start gets a
# TMPDIR of the session's own, and a run that left an entry of the package's
# there (a switch cache file, its private directory) fails, naming it.
LEFTOVERS = "envmaintenance-*"
SYSTEM_TEMP = pytest.StashKey[tuple[Path, dict[str, int]]]()


def package_entries(directory: Path) -> dict[str, int]:
    """{name: modification time} of the package's entries in ``directory``."""
    entries = {}
    for path in directory.glob(LEFTOVERS):
        with contextlib.suppress(FileNotFoundError):  # gone meanwhile
            entries[path.name] = path.lstat().st_mtime_ns
    return entries


def pytest_sessionstart(session: pytest.Session) -> None:
    """The system's temporary directory, before any fixture redirects it."""
    directory = Path(tempfile.gettempdir())
    session.stash[SYSTEM_TEMP] = (directory, package_entries(directory))


@pytest.fixture(autouse=True, scope="session")
def nothing_left_in_the_system_temp_directory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    if SYSTEM_TEMP not in request.session.stash:
        pytest_sessionstart(request.session)
    directory, before = request.session.stash[SYSTEM_TEMP]
    with pytest.MonkeyPatch.context() as patch:
        # Every process a test starts inherits it (tests/processes.py too).
        patch.setenv("TMPDIR", str(tmp_path_factory.mktemp("children-tmp")))
        yield
    after = package_entries(directory)
    left = sorted(name for name, seen in after.items() if before.get(name) != seen)
    if left:
        pytest.fail(
            f"the suite left in {directory} (new or changed during the run): "
            + ", ".join(left),
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def clean_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """A developer's shell must not change test outcomes, nor one test's switch
    cache (in the temporary directory) another's; no reader outlives its test."""
    for name in list(os.environ):
        if name.startswith("MAINTENANCE_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path_factory.mktemp("tmp")))
    get_config.cache_clear()
    yield
    get_config.cache_clear()
    if switch._process_switch is not None:
        switch._process_switch.stop()
        switch._process_switch = None


@pytest.fixture
def maintenance_env(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set MAINTENANCE_* variables (keyword names without the prefix) for this test."""

    def apply(**variables: str) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(f"MAINTENANCE_{name.upper()}", value)
        get_config.cache_clear()

    return apply


@pytest.fixture
def client() -> Client:
    """A fresh client loads the middleware chain, and so the config, on first use."""
    return Client()


@pytest.fixture
def async_client() -> AsyncClient:
    return AsyncClient()


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime | float], None]:
    """Moves the clock maintenance windows are judged by; no sleeping."""

    def set_now(moment: datetime | float) -> None:
        now = moment.timestamp() if isinstance(moment, datetime) else moment
        monkeypatch.setattr(state, "clock", lambda: now)

    return set_now


@pytest.fixture
def page_template(settings: Any, tmp_path: Path) -> Callable[[str], None]:
    """Give the project its own envmaintenance/maintenance.html with this source."""

    def install(source: str) -> None:
        target = tmp_path / "envmaintenance" / "maintenance.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source)
        settings.TEMPLATES = [
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "DIRS": [str(tmp_path)],
                "APP_DIRS": True,
            }
        ]

    return install


def make_config(**fields: Any) -> Config:
    """A Config from fields of both kinds: the State's go into its environment."""
    state = {name: fields.pop(name) for name in STATE_FIELDS if name in fields}
    return Config(environment=State(**state), **fields)


@pytest.fixture
def no_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    """The switch's reader thread never runs: the test drives its ticks with
    tick() or refresh(), as where threads do not run (uWSGI without
    --enable-threads)."""

    def pretend(self: reader.Reader) -> None:
        self._thread = threading.Thread()  # never started

    monkeypatch.setattr(reader.Reader, "start", pretend)
