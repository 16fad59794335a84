"""The command's options: how they are declared, and what they mean for the
switch (settings and notes, checked before anything is written)."""

from __future__ import annotations

import argparse
import getpass
import re
from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import CommandError, CommandParser

from envmaintenance.cache import SwitchCache, default_cache_path
from envmaintenance.conf import Config
from envmaintenance.parsers import (
    forbidden_character,
    parse_hosts,
    parse_moment,
    parse_scope,
)
from envmaintenance.stores import COMMAND_TIMEOUT_SECONDS, Store, open_store
from envmaintenance.switch import cache_name

NO_SWITCH = (
    "No runtime switch is configured (MAINTENANCE_SWITCH_URL), so maintenance "
    "follows the environment: set MAINTENANCE_MODE=1 (or 0) where your platform "
    "keeps the environment and restart the web processes. To switch every process "
    "within seconds without a restart, set MAINTENANCE_SWITCH_URL to "
    "file:///shared/path or redis://host:6379/0 (see the README, 'Many servers')."
)
_DURATION = re.compile(r"([1-9][0-9]{0,5})([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(option: str, raw: str) -> int:
    """30m, 2h, 1d: seconds; CommandError naming the option otherwise."""
    match = _DURATION.fullmatch(raw.strip())
    if match is None:
        raise CommandError(
            f"--{option}: {raw!r} is not a duration; expected a number "
            f"and a unit, like 90s, 30m, 2h or 1d"
        )
    return int(match[1]) * _UNIT_SECONDS[match[2]]


def parse_until(options: dict[str, Any], now: datetime) -> datetime | None:
    if options["until"] is not None:
        try:
            return parse_moment(options["until"])
        except ValueError as exc:
            raise CommandError(f"--until: {exc}") from None
    if options["for"] is not None:
        seconds = parse_duration("for", options["for"])
        return (now + timedelta(seconds=seconds)).replace(microsecond=0)
    return None


def signature(options: dict[str, Any], now: datetime) -> dict[str, str]:
    """SET_BY, SET_AT and REASON, each one line of printable text, checked
    before anything is written (a line break would add a setting): --by is
    checked whether given or taken from the environment (USER)."""
    by, given = options["by"], options["by"] is not None
    if not given:
        try:
            by = getpass.getuser()
        except (KeyError, OSError):  # no name for this uid (a bare container)
            by = "unknown"
    for option, value in (
        ("message", options.get("message")),
        ("reason", options["reason"]),
        ("by", by),
    ):
        character = None if value is None else forbidden_character(value)
        if character is not None:
            source = "" if given or option != "by" else " (taken from USER)"
            raise CommandError(
                f"--{option}{source} holds {character}; nothing was written"
            )
    notes = {"SET_BY": by, "SET_AT": now.isoformat()}
    if options["reason"]:
        notes["REASON"] = options["reason"]
    return notes


def on_settings(options: dict[str, Any], now: datetime) -> dict[str, str]:
    values = {"MAINTENANCE_MODE": "1"}
    until = parse_until(options, now)
    if until is not None:
        if until <= now:
            raise CommandError(f"--until {until.isoformat()} is in the past")
        values["MAINTENANCE_ENDS_AT"] = until.isoformat()
    if options["read_only"]:
        values["MAINTENANCE_READ_ONLY"] = "1"
    if options["message"] is not None:
        values["MAINTENANCE_MESSAGE"] = options["message"]
    values.update(scope_settings(options))
    return values


def scope_settings(options: dict[str, Any]) -> dict[str, str]:
    """--paths and --hosts, checked by the variables' own parsers, written as
    entries separated by commas."""
    values = {}
    for option, parse, prefixes in (
        ("paths", parse_scope, "prefixes"),
        ("hosts", parse_hosts, "hosts"),
    ):
        raw = options[option]
        if raw is None:
            continue
        try:
            entries = getattr(parse(raw), prefixes)
        except ValueError as exc:
            raise CommandError(f"--{option}: {exc}; nothing was written") from None
        if not entries:
            raise CommandError(f"--{option} names none; nothing was written")
        values[f"MAINTENANCE_{option.upper()}"] = ",".join(entries)
    return values


def command_store(config: Config) -> Store:
    """The switch's store, with the command's timeouts (it reads the whole
    fleet at once, and no request waits on it)."""
    if config.switch is None:
        raise CommandError(NO_SWITCH)
    return open_store(config.switch, config.switch_key, COMMAND_TIMEOUT_SECONDS)


def host_cache(config: Config) -> SwitchCache | None:
    """This host's cache, read (never written) for the revision it holds."""
    assert config.switch is not None
    path = config.switch_cache or default_cache_path(
        config.switch.url, config.switch_key
    )
    return None if path is None else SwitchCache(path, cache_name(config))


ACTIONS = "{on,off,env,run,guard,processes,history,pass,revoke,passes,export}"


def add_actions(parser: CommandParser) -> None:
    """The options, and the actions with theirs."""
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--ip", metavar="ADDRESS", help="explain this address")
    actions = parser.add_subparsers(dest="action", metavar=ACTIONS)
    on = actions.add_parser("on", help="maintenance on, in every process")
    add_on_arguments(on)
    off = actions.add_parser("off", help="maintenance off, in every process")
    back = actions.add_parser("env", help="hand control back to the environment")
    run = actions.add_parser(
        "run",
        help="maintenance on, wait, run COMMAND, then put back what was in force "
        "if it succeeded: run [on's options] -- COMMAND [ARGS...]",
    )
    add_on_arguments(run)
    run.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ARGS")
    for action in (on, off, back, run):
        add_write_arguments(action)
    guard = actions.add_parser(
        "guard",
        help="run COMMAND only when no maintenance is active (cron): "
        "guard [--wait-until-over DURATION] -- COMMAND [ARGS...]",
    )
    guard.add_argument(
        "--wait-until-over",
        metavar="DURATION",
        help="wait up to this long (30m, 2h) for maintenance to end, then decide",
    )
    guard.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ARGS")
    add_fleet_actions(actions)
    add_pass_actions(actions)
    export = actions.add_parser(
        "export",
        help="write the page and nginx snippets the proxy serves when the app "
        "cannot answer",
    )
    export.add_argument("directory", help="where to write them (created)")
    export.add_argument(
        "--nginx-root",
        metavar="PATH",
        help="where nginx finds the files (default: the directory itself)",
    )


def add_on_arguments(on: CommandParser) -> None:
    when = on.add_mutually_exclusive_group()
    when.add_argument("--until", metavar="ISO", help="expected end, with offset")
    when.add_argument("--for", metavar="DURATION", help="expected length: 30m, 2h")
    on.add_argument("--message", help="the text blocked visitors see")
    on.add_argument(
        "--paths",
        metavar="PREFIXES",
        help="only these path prefixes, comma-separated: /checkout,/basket",
    )
    on.add_argument(
        "--hosts",
        metavar="HOSTS",
        help="only these hosts, comma-separated (.example.com: and subdomains)",
    )
    on.add_argument(
        "--read-only",
        action="store_true",
        help="stop only writes: GET, HEAD and OPTIONS pass for everyone",
    )


def add_fleet_actions(actions: Any) -> None:
    listing = actions.add_parser(
        "processes", help="what every process following the switch reports"
    )
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.add_argument(
        "--forget", metavar="ID", help="remove one process from the fleet"
    )
    history = actions.add_parser("history", help="who switched what, when and why")
    history.add_argument("-n", type=int, default=20, metavar="N", help="the last N")
    history.add_argument("--json", action="store_true", help="print JSON")


def add_pass_actions(actions: Any) -> None:
    issue = actions.add_parser(
        "pass", help="a personal link that lets its holder in during maintenance"
    )
    issue.add_argument("name", help="who holds it")
    issue.add_argument(
        "--for", default="8h", metavar="DURATION", help="how long (default 8h)"
    )
    issue.add_argument(
        "--url", default="/", help="the site's URL the link starts from (default /)"
    )
    issue.add_argument("--by", help="who issues it (default: the current user)")
    revoke = actions.add_parser("revoke", help="revoke a staff pass, by name or id")
    revoke.add_argument("who", metavar="NAME|ID")
    revoke.add_argument("--by", help="who revokes it (default: the current user)")
    revoke.add_argument("--reason", help="why")
    listing = actions.add_parser("passes", help="the passes issued")
    listing.add_argument("--json", action="store_true", help="print JSON")


def add_write_arguments(action: CommandParser) -> None:
    action.add_argument("--reason", help="why, shown in status and logs")
    action.add_argument("--by", help="who (default: the current user)")
    action.add_argument(
        "--wait",
        nargs="?",
        const=60.0,
        type=float,
        metavar="SECONDS",
        help="then wait (default 60 s) until every process serves the new revision "
        "and has finished the requests it let in before; exit 1 naming any that "
        "has not",
    )
    action.add_argument(
        "--forget-silent",
        action="store_true",
        help="while waiting, forget processes that stopped reporting (containers "
        "removed without a clean exit), naming each",
    )
    action.add_argument(
        "--force",
        action="store_true",
        help="write even if somebody else wrote the switch while this command ran",
    )
