"""``manage.py maintenance``: the configuration in force, or one address's fate."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from envmaintenance import schedule
from envmaintenance.conf import ConfigError, MaintenanceConfig, get_config
from envmaintenance.network import NetworkSet, address_key


def _networks(networks: NetworkSet) -> list[str]:
    return list(networks.cidrs)


def _moment(value: Any) -> str | None:
    return None if value is None else value.isoformat()


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
            self.explain(config, plan, now, options["ip"], as_json=options["json"])
        else:
            self.summarise(config, plan, now, as_json=options["json"])

    def summarise(
        self,
        config: MaintenanceConfig,
        plan: schedule.Schedule,
        now: float,
        *,
        as_json: bool,
    ) -> None:
        state = plan.describe(now)
        starts_at, ends_at = _moment(config.starts_at), _moment(config.ends_at)
        # What a blocked request gets now; the configured delay when none is.
        retry_after = (
            plan.retry_after_seconds(now)
            if plan.is_active(now)
            else config.retry_after_seconds
        )
        allowed = _networks(config.allowed_networks)
        trusted = _networks(config.trusted_proxies)
        exempt = list(config.exempt_paths.prefixes)
        if as_json:
            summary = {
                "state": state,
                "active": plan.is_active(now),
                "starts_at": starts_at,
                "ends_at": ends_at,
                "retry_after": retry_after,
                "allowed_networks": allowed,
                "trusted_proxies": trusted,
                "exempt_paths": exempt,
                "bypass_token_set": config.bypass_token is not None,
                "bypass_max_age": config.bypass_max_age_seconds,
                "message": config.message,
            }
            self.stdout.write(json.dumps(summary, indent=2))
            return
        window = f"{starts_at or 'now'} → {ends_at or 'no end set'}"
        bypass = (
            f"set (cookies last {config.bypass_max_age_seconds} s)"
            if config.bypass_token
            else "not set"
        )
        rows = [
            ("Maintenance", state),
            ("Window", window if starts_at or ends_at else "none"),
            ("Retry-After", f"{retry_after} s"),
            ("Allowed networks", ", ".join(allowed) or "none"),
            ("Trusted proxies", ", ".join(trusted) or "none"),
            ("Exempt paths", ", ".join(exempt) or "none"),
            ("Bypass token", bypass),
            ("Message", config.message),
        ]
        for label, value in rows:
            self.stdout.write(f"{label + ':':<18}{value}")

    def explain(
        self,
        config: MaintenanceConfig,
        plan: schedule.Schedule,
        now: float,
        address: str,
        *,
        as_json: bool,
    ) -> None:
        key = address_key(address.strip())
        if key is None:
            raise CommandError(f"{address!r} is not an IP address", returncode=2)
        network = config.allowed_networks.network_for(key)
        state = plan.describe(now)
        if as_json:
            decision = {
                "address": address.strip(),
                "allowed": network is not None,
                "network": None if network is None else str(network),
                "state": state,
            }
            self.stdout.write(json.dumps(decision, indent=2))
        elif network is not None:
            self.stdout.write(
                f"{address.strip()} is allowed during maintenance, by {network}. "
                f"Maintenance is {state}."
            )
        else:
            self.stdout.write(
                f"{address.strip()} is blocked during maintenance: it is in no "
                f"allowlisted network. Maintenance is {state}."
            )
        if network is None:
            raise SystemExit(1)
