"""What the command reads out, changing nothing: the state in force, one
address's fate, the fleet, the history, and the edge files."""

from __future__ import annotations

import contextlib
import json
import re
import time
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from envmaintenance import fleet_words, history, report, state
from envmaintenance.access import Gate
from envmaintenance.cli import command_store, host_cache
from envmaintenance.conf import Config
from envmaintenance.control import look
from envmaintenance.export import export_files
from envmaintenance.fleet import read_fleet
from envmaintenance.languages import served_languages
from envmaintenance.operations import Out, store_words
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


def status(config: Config, options: dict[str, Any], out: Out) -> None:
    """The state in force, the settings and the switch (--json: as the status
    endpoint shows a state)."""
    as_json = options["json"]
    switch = current_switch()
    store = None
    # When the store cannot be read, the switch's own row says so.
    if config.switch is not None:
        with contextlib.suppress(StoreError):
            seen = look(command_store(config), host_cache(config))
            store = store_words(seen)
    summary = summarise(switch, state.clock(), store)
    if as_json:
        out.say(json.dumps(summary, indent=2))
        return
    for line in summary_lines(summary, switch.state, state.clock()):
        out.say(line)


def explain(config: Config, options: dict[str, Any], out: Out) -> None:
    """Whether one address keeps access, as the middleware's gate decides."""
    address, as_json = options["ip"].strip(), options["json"]
    try:
        network = Gate(config).network_for(address)
    except ValueError as exc:
        raise CommandError(str(exc), returncode=2) from None
    described = current_switch().state.describe(state.clock())
    unix_socket = config.trusted_proxies.unix_socket
    for line in explained(address, network, described, unix_socket, as_json):
        out.say(line)
    if network is None:
        raise SystemExit(1)


def processes(config: Config, options: dict[str, Any], out: Out) -> None:
    """What each member reports, the silent ones marked; or forget one."""
    store = command_store(config)
    try:
        if options["forget"] is not None:
            forget(store, options["forget"].strip(), out)
            return
        now = time.time()
        fleet = read_fleet(store.members, now, config.switch_forget_after_seconds)
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    rows = fleet_words.process_rows(fleet.reports, now)
    if options["json"]:
        listing = {"processes": rows, "unreadable": fleet.unreadable}
        out.say(json.dumps(listing, indent=2))
        return
    for line in fleet_words.process_lines(rows, fleet.unreadable, store.members.where):
        out.say(line)


def forget(store: Store, member_id: str, out: Out) -> None:
    if not _MEMBER_ID.fullmatch(member_id):
        raise CommandError(
            f"{member_id!r} is not a process id; 'manage.py maintenance "
            f"processes' shows each one's id (16 hexadecimal digits)"
        )
    store.members.forget([member_id])
    out.say(f"Forgot process {member_id}: no wait waits for it until it reports again.")


def show_history(config: Config, options: dict[str, Any], out: Out) -> None:
    """Who switched what, when and why, newest first."""
    count = max(1, min(options["n"], HISTORY_LENGTH))
    store = command_store(config)
    try:
        read = store.history.read(count)
        lost = store.read() is None and bool(look(store, None).highest)
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    entries = [e for e in map(history.parse_entry, read) if e is not None]
    if options["json"]:
        out.say(json.dumps([vars(e) for e in entries], indent=2))
        return
    for line in report.history_lines(entries, len(read) - len(entries), lost):
        out.say(line)


def export(config: Config, options: dict[str, Any], out: Out) -> None:
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
        out.say(line)
