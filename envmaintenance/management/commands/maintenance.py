"""``manage.py maintenance``: the configuration in force, or one address's fate."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from envmaintenance import schedule
from envmaintenance.conf import ConfigError, MaintenanceConfig, get_config
from envmaintenance.network import address_key

UNIX_SOCKET_NOTE = (
    "Requests that reach the app over a unix socket have no address: they are "
    "blocked unless MAINTENANCE_TRUSTED_PROXIES includes 'unix'."
)


def _moment(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def summarise(
    config: MaintenanceConfig, plan: schedule.Schedule, now: float
) -> dict[str, Any]:
    """The configuration in force, as --json prints it (never the token)."""
    active = plan.is_active(now)
    return {
        "state": plan.describe(now),
        "active": active,
        "starts_at": _moment(config.starts_at),
        "ends_at": _moment(config.ends_at),
        # What a blocked request gets now; the configured delay when none is.
        "retry_after": (
            plan.retry_after_seconds(now) if active else config.retry_after_seconds
        ),
        "allowed_networks": list(config.allowed_networks.cidrs),
        "trusted_proxies": config.trusted_proxies.entries(),
        "exempt_paths": list(config.exempt_paths.prefixes),
        "bypass_token_set": config.bypass_token is not None,
        "bypass_max_age": config.bypass_max_age_seconds,
        "message": config.message,
    }


def summary_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """The same summary as label/value lines for a person."""
    starts_at, ends_at = summary["starts_at"], summary["ends_at"]
    window = f"{starts_at or 'now'} → {ends_at or 'no end set'}"
    bypass = (
        f"set (cookies last {summary['bypass_max_age']} s)"
        if summary["bypass_token_set"]
        else "not set"
    )
    return [
        ("Maintenance", summary["state"]),
        ("Window", window if starts_at or ends_at else "none"),
        ("Retry-After", f"{summary['retry_after']} s"),
        ("Allowed networks", ", ".join(summary["allowed_networks"]) or "none"),
        ("Trusted proxies", ", ".join(summary["trusted_proxies"]) or "none"),
        ("Exempt paths", ", ".join(summary["exempt_paths"]) or "none"),
        ("Bypass token", bypass),
        ("Message", summary["message"]),
    ]


class Command(BaseCommand):
    help = (
        "Show the maintenance configuration in force. With --ip, explain whether "
        "that address keeps access during maintenance (exit status 0) or not (1)."
    )
    # Configuration errors are reported below as one clear line each.
    requires_system_checks = ()

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print JSON")
        parser.add_argument("--ip", metavar="ADDRESS", help="explain this address")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            config = get_config()
        except ConfigError as exc:
            raise CommandError(f"invalid maintenance configuration:\n{exc}") from None
        now = schedule.clock()
        plan = schedule.Schedule(config)
        if options["ip"] is not None:
            self.explain(config, plan.describe(now), options["ip"], options["json"])
            return
        summary = summarise(config, plan, now)
        if options["json"]:
            self.stdout.write(json.dumps(summary, indent=2))
            return
        for label, value in summary_rows(summary):
            self.stdout.write(f"{label + ':':<18}{value}")

    def explain(
        self, config: MaintenanceConfig, state: str, address: str, as_json: bool
    ) -> None:
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
