"""Text to value, one parser per kind of variable: strict, and every error one
line that says what was expected. The environment and the switch document read
values with these same functions, so both accept exactly the same text."""

from __future__ import annotations

import re
import shlex
from datetime import datetime
from pathlib import Path

from django.utils.dateparse import parse_datetime

from envmaintenance.client import TrustedProxies
from envmaintenance.hosts import HostScope, parse_host
from envmaintenance.network import InvalidNetwork, NetworkSet, parse_network
from envmaintenance.paths import (
    PathPrefixes,
    PathScope,
    parse_path_prefix,
    validate_path_prefix,
)
from envmaintenance.state import DEFAULT_MESSAGE, MAX_RETRY_AFTER_SECONDS

MAX_BYPASS_MAX_AGE_SECONDS = 30 * 86400
MIN_BYPASS_TOKEN_LENGTH = 16
# Dates outside these years are typos (0026, 20260), and far ones overflow
# date arithmetic in templates and time zone conversion.
YEARS = range(2000, 3000)
MAX_SWITCH_INTERVAL_SECONDS = 60
# A month: a process silent for longer is gone, whatever the interval.
MAX_SWITCH_FORGET_AFTER_SECONDS = 30 * 86400
DEFAULT_SWITCH_KEY = "envmaintenance:switch"
MAX_SWITCH_KEY_LENGTH = 256
UNREADABLE_CHOICES = ("environment", "on")

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


def parse_switch_forget_after(raw: str) -> int:
    """Seconds; the floor, ten intervals, is load_config's: it needs both values."""
    return _parse_seconds(raw, MAX_SWITCH_FORGET_AFTER_SECONDS)


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
    if path.is_dir():
        # The cache is one file per switch: a directory given here would be
        # replaced by it, or the write would fail at every read.
        raise ValueError(
            f"{raw!r} is a directory; give the path of a file inside it, like "
            f"{path / 'switch.json'}"
        )
    if not path.parent.is_dir():
        raise ValueError(f"the directory {str(path.parent)!r} does not exist")
    return path


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


def parse_hosts(raw: str) -> HostScope:
    return HostScope(parse_host(entry) for entry in _split(raw))


def parse_command(raw: str) -> tuple[str, ...]:
    """A command line, split as a POSIX shell would (no shell runs it)."""
    try:
        return tuple(shlex.split(raw))
    except ValueError as exc:
        raise ValueError(f"{raw!r} is not a command line: {exc}") from None


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
