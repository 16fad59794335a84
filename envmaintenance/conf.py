"""The only code that reads the environment: parsed and validated once, then frozen.

What each variable is, and how it parses, is its row in ``variables``.
"""

from __future__ import annotations

import difflib
import functools
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

from envmaintenance.client import TrustedProxies
from envmaintenance.network import NetworkSet
from envmaintenance.parsers import DEFAULT_SWITCH_KEY

# Re-exported for modules that still import them from here; new code imports
# them from parsers and variables.
from envmaintenance.parsers import forbidden_character as forbidden_character
from envmaintenance.parsers import parse_moment as parse_moment
from envmaintenance.paths import PathPrefixes
from envmaintenance.state import State
from envmaintenance.stores import SwitchLocation
from envmaintenance.variables import (
    MESSAGE_VARIANT,
    MESSAGE_VARIANTS,
    NAMED,
    Variable,
    row_for,
)
from envmaintenance.variables import STATE_FIELDS as STATE_FIELDS

logger = logging.getLogger("envmaintenance")


PREFIX = "MAINTENANCE_"
DEFAULT_BYPASS_MAX_AGE_SECONDS = 12 * 3600
DEFAULT_SWITCH_INTERVAL_SECONDS = 2
DEFAULT_SWITCH_FORGET_AFTER_SECONDS = 3600
# A process silent for this many intervals has stopped, not missed a read.
FORGET_AFTER_INTERVALS = 10


@dataclass(frozen=True)
class Config:
    """What is fixed for the life of a process, validated: who gets in, where
    maintenance applies, how the 503 reads, where the switch lives, and the state
    the environment declares (the switch, when configured, may override it)."""

    environment: State = field(default_factory=State)
    allowed_networks: NetworkSet = field(default_factory=NetworkSet)
    trusted_proxies: TrustedProxies = field(default_factory=TrustedProxies)
    exempt_paths: PathPrefixes = field(default_factory=PathPrefixes)
    # Error reports print the settings: the secret stays out of their repr.
    bypass_token: str | None = field(default=None, repr=False)
    bypass_max_age_seconds: int = DEFAULT_BYPASS_MAX_AGE_SECONDS
    switch: SwitchLocation | None = None
    switch_interval_seconds: int = DEFAULT_SWITCH_INTERVAL_SECONDS
    # A process that has not reported for this long is no longer waited for.
    switch_forget_after_seconds: int = DEFAULT_SWITCH_FORGET_AFTER_SECONDS
    switch_key: str = DEFAULT_SWITCH_KEY
    # The last good document on local disk; None: cache.py's default, one file
    # per switch in a private directory under the temporary directory.
    switch_cache: Path | None = None
    # With neither store nor cache at start-up: "environment" or "on".
    switch_unreadable: str = "environment"
    # The page reloads itself when maintenance ends (MAINTENANCE_PAGE_RELOAD).
    page_reload: bool = True
    # Run after each event by the process that writes the switch.
    switch_hook: tuple[str, ...] = ()
    # Under these prefixes the 503 is problem+json, whatever Accept says.
    json_paths: PathPrefixes = field(default_factory=PathPrefixes)
    status_path: str | None = None
    # (language code, message) from MAINTENANCE_MESSAGE_<LANG>, sorted by code.
    messages: tuple[tuple[str, str], ...] = ()


# The old view of the rows (field -> (variable, parser)), for modules that
# still import it from here; new code reads variables.ROWS.
VARIABLES: dict[str, tuple[str, Callable[[str], Any]]] = {
    row.field: (row.name, row.parse) for row in NAMED.values()
}


class ConfigError(ImproperlyConfigured):
    """One or more invalid variables; each problem names its variable."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(f"{name}: {text}" for name, text in problems))


def load_config(environ_map: Mapping[str, str]) -> Config:
    """Parse every MAINTENANCE_* variable; raise ConfigError listing all problems."""
    env = environ.Env()
    env.ENVIRON = environ_map
    env.escape_proxy = True  # "\$" is a literal dollar; "$NAME" reads NAME
    values: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for row in NAMED.values():
        if row.name in environ_map:
            _read(env, row, row.name, row.field, values, problems)
    values["messages"] = _read_message_variants(env, problems)
    problems.extend(_window_problems(values, environ_map))
    problems.extend(_forget_after_problems(values, environ_map))
    if problems:
        raise ConfigError(problems)
    state = State(**{name: values.pop(name) for name in STATE_FIELDS if name in values})
    return Config(environment=state, **values)


def _window_problems(
    values: Mapping[str, Any], environ_map: Mapping[str, str]
) -> list[tuple[str, str]]:
    starts_at, ends_at = values.get("starts_at"), values.get("ends_at")
    if not (starts_at and ends_at and ends_at <= starts_at):
        return []
    return [
        (
            "MAINTENANCE_ENDS_AT",
            f"{environ_map['MAINTENANCE_ENDS_AT']!r} is not after "
            f"MAINTENANCE_STARTS_AT ({environ_map['MAINTENANCE_STARTS_AT']!r})",
        )
    ]


def _forget_after_problems(
    values: Mapping[str, Any], environ_map: Mapping[str, str]
) -> list[tuple[str, str]]:
    """A process misses a read or two when it is busy; one silent for ten
    intervals has stopped, and forgetting it sooner would skip a live one."""
    forget, interval = "MAINTENANCE_SWITCH_FORGET_AFTER", "MAINTENANCE_SWITCH_INTERVAL"
    if any(
        NAMED[name].field not in values
        for name in (forget, interval)
        if name in environ_map
    ):
        return []  # one is invalid, and reported as such
    seconds = values.get(
        "switch_forget_after_seconds", DEFAULT_SWITCH_FORGET_AFTER_SECONDS
    )
    interval_seconds = values.get(
        "switch_interval_seconds", DEFAULT_SWITCH_INTERVAL_SECONDS
    )
    least = FORGET_AFTER_INTERVALS * interval_seconds
    if seconds >= least:
        return []
    return [
        (
            forget,
            f"{_as_given(environ_map, forget, seconds)} is less than ten times "
            f"{interval} ({_as_given(environ_map, interval, interval_seconds)}); "
            f"expected at least {least}",
        )
    ]


def _as_given(environ_map: Mapping[str, str], variable: str, value: int) -> str:
    """The raw value as written, or the default that stood in for it."""
    if variable in environ_map:
        return repr(environ_map[variable])
    return f"{value}, the default"


def _read_message_variants(
    env: environ.Env, problems: list[tuple[str, str]]
) -> tuple[tuple[str, str], ...]:
    """MAINTENANCE_MESSAGE_<LANG>: (language code, message), sorted by code."""
    messages: dict[str, Any] = {}
    named: dict[str, str] = {}
    for variable in sorted(env.ENVIRON):
        match = MESSAGE_VARIANT.fullmatch(variable)
        if match is None:
            continue
        language = match[1].lower().replace("_", "-")
        if language in named:  # MAINTENANCE_MESSAGE_DE and MAINTENANCE_MESSAGE_de
            problems.append((variable, f"{named[language]} already sets it; keep one"))
            continue
        named[language] = variable
        _read(env, MESSAGE_VARIANTS, variable, language, messages, problems)
    return tuple(sorted((code, text) for code, text in messages.items() if text))


def _read(
    env: environ.Env,
    row: Variable,
    variable: str,
    key: str,
    values: dict[str, Any],
    problems: list[tuple[str, str]],
) -> None:
    """values[key] = the variable parsed by its row, or one problem that names it."""
    raw = env.ENVIRON[variable]
    character = forbidden_character(raw, list_of_entries=row.list_of_entries)
    if character is not None:
        problems.append((variable, f"{row.quote(raw)} holds {character}"))
        return
    try:
        values[key] = row.parse(env.str(variable))
    except ValueError as exc:
        problems.append((variable, str(exc)))
    except ImproperlyConfigured:
        problems.append((variable, _unset_reference(row.quote(raw))))
    except RecursionError:
        problems.append((variable, f"{row.quote(raw)} refers to itself"))


def _unset_reference(shown: str) -> str:
    return (
        f"{shown} refers to a variable that is not set "
        f"(a leading $ names a variable; write \\$ for a literal dollar sign)"
    )


def unknown_variables(environ_map: Mapping[str, str]) -> list[tuple[str, str | None]]:
    """Variables that look meant for this package but are not among its names,
    each with the closest known name (or None): a typo must not pass silently."""
    known = {variable.removeprefix(PREFIX): variable for variable in NAMED}
    found = []
    for name in sorted(environ_map):
        head, _, rest = name.partition("_")
        looks_like_ours = name.startswith(PREFIX) or (
            head != PREFIX[:-1]
            and difflib.SequenceMatcher(None, head, PREFIX[:-1]).ratio() >= 0.8
        )
        if looks_like_ours and row_for(name) is None:
            closest = difflib.get_close_matches(rest, known, n=1, cutoff=0.75)
            found.append((name, known[closest[0]] if closest else None))
    return found


def describe_unknown(name: str, closest: str | None) -> str:
    if closest:
        return f"{name} is not a variable envmaintenance reads; did you mean {closest}?"
    return f"{name} is not a variable envmaintenance reads; it has no effect"


@functools.cache
def get_config() -> Config:
    """The process-wide config, read from os.environ on first use."""
    config = load_config(os.environ)
    unknown = unknown_variables(os.environ)
    if unknown:
        logger.warning(
            "Maintenance: %s", "; ".join(describe_unknown(*item) for item in unknown)
        )
    return config
