"""``manage.py maintenance``: arguments and dispatch. The options are declared
and read in envmaintenance.cli; what the actions do lives in
envmaintenance.operations (writing the switch, waiting, run),
envmaintenance.issuing (staff passes) and envmaintenance.readouts (the rest); the
words in envmaintenance.report and envmaintenance.summary."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from envmaintenance import issuing, operations, readouts
from envmaintenance.cli import add_actions
from envmaintenance.conf import Config, ConfigError, get_config
from envmaintenance.operations import Out

Action = Callable[[Config, dict[str, Any], Out], None]

# Each action, by name; none: the status, or --ip.
ACTIONS: dict[str | None, Action] = {
    "on": operations.switch_command,
    "off": operations.switch_command,
    "env": operations.switch_command,
    "run": operations.run_command,
    "guard": operations.guard_command,
    "processes": readouts.processes,
    "history": readouts.show_history,
    "pass": issuing.issue_command,
    "revoke": issuing.revoke_command,
    "passes": issuing.passes_command,
    "export": readouts.export,
    None: readouts.status,
}


class Command(BaseCommand):
    help = (
        "Show the maintenance state in force. With --ip, explain whether that "
        "address keeps access during maintenance (exit status 0) or not (1). "
        "'on', 'off' and 'env' set the runtime switch for every process; 'run' "
        "wraps a command in maintenance."
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
        if action is None and options["ip"] is not None:
            readouts.explain(config, options, self)
            return
        try:
            ACTIONS[action](config, options, self)
        finally:
            if self.stdout.isatty():
                self.stdout.write("\r\033[K", ending="")  # a progress line ends

    def say(self, line: str) -> None:
        self.stdout.write(line)

    def warn(self, line: str) -> None:
        self.stderr.write(line)

    def show(self, line: str) -> None:
        if self.stdout.isatty():
            self.stdout.write(f"\r{line}\033[K", ending="")
            self.stdout.flush()
