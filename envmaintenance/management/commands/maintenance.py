"""``manage.py maintenance``: arguments and dispatch. What it prints is composed
in envmaintenance.report; what it does to the switch in envmaintenance.control
and envmaintenance.waiting."""

from __future__ import annotations

import contextlib
import getpass
import json
import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from envmaintenance import report, state
from envmaintenance.access import Gate
from envmaintenance.cache import SwitchCache, default_cache_path
from envmaintenance.conf import Config, ConfigError, get_config
from envmaintenance.control import Refused, Seen, look, write
from envmaintenance.documents import InvalidDocument, parse_document, revision_of
from envmaintenance.export import export_files
from envmaintenance.fleet import read_fleet
from envmaintenance.languages import served_languages
from envmaintenance.parsers import (
    forbidden_character,
    parse_hosts,
    parse_moment,
    parse_scope,
)
from envmaintenance.stores import COMMAND_TIMEOUT_SECONDS, Store, StoreError, open_store
from envmaintenance.summary import explained, summarise, summary_lines
from envmaintenance.switch import Switch, cache_name, get_switch
from envmaintenance.waiting import FleetBehind, wait_for_fleet

NO_SWITCH = (
    "No runtime switch is configured (MAINTENANCE_SWITCH_URL), so maintenance "
    "follows the environment: set MAINTENANCE_MODE=1 (or 0) where your platform "
    "keeps the environment and restart the web processes. To switch every process "
    "within seconds without a restart, set MAINTENANCE_SWITCH_URL to "
    "file:///shared/path or redis://host:6379/0 (see the README, 'Many servers')."
)
_DURATION = re.compile(r"([1-9][0-9]{0,5})([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_MEMBER_ID = re.compile(r"[0-9a-f]{16}")


def parse_until(options: dict[str, Any], now: datetime) -> datetime | None:
    if options["until"] is not None:
        try:
            return parse_moment(options["until"])
        except ValueError as exc:
            raise CommandError(f"--until: {exc}") from None
    if options["for"] is not None:
        match = _DURATION.fullmatch(options["for"].strip())
        if match is None:
            raise CommandError(
                f"--for: {options['for']!r} is not a duration; expected a number "
                f"and a unit, like 90s, 30m, 2h or 1d"
            )
        seconds = int(match[1]) * _UNIT_SECONDS[match[2]]
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


def current_switch() -> Switch:
    """The process's switch, read just now: a command reports what the store
    holds, and starts no reader of its own."""
    switch = get_switch()
    switch.refresh(state.clock(), inline=True)
    return switch


class Command(BaseCommand):
    help = (
        "Show the maintenance state in force. With --ip, explain whether that "
        "address keeps access during maintenance (exit status 0) or not (1). "
        "'on', 'off' and 'env' set the runtime switch for every process."
    )
    # Configuration errors are reported below as one clear line each.
    requires_system_checks = ()

    def add_arguments(self, parser: CommandParser) -> None:
        add_actions(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            config = get_config()
        except ConfigError as exc:
            raise CommandError(f"invalid maintenance configuration:\n{exc}") from None
        action = options.get("action")
        if action == "export":
            self.export(config, Path(options["directory"]), options["nginx_root"])
        elif action == "processes":
            self.processes(config, options)
        elif action:
            self.switch_to(config, action, options)
        elif options["ip"] is not None:
            self.explain(config, options["ip"].strip(), options["json"])
        else:
            self.status(config, options["json"])

    def status(self, config: Config, as_json: bool) -> None:
        switch = current_switch()
        store = None
        # When the store cannot be read, the switch's own row says so.
        if config.switch is not None:
            with contextlib.suppress(StoreError):
                store = store_words(look(command_store(config), host_cache(config)))
        summary = summarise(switch, state.clock(), store)
        if as_json:
            self.stdout.write(json.dumps(summary, indent=2))
            return
        for line in summary_lines(summary, switch.state, state.clock()):
            self.stdout.write(line)

    def switch_to(self, config: Config, action: str, options: dict[str, Any]) -> None:
        """Write the next revision every process will read, and say what it does."""
        store = command_store(config)
        now = datetime.now(timezone.utc).replace(microsecond=0)
        settings = {"off": {"MAINTENANCE_MODE": "0"}, "env": {}}.get(action)
        if settings is None:
            settings = on_settings(options, now)
        notes = signature(options, now)
        patience = config.switch_interval_seconds + 1
        try:
            seen = look(store, host_cache(config), patience_seconds=patience)
            if seen.lost or seen.went_back:
                self.stdout.write(report.store_went_wrong(seen))
            written = write(
                store, config.environment, settings, notes, seen, force=options["force"]
            )
        except Refused as exc:
            raise CommandError(refusal(config, exc)) from None
        except (StoreError, InvalidDocument) as exc:
            raise CommandError(f"the switch was not changed: {exc}") from None
        self.stdout.write(report.outcome(written, now.timestamp(), config))
        if options["wait"] is not None:
            self.wait(config, store, written.revision, options)

    def wait(
        self, config: Config, store: Store, revision: int, options: dict[str, Any]
    ) -> None:
        """Until the fleet serves the revision, or exit 1 naming who does not."""
        seconds = options["wait"]
        if not store.members.can_report():
            raise CommandError(report.cannot_confirm(store))
        terminal = self.stdout.isatty()

        def show(progress: Any) -> None:
            self.stdout.write(f"\r{report.progress_line(progress)}\033[K", ending="")
            self.stdout.flush()

        forget_after = config.switch_forget_after_seconds
        try:
            result = wait_for_fleet(
                store,
                revision,
                seconds,
                forget_after,
                revision_of,
                forget_silent=options["forget_silent"],
                show=show if terminal else None,
            )
        except FleetBehind as exc:
            if terminal:
                self.stdout.write("")
            raise CommandError(
                report.behind(exc, revision, seconds, time.time())
            ) from None
        if terminal:
            self.stdout.write("\r\033[K", ending="")
        self.stdout.write(report.confirmed(result, forget_after))

    def processes(self, config: Config, options: dict[str, Any]) -> None:
        """What each member reports, the silent ones marked; or forget one."""
        store = command_store(config)
        try:
            if options["forget"] is not None:
                self.forget(store, options["forget"].strip())
                return
            now = time.time()
            fleet = read_fleet(store.members, now, config.switch_forget_after_seconds)
        except StoreError as exc:
            raise CommandError(str(exc)) from None
        rows = report.process_rows(fleet.reports, now)
        if options["json"]:
            listing = {"processes": rows, "unreadable": fleet.unreadable}
            self.stdout.write(json.dumps(listing, indent=2))
            return
        for line in report.process_lines(rows, fleet.unreadable, store.members.where):
            self.stdout.write(line)

    def forget(self, store: Store, member_id: str) -> None:
        if not _MEMBER_ID.fullmatch(member_id):
            raise CommandError(
                f"{member_id!r} is not a process id; 'manage.py maintenance "
                f"processes' shows each one's id (16 hexadecimal digits)"
            )
        store.members.forget([member_id])
        self.stdout.write(
            f"Forgot process {member_id}: no wait waits for it until it reports again."
        )

    def export(self, config: Config, directory: Path, nginx_root: str | None) -> None:
        """The page of the state in force (environment and switch), for the proxy
        to serve when the app cannot answer."""
        current = current_switch().state
        language = served_languages(config).fallback
        root = Path(nginx_root) if nginx_root else directory.resolve()
        if not root.is_absolute():
            raise CommandError(f"--nginx-root {nginx_root!r} must be an absolute path")
        try:
            directory.mkdir(parents=True, exist_ok=True)
            written = export_files(config, current, language, directory, root)
        except OSError as exc:
            raise CommandError(f"cannot write to {directory}: {exc}") from None
        for line in report.exported(written):
            self.stdout.write(line)

    def explain(self, config: Config, address: str, as_json: bool) -> None:
        """Whether one address keeps access, as the middleware's gate decides."""
        try:
            network = Gate(config).network_for(address)
        except ValueError as exc:
            raise CommandError(str(exc), returncode=2) from None
        described = current_switch().state.describe(state.clock())
        unix_socket = config.trusted_proxies.unix_socket
        for line in explained(address, network, described, unix_socket, as_json):
            self.stdout.write(line)
        if network is None:
            raise SystemExit(1)


def add_actions(parser: CommandParser) -> None:
    """The options, and the actions with theirs."""
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--ip", metavar="ADDRESS", help="explain this address")
    actions = parser.add_subparsers(
        dest="action", metavar="{on,off,env,processes,export}"
    )
    on = actions.add_parser("on", help="maintenance on, in every process")
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
    off = actions.add_parser("off", help="maintenance off, in every process")
    back = actions.add_parser("env", help="hand control back to the environment")
    for action in (on, off, back):
        add_write_arguments(action)
    listing = actions.add_parser(
        "processes", help="what every process following the switch reports"
    )
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.add_argument(
        "--forget", metavar="ID", help="remove one process from the fleet"
    )
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


def refusal(config: Config, exc: Refused) -> str:
    try:
        current = parse_document(exc.current or "").state(config.environment)
    except InvalidDocument:
        current = None
    return report.refused(current, revision_of(exc.current))


def store_words(seen: Seen) -> dict[str, Any]:
    """What the store and the fleet hold, as the summary shows it."""
    return {
        "revision": seen.store_revision,
        "fleet": seen.fleet_revision,
        "highest": seen.highest,
        "lost": seen.lost,
        "went_back": seen.went_back,
        "next": seen.highest + 1,
    }
