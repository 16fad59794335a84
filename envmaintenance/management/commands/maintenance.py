"""``manage.py maintenance``: arguments and dispatch. The options are declared
and read in envmaintenance.cli; the actions that touch the switch live in
envmaintenance.operations and envmaintenance.issuing; the words in
envmaintenance.report and envmaintenance.summary."""

from __future__ import annotations

import contextlib
import json
import re
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from envmaintenance import history, issuing, operations, report, state
from envmaintenance.access import Gate
from envmaintenance.cli import (
    add_actions,
    command_store,
    host_cache,
    on_settings,
    parse_duration,
    signature,
)
from envmaintenance.conf import Config, ConfigError, get_config
from envmaintenance.control import look
from envmaintenance.export import export_files
from envmaintenance.fleet import read_fleet
from envmaintenance.languages import served_languages
from envmaintenance.stores import HISTORY_LENGTH, Store, StoreError
from envmaintenance.summary import explained, summarise, summary_lines
from envmaintenance.switch import Switch, get_switch

_MEMBER_ID = re.compile(r"[0-9a-f]{16}")


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
        if action in DISPATCH:
            getattr(self, DISPATCH[action])(config, options)
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
                seen = look(command_store(config), host_cache(config))
                store = operations.store_words(seen)
        summary = summarise(switch, state.clock(), store)
        if as_json:
            self.stdout.write(json.dumps(summary, indent=2))
            return
        for line in summary_lines(summary, switch.state, state.clock()):
            self.stdout.write(line)

    def say(self, line: str) -> None:
        self.stdout.write(line)

    def warn(self, line: str) -> None:
        self.stderr.write(line)

    def show(self, line: str) -> None:
        if self.stdout.isatty():
            self.stdout.write(f"\r{line}\033[K", ending="")
            self.stdout.flush()

    def switch_to(self, config: Config, action: str, options: dict[str, Any]) -> None:
        """Write the next revision every process will read, say what it does,
        and wait for the fleet when asked."""
        now = operations.now_utc()
        settings = {"off": {"MAINTENANCE_MODE": "0"}, "env": {}}.get(action)
        if settings is None:
            settings = on_settings(options, now)
        notes = signature(options, now)
        written, store = operations.switch(
            config, settings, notes, self, force=options["force"]
        )
        if options["wait"] is not None:
            forget_silent = options["forget_silent"]
            try:
                operations.wait(
                    config,
                    store,
                    written,
                    options["wait"],
                    self,
                    forget_silent=forget_silent,
                )
            finally:
                if self.stdout.isatty():
                    self.stdout.write("\r\033[K", ending="")

    def run(self, config: Config, options: dict[str, Any]) -> None:
        status = operations.run_wrapped(config, options, self)
        if status:
            raise SystemExit(status)

    def issue_pass(self, config: Config, options: dict[str, Any]) -> None:
        seconds = parse_duration("for", options["for"])
        by = signature({"by": options["by"], "reason": None}, operations.now_utc())
        store = None if config.switch is None else command_store(config)
        granted, token = issuing.issue(
            config, options["name"], seconds, by["SET_BY"], store
        )
        for line in report.pass_issued(
            granted, token, options["url"], store is not None
        ):
            self.stdout.write(line)

    def revoke(self, config: Config, options: dict[str, Any]) -> None:
        notes = signature({**options, "message": None}, operations.now_utc())
        for revoked in issuing.revoke(config, options["who"].strip(), notes):
            self.stdout.write(report.pass_revoked(revoked))

    def list_passes(self, config: Config, options: dict[str, Any]) -> None:
        try:
            found = issuing.issued(command_store(config))
        except StoreError as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            self.stdout.write(json.dumps([vars(p) for p in found], indent=2))
            return
        for line in report.pass_lines(found, time.time()):
            self.stdout.write(line)

    def show_history(self, config: Config, options: dict[str, Any]) -> None:
        count = max(1, min(options["n"], HISTORY_LENGTH))
        store = command_store(config)
        try:
            read = store.history.read(count)
            lost = store.read() is None and bool(look(store, None).highest)
        except StoreError as exc:
            raise CommandError(str(exc)) from None
        entries = [e for e in map(history.parse_entry, read) if e is not None]
        if options["json"]:
            self.stdout.write(json.dumps([vars(e) for e in entries], indent=2))
            return
        for line in report.history_lines(entries, len(read) - len(entries), lost):
            self.stdout.write(line)

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

    def export(self, config: Config, options: dict[str, Any]) -> None:
        """The page of the state in force (environment and switch), for the proxy
        to serve when the app cannot answer."""
        directory, nginx_root = Path(options["directory"]), options["nginx_root"]
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


# The actions that are a method of their own (on, off and env are one).
DISPATCH = {
    "run": "run",
    "processes": "processes",
    "history": "show_history",
    "pass": "issue_pass",
    "revoke": "revoke",
    "passes": "list_passes",
    "export": "export",
}
