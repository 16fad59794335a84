"""The only code that reads the environment: parsed and validated once, then frozen."""

from __future__ import annotations

import difflib
import functools
import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.dateparse import parse_datetime

from envmaintenance.client import TrustedProxies
from envmaintenance.network import InvalidNetwork, NetworkSet, parse_network
from envmaintenance.paths import (
    PathPrefixes,
    PathScope,
    parse_path_prefix,
    validate_path_prefix,
)
from envmaintenance.schedule import DEFAULT_MESSAGE, MAX_RETRY_AFTER_SECONDS, State
from envmaintenance.stores import SwitchLocation, parse_switch_url, redact_url

logger = logging.getLogger("envmaintenance")


PREFIX = "MAINTENANCE_"
DEFAULT_RETRY_AFTER_SECONDS = 3600
DEFAULT_BYPASS_MAX_AGE_SECONDS = 12 * 3600
MAX_BYPASS_MAX_AGE_SECONDS = 30 * 86400
MIN_BYPASS_TOKEN_LENGTH = 16
# Dates outside these years are typos (0026, 20260), and far ones overflow
# date arithmetic in templates and time zone conversion.
YEARS = range(2000, 3000)
DEFAULT_SWITCH_INTERVAL_SECONDS = 2
MAX_SWITCH_INTERVAL_SECONDS = 60
DEFAULT_SWITCH_KEY = "envmaintenance:switch"
MAX_SWITCH_KEY_LENGTH = 256

# MAINTENANCE_MESSAGE_DE, MAINTENANCE_MESSAGE_PT_BR: the message in one language,
# named after its code (upper-cased, "-" as "_").
MESSAGE_VARIANT = re.compile(
    r"MAINTENANCE_MESSAGE_([A-Za-z]{2,3}(?:_[A-Za-z0-9]{1,8})*)"
)

_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})
_SEPARATORS = re.compile(r"[,\s]+")
# What no value may hold, from the environment or a switch document: C0 controls
# but tab, DEL and C1 (NEL among them), the line and paragraph separators, and
# the bidi embeddings, overrides and isolates ("Trojan Source"). A value is one
# line of text that reads as it is stored: none can smuggle in a second setting,
# clear a terminal or reorder what an operator reads.
_FORBIDDEN = re.compile(
    "[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
# RFC 3986 unreserved characters: the token goes into a link unencoded.
_TOKEN_SYNTAX = re.compile(r"[A-Za-z0-9._~-]+")


@dataclass(frozen=True)
class Config:
    """What is fixed for the life of a process, validated: who gets in, where
    maintenance applies, how the 503 reads, where the switch lives, and the state
    the environment declares (the switch, when configured, may override it)."""

    environment: State = field(default_factory=State)
    allowed_networks: NetworkSet = field(default_factory=NetworkSet)
    trusted_proxies: TrustedProxies = field(default_factory=TrustedProxies)
    retry_after_seconds: int = DEFAULT_RETRY_AFTER_SECONDS
    exempt_paths: PathPrefixes = field(default_factory=PathPrefixes)
    # Error reports print the settings: the secret stays out of their repr.
    bypass_token: str | None = field(default=None, repr=False)
    bypass_max_age_seconds: int = DEFAULT_BYPASS_MAX_AGE_SECONDS
    switch: SwitchLocation | None = None
    switch_interval_seconds: int = DEFAULT_SWITCH_INTERVAL_SECONDS
    switch_key: str = DEFAULT_SWITCH_KEY
    # The last good document on local disk; None: a file in the temporary
    # directory named after the switch.
    switch_cache: Path | None = None
    # With neither store nor cache at start-up: "environment" or "on".
    switch_unreadable: str = "environment"
    # When set, maintenance applies only under these prefixes.
    paths: PathScope = field(default_factory=PathScope)
    status_path: str | None = None
    # (language code, message) from MAINTENANCE_MESSAGE_<LANG>, sorted by code.
    messages: tuple[tuple[str, str], ...] = ()


# Fields of the State the environment declares; the switch may set the same.
STATE_FIELDS = ("enabled", "starts_at", "ends_at", "message", "read_only")


class ConfigError(ImproperlyConfigured):
    """One or more invalid variables; each problem names its variable."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(f"{name}: {text}" for name, text in problems))


def forbidden_character(text: str, *, list_of_entries: bool = False) -> str | None:
    """'U+000A, which no value may hold (...)' for the first such character.

    In a list (networks, paths) a line break only separates entries, as a comma
    does: YAML block scalars write lists that way.
    """
    if list_of_entries:
        text = text.replace("\r", " ").replace("\n", " ")
    found = _FORBIDDEN.search(text)
    if found is None:
        return None
    return (
        f"U+{ord(found[0]):04X}, which no value may hold (control characters, "
        f"line and paragraph separators, bidi controls)"
    )


def parse_bool(raw: str) -> bool:
    word = raw.strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise ValueError(
        f"{raw!r} is not a switch; expected 1/0, true/false, yes/no or on/off"
    )


def parse_networks(raw: str) -> NetworkSet:
    try:
        return NetworkSet(parse_network(entry) for entry in _split(raw))
    except InvalidNetwork as exc:
        raise ValueError(str(exc)) from None


def parse_trusted_proxies(raw: str) -> TrustedProxies:
    """Networks, plus the word ``unix`` for peers on a unix socket."""
    entries = _split(raw)
    words = [entry for entry in entries if entry.lower() in {"unix", "unix:"}]
    networks = " ".join(entry for entry in entries if entry not in words)
    return TrustedProxies(parse_networks(networks), unix_socket=bool(words))


def _parse_seconds(raw: str, maximum: int) -> int:
    digits = raw.strip()
    # int() alone would take "+120", "1_000" and non-ASCII digits.
    if digits.isascii() and digits.isdigit() and len(digits.lstrip("0")) <= 9:
        seconds = int(digits)
        if 1 <= seconds <= maximum:
            return seconds
    raise ValueError(
        f"{raw!r} is not a number of seconds; "
        f"expected a whole number from 1 to {maximum}"
    )


def parse_retry_after(raw: str) -> int:
    return _parse_seconds(raw, MAX_RETRY_AFTER_SECONDS)


def parse_bypass_max_age(raw: str) -> int:
    return _parse_seconds(raw, MAX_BYPASS_MAX_AGE_SECONDS)


def parse_switch_interval(raw: str) -> int:
    return _parse_seconds(raw, MAX_SWITCH_INTERVAL_SECONDS)


def parse_switch_key(raw: str) -> str:
    key = raw.strip()
    if (
        not key
        or len(key) > MAX_SWITCH_KEY_LENGTH
        or not key.isprintable()
        or (any(character.isspace() for character in key))
    ):
        raise ValueError(
            f"{raw!r} is not a key; expected up to {MAX_SWITCH_KEY_LENGTH} printable "
            f"characters without spaces, like {DEFAULT_SWITCH_KEY}:shop"
        )
    return key


def parse_switch_cache(raw: str) -> Path | None:
    text = raw.strip()
    if not text:
        return None
    path = Path(text)
    if not path.is_absolute() or text.endswith("/"):
        raise ValueError(
            f"{raw!r} is not an absolute path to a file; expected one like "
            f"/var/cache/envmaintenance/switch.json"
        )
    if not path.parent.is_dir():
        raise ValueError(f"the directory {str(path.parent)!r} does not exist")
    return path


UNREADABLE_CHOICES = ("environment", "on")


def parse_switch_unreadable(raw: str) -> str:
    choice = raw.strip().lower() or "environment"
    if choice not in UNREADABLE_CHOICES:
        raise ValueError(
            f"{raw!r} is not a choice; expected 'environment' (follow the "
            f"environment until the switch is readable) or 'on' (maintenance on "
            f"until it is)"
        )
    return choice


def parse_moment(raw: str) -> datetime | None:
    text = raw.strip()
    if not text:
        return None
    expected = "expected an ISO 8601 date-time with offset, like 2026-12-01T22:00:00Z"
    try:
        moment = parse_datetime(text)
    except ValueError:
        raise ValueError(f"{raw!r} is not a valid date-time; {expected}") from None
    if moment is None:
        raise ValueError(f"{raw!r} is not a date-time; {expected}")
    if moment.utcoffset() is None:
        raise ValueError(f"{raw!r} has no UTC offset; {expected}")
    if moment.year not in YEARS:
        raise ValueError(
            f"{raw!r} is in the year {moment.year}; expected a year from "
            f"{YEARS.start} to {YEARS.stop - 1}"
        )
    return moment


def parse_bypass_token(raw: str) -> str | None:
    token = raw.strip()
    if not token:
        return None
    if len(token) < MIN_BYPASS_TOKEN_LENGTH or not _TOKEN_SYNTAX.fullmatch(token):
        # The value is a secret: never echo it.
        raise ValueError(
            f"the token ({len(token)} characters) is too weak or not URL-safe; "
            f"expected at least {MIN_BYPASS_TOKEN_LENGTH} characters from "
            f"A-Z a-z 0-9 . _ ~ -, e.g. from secrets.token_urlsafe(32)"
        )
    return token


def parse_path_prefixes(raw: str) -> PathPrefixes:
    return PathPrefixes(parse_path_prefix(entry) for entry in _split(raw))


def parse_scope(raw: str) -> PathScope:
    """Prefixes as written: a trailing slash marks a segment boundary."""
    return PathScope(validate_path_prefix(entry) for entry in _split(raw))


def parse_status_path(raw: str) -> str | None:
    entries = _split(raw)
    if len(entries) > 1:
        raise ValueError(f"{raw!r} holds {len(entries)} paths; expected one")
    return parse_path_prefix(entries[0]) if entries else None


def parse_text(raw: str) -> str:
    """Text for the page and the bodies, which are sent as UTF-8."""
    try:
        raw.encode()
    except UnicodeEncodeError:  # os.environ keeps undecodable bytes as surrogates
        raise ValueError(
            f"{raw!r} holds bytes that are not UTF-8; write the text in UTF-8"
        ) from None
    return raw.strip()


def parse_message(raw: str) -> str:
    return parse_text(raw) or DEFAULT_MESSAGE


def _split(raw: str) -> list[str]:
    return [entry for entry in _SEPARATORS.split(raw) if entry]


# field name -> (variable, parser)
VARIABLES: dict[str, tuple[str, Callable[[str], Any]]] = {
    "enabled": ("MAINTENANCE_MODE", parse_bool),
    "allowed_networks": ("MAINTENANCE_ALLOWED_IPS", parse_networks),
    "trusted_proxies": ("MAINTENANCE_TRUSTED_PROXIES", parse_trusted_proxies),
    "retry_after_seconds": ("MAINTENANCE_RETRY_AFTER", parse_retry_after),
    "exempt_paths": ("MAINTENANCE_EXEMPT_PATHS", parse_path_prefixes),
    "message": ("MAINTENANCE_MESSAGE", parse_message),
    "starts_at": ("MAINTENANCE_STARTS_AT", parse_moment),
    "ends_at": ("MAINTENANCE_ENDS_AT", parse_moment),
    "bypass_token": ("MAINTENANCE_BYPASS_TOKEN", parse_bypass_token),
    "bypass_max_age_seconds": ("MAINTENANCE_BYPASS_MAX_AGE", parse_bypass_max_age),
    "switch": ("MAINTENANCE_SWITCH_URL", parse_switch_url),
    "switch_interval_seconds": ("MAINTENANCE_SWITCH_INTERVAL", parse_switch_interval),
    "switch_key": ("MAINTENANCE_SWITCH_KEY", parse_switch_key),
    "switch_cache": ("MAINTENANCE_SWITCH_CACHE", parse_switch_cache),
    "switch_unreadable": ("MAINTENANCE_SWITCH_UNREADABLE", parse_switch_unreadable),
    "read_only": ("MAINTENANCE_READ_ONLY", parse_bool),
    "paths": ("MAINTENANCE_PATHS", parse_scope),
    "status_path": ("MAINTENANCE_STATUS_PATH", parse_status_path),
}


# Variables that hold a list of entries.
LISTS = frozenset(
    VARIABLES[name][0]
    for name in ("allowed_networks", "trusted_proxies", "exempt_paths", "paths")
)


def load_config(environ_map: Mapping[str, str]) -> Config:
    """Parse every MAINTENANCE_* variable; raise ConfigError listing all problems."""
    env = environ.Env()
    env.ENVIRON = environ_map
    env.escape_proxy = True  # "\$" is a literal dollar; "$NAME" reads NAME
    values: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for name, (variable, parse) in VARIABLES.items():
        if variable in environ_map:
            _read(env, variable, parse, values, name, problems)
    values["messages"] = _read_message_variants(env, problems)
    starts_at, ends_at = values.get("starts_at"), values.get("ends_at")
    if starts_at and ends_at and ends_at <= starts_at:
        problems.append(
            (
                "MAINTENANCE_ENDS_AT",
                f"{environ_map['MAINTENANCE_ENDS_AT']!r} is not after "
                f"MAINTENANCE_STARTS_AT ({environ_map['MAINTENANCE_STARTS_AT']!r})",
            )
        )
    if problems:
        raise ConfigError(problems)
    state = State(**{name: values.pop(name) for name in STATE_FIELDS if name in values})
    return Config(environment=state, **values)


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
        _read(env, variable, parse_text, messages, language, problems)
    return tuple(sorted((code, text) for code, text in messages.items() if text))


def _read(
    env: environ.Env,
    variable: str,
    parse: Callable[[str], Any],
    values: dict[str, Any],
    name: str,
    problems: list[tuple[str, str]],
) -> None:
    """values[name] = the parsed variable, or one problem that names it."""
    raw = env.ENVIRON[variable]
    character = forbidden_character(raw, list_of_entries=variable in LISTS)
    if character is not None:
        problems.append((variable, f"{_shown(variable, raw)} holds {character}"))
        return
    try:
        values[name] = parse(env.str(variable))
    except ValueError as exc:
        problems.append((variable, str(exc)))
    except ImproperlyConfigured:
        problems.append((variable, _unset_reference(_shown(variable, raw))))
    except RecursionError:
        problems.append((variable, f"{_shown(variable, raw)} refers to itself"))


def _shown(variable: str, raw: str) -> str:
    """A raw value as an error may quote it: secrets never are."""
    if variable == "MAINTENANCE_BYPASS_TOKEN":
        return "the token"
    if variable == "MAINTENANCE_SWITCH_URL":
        return repr(redact_url(raw))
    return repr(raw)


def _unset_reference(shown: str) -> str:
    return (
        f"{shown} refers to a variable that is not set "
        f"(a leading $ names a variable; write \\$ for a literal dollar sign)"
    )


def unknown_variables(environ_map: Mapping[str, str]) -> list[tuple[str, str | None]]:
    """Variables that look meant for this package but are not among its names,
    each with the closest known name (or None): a typo must not pass silently."""
    known = {
        variable.removeprefix(PREFIX): variable for variable, _ in VARIABLES.values()
    }
    found = []
    for name in sorted(environ_map):
        head, _, rest = name.partition("_")
        looks_like_ours = name.startswith(PREFIX) or (
            head != PREFIX[:-1]
            and difflib.SequenceMatcher(None, head, PREFIX[:-1]).ratio() >= 0.8
        )
        if (
            looks_like_ours
            and name not in known.values()
            and not MESSAGE_VARIANT.fullmatch(name)
        ):
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
