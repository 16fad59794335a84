"""``manage.py maintenance``: the state in force, one address's fate, and the
runtime switch (on, off, env)."""

from __future__ import annotations

import getpass
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from envmaintenance import schedule
from envmaintenance.conf import (
    Config,
    ConfigError,
    forbidden_character,
    get_config,
    parse_moment,
)
from envmaintenance.documents import InvalidDocument, write_document
from envmaintenance.export import export_files
from envmaintenance.fleet import digest, reports_for
from envmaintenance.languages import served_languages
from envmaintenance.network import address_key
from envmaintenance.schedule import State
from envmaintenance.stores import Store, StoreError
from envmaintenance.switch import Switch, get_switch, replace_document
from envmaintenance.waiting import (
    FleetBehind,
    process_rows,
    process_table,
    wait_for_fleet,
)

UNIX_SOCKET_NOTE = (
    "Requests that reach the app over a unix socket have no address: they are "
    "blocked unless MAINTENANCE_TRUSTED_PROXIES includes 'unix'."
)
NO_SWITCH = (
    "No runtime switch is configured (MAINTENANCE_SWITCH_URL), so maintenance "
    "follows the environment: set MAINTENANCE_MODE=1 (or 0) where your platform "
    "keeps the environment and restart the web processes. To switch every process "
    "within seconds without a restart, set MAINTENANCE_SWITCH_URL to "
    "file:///shared/path or redis://host:6379/0 (see the README, 'Many servers')."
)
_DURATION = re.compile(r"([1-9][0-9]{0,5})([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _timestamp(value: float | None) -> str | None:
    if value is None:
        return None
    return datetime.fromtimestamp(value, timezone.utc).isoformat()


def describe_settings(config: Config) -> dict[str, Any]:
    """What is fixed for the process, as --json prints it (never the token)."""
    return {
        "allowed_networks": list(config.allowed_networks.cidrs),
        "trusted_proxies": config.trusted_proxies.entries(),
        "exempt_paths": list(config.exempt_paths.prefixes),
        "maintenance_paths": list(config.paths.prefixes),
        "status_path": config.status_path,
        "bypass_token_set": config.bypass_token is not None,
        "bypass_max_age": config.bypass_max_age_seconds,
        "messages": dict(config.messages),
    }


def describe_switch(switch: Switch) -> dict[str, Any] | None:
    """The switch as this process read it just now."""
    if switch.store is None:
        return None
    notes = switch.state.notes
    return {
        "url": switch.display,
        "interval": switch.interval,
        "document": switch.text,
        "set_by": notes.get("SET_BY"),
        "set_at": notes.get("SET_AT"),
        "reason": notes.get("REASON"),
        "last_read_at": _timestamp(switch.last_read_at),
        "stale_since": _timestamp(switch.stale_since),
        "error": switch.trouble,
    }


def summarise(switch: Switch, now: float) -> dict[str, Any]:
    """The state in force in the one JSON shape of a state, and beside it the
    config, the environment's own state and the switch."""
    config = switch.config
    default = config.retry_after_seconds
    return {
        **switch.state.as_json(now, default),
        "settings": describe_settings(config),
        "environment": config.environment.as_json(now, default),
        "switch": describe_switch(switch),
    }


def summary_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """The same summary as label/value lines for a person."""
    settings = summary["settings"]
    starts_at, ends_at = summary["starts_at"], summary["ends_at"]
    window = f"{starts_at or 'now'} → {ends_at or 'no end set'}"
    read_only = ", read-only: only writes are stopped" if summary["read_only"] else ""
    retry_after = (
        f"{summary['retry_after']} s"
        if summary["active"]
        else f"{summary['retry_after_default']} s, when maintenance is on"
    )
    bypass = (
        f"set (cookies last {settings['bypass_max_age']} s)"
        if settings["bypass_token_set"]
        else "not set"
    )
    return [
        (
            "Maintenance",
            f"{summary['state']}{read_only} (decided by the {summary['source']})",
        ),
        ("Applies to", ", ".join(settings["maintenance_paths"]) or "the whole site"),
        ("Window", window if starts_at or ends_at else "none"),
        ("Retry-After", retry_after),
        ("Allowed networks", ", ".join(settings["allowed_networks"]) or "none"),
        ("Trusted proxies", ", ".join(settings["trusted_proxies"]) or "none"),
        ("Exempt paths", ", ".join(settings["exempt_paths"]) or "none"),
        ("Status path", settings["status_path"] or "none"),
        ("Bypass token", bypass),
        ("Message", summary["message"]),
        *[(f"Message ({code})", text) for code, text in settings["messages"].items()],
        *switch_rows(summary),
    ]


def switch_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    switch = summary["switch"]
    if switch is None:
        return [("Switch", "not configured (MAINTENANCE_SWITCH_URL)")]
    signed = " ".join(
        part
        for part in (
            switch["set_by"] and f"by {switch['set_by']}",
            switch["set_at"] and f"at {switch['set_at']}",
            switch["reason"] and f"(reason: {switch['reason']})",
        )
        if part
    )
    document = (
        "none: the environment decides"
        if switch["document"] is None
        else (" / ".join(switch["document"].splitlines()))
    )
    read = (
        f"failed: {switch['error']} (stale since {switch['stale_since']})"
        if switch["error"]
        else f"ok at {switch['last_read_at']}"
    )
    return [
        ("Environment", summary["environment"]["state"]),
        ("Switch", f"{switch['url']}, read every {switch['interval']} s"),
        ("Switch document", document),
        *([("Switched", signed)] if signed else []),
        ("Last read", read),
    ]


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


def current_switch() -> Switch:
    """The process's switch, read just now: a command reports what the store
    holds, and starts no reader of its own."""
    switch = get_switch()
    switch.refresh(schedule.clock())
    return switch


def refuse_unprintable(options: dict[str, Any]) -> None:
    """--message, --reason and --by are one line of printable text, checked
    before anything is written: a line break would add a setting."""
    for option in ("message", "reason", "by"):
        value = options.get(option)
        character = None if value is None else forbidden_character(value)
        if character is not None:
            raise CommandError(f"--{option} holds {character}; nothing was written")


def _signature(options: dict[str, Any], now: datetime) -> dict[str, str]:
    by = options["by"] or getpass.getuser()
    notes = {"SET_BY": by, "SET_AT": now.isoformat()}
    if options["reason"]:
        notes["REASON"] = options["reason"]
    return notes


class Command(BaseCommand):
    help = (
        "Show the maintenance state in force. With --ip, explain whether that "
        "address keeps access during maintenance (exit status 0) or not (1). "
        "'on', 'off' and 'env' set the runtime switch for every process."
    )
    # Configuration errors are reported below as one clear line each.
    requires_system_checks = ()

    def add_arguments(self, parser: CommandParser) -> None:
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
            "--read-only",
            action="store_true",
            help="stop only writes: GET, HEAD and OPTIONS pass for everyone",
        )
        off = actions.add_parser("off", help="maintenance off, in every process")
        back = actions.add_parser("env", help="hand control back to the environment")
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
        for action in (on, off, back):
            action.add_argument("--reason", help="why, shown in status and logs")
            action.add_argument("--by", help="who (default: the current user)")
            action.add_argument(
                "--wait",
                nargs="?",
                const=60.0,
                type=float,
                metavar="SECONDS",
                help="then wait (default 60 s) until every process has switched and "
                "finished the requests it let in before; exit 1 naming any that "
                "has not",
            )
        listing = actions.add_parser(
            "processes", help="what every process following the switch reports"
        )
        listing.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            config = get_config()
        except ConfigError as exc:
            raise CommandError(f"invalid maintenance configuration:\n{exc}") from None
        if options.get("action") == "export":
            self.export(config, Path(options["directory"]), options["nginx_root"])
            return
        if options.get("action") == "processes":
            self.processes(config, options["json"])
            return
        if options.get("action"):
            self.set_switch(config, options["action"], options)
            return
        switch = current_switch()
        now = schedule.clock()
        if options["ip"] is not None:
            state = switch.state.describe(now)
            self.explain(config, state, options["ip"], options["json"])
            return
        summary = summarise(switch, now)
        if options["json"]:
            self.stdout.write(json.dumps(summary, indent=2))
            return
        for label, value in summary_rows(summary):
            self.stdout.write(f"{label + ':':<18}{value}")

    def set_switch(self, config: Config, action: str, options: dict[str, Any]) -> None:
        """Write the document every process will read, and say what it does."""
        if config.switch is None:
            raise CommandError(NO_SWITCH)
        refuse_unprintable(options)
        now = datetime.now(timezone.utc).replace(microsecond=0)
        modes = {"on": {"MAINTENANCE_MODE": "1"}, "off": {"MAINTENANCE_MODE": "0"}}
        values = dict(modes.get(action, {}))
        if action == "on":
            values.update(self.on_values(options, now))
        text = write_document(values, _signature(options, now))
        store = get_switch().store
        assert store is not None
        try:
            state = replace_document(store, text, config.environment)
        except (StoreError, InvalidDocument) as exc:
            raise CommandError(f"the switch was not changed: {exc}") from None
        self.stdout.write(self.outcome(config, state, now))
        if options.get("wait") is not None:
            self.wait(store, digest(text), options["wait"])

    def wait(self, store: Store, document: str, seconds: float) -> None:
        """Until the fleet confirms, or exit 1 naming who has not."""
        reports = reports_for(store)
        if reports is None:
            where = store.location.display
            raise CommandError(
                f"cannot confirm: processes cannot report beside {where} (the "
                f"directory is read-only, as a Kubernetes ConfigMap volume is); the "
                f"document is written, but nothing says every process follows it"
            )
        terminal = self.stdout.isatty()

        def show(line: str) -> None:
            self.stdout.write(f"\r{line}\033[K", ending="")
            self.stdout.flush()

        try:
            done = wait_for_fleet(
                reports, document, seconds, show if terminal else None
            )
        except FleetBehind as exc:
            if terminal:
                self.stdout.write("")
            raise CommandError(str(exc)) from None
        if terminal:
            self.stdout.write("\r\033[K", ending="")
        self.stdout.write(done)

    def processes(self, config: Config, as_json: bool) -> None:
        """What each process reports, the silent ones marked."""
        store = get_switch().store
        if store is None:
            raise CommandError(NO_SWITCH)
        reports = reports_for(store)
        if reports is None:
            raise CommandError(
                f"processes cannot report beside {store.location.display} (the "
                f"directory is read-only)"
            )
        try:
            rows = process_rows(reports.read_all(), schedule.clock())
        except StoreError as exc:
            raise CommandError(str(exc)) from None
        if as_json:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        for line in process_table(rows) or [f"No process reports to {reports.where}."]:
            self.stdout.write(line)

    def export(self, config: Config, directory: Path, nginx_root: str | None) -> None:
        """The page of the state in force (environment and switch), for the proxy
        to serve when the app cannot answer."""
        state = current_switch().state
        language = served_languages(config).fallback
        root = Path(nginx_root) if nginx_root else directory.resolve()
        if not root.is_absolute():
            raise CommandError(f"--nginx-root {nginx_root!r} must be an absolute path")
        try:
            directory.mkdir(parents=True, exist_ok=True)
            written = export_files(config, state, language, directory, root)
        except OSError as exc:
            raise CommandError(f"cannot write to {directory}: {exc}") from None
        for path in written:
            self.stdout.write(f"wrote {path}")
        self.stdout.write(
            "Include nginx-http.conf in nginx's http block and nginx-server.conf in "
            "the server block that proxies to the app: nginx then serves the page "
            "when the app cannot answer, and passes every other answer untouched."
        )

    def on_values(self, options: dict[str, Any], now: datetime) -> dict[str, str]:
        values = {}
        until = parse_until(options, now)
        if until is not None:
            if until <= now:
                raise CommandError(f"--until {until.isoformat()} is in the past")
            values["MAINTENANCE_ENDS_AT"] = until.isoformat()
        if options["read_only"]:
            values["MAINTENANCE_READ_ONLY"] = "1"
        if options["message"] is not None:
            values["MAINTENANCE_MESSAGE"] = options["message"]
        return values

    def outcome(self, config: Config, state: State, now: datetime) -> str:
        """What every process will serve, and by when."""
        assert config.switch is not None
        described = state.describe(now.timestamp())
        where = f"switch at {config.switch.display}{state.signed()}"
        # A reader reads every interval, and a read gives up within a second: the
        # bound holds for every process that can reach the store.
        every = (
            f"every process within {config.switch_interval_seconds + 1} s, once "
            f"the store is reachable"
        )
        if state.source == "environment":
            return (
                f"Control is back with the environment: maintenance {described} "
                f"there, in {every} ({where})."
            )
        ends = state.ends_at
        back = (
            f", expected back by {ends.isoformat()}"
            if ends and described == "on"
            else ""
        )
        mode = " (read-only: only writes are stopped)" if state.read_only else ""
        return f"Maintenance {described.upper()}{mode}{back}, in {every} ({where})."

    def explain(self, config: Config, state: str, address: str, as_json: bool) -> None:
        address = address.strip()
        key = address_key(address)
        if key is None:
            raise CommandError(f"{address!r} is not an IP address", returncode=2)
        network = config.allowed_networks.network_for(key)
        unix_socket = config.trusted_proxies.unix_socket
        if as_json:
            decision = {
                "address": address,
                "allowed": network is not None,
                "network": network,
                "state": state,
                "unix_socket_peers": "trusted proxy" if unix_socket else "blocked",
            }
            self.stdout.write(json.dumps(decision, indent=2))
        elif network is not None:
            self.stdout.write(
                f"{address} is allowed during maintenance, by {network}. "
                f"Maintenance is {state}."
            )
        else:
            self.stdout.write(
                f"{address} is blocked during maintenance: it is in no "
                f"allowlisted network. Maintenance is {state}."
            )
        if not as_json and not unix_socket:
            self.stdout.write(UNIX_SOCKET_NOTE)
        if network is None:
            raise SystemExit(1)
