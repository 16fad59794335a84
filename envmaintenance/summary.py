"""What `manage.py maintenance` says of the state in force: the summary (and its
JSON), and what `--ip` says of one address."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.utils.dateparse import parse_datetime

from envmaintenance.report import moment

if TYPE_CHECKING:
    from envmaintenance.conf import Config
    from envmaintenance.state import State
    from envmaintenance.switch import Switch


def settings(config: Config) -> dict[str, Any]:
    """What is fixed for the process, as --json prints it (never the token)."""
    return {
        "allowed_networks": list(config.allowed_networks.cidrs),
        "trusted_proxies": config.trusted_proxies.entries(),
        "exempt_paths": list(config.exempt_paths.prefixes),
        "json_paths": list(config.json_paths.prefixes),
        "status_path": config.status_path,
        "bypass_token_set": config.bypass_token is not None,
        "bypass_max_age": config.bypass_max_age_seconds,
        "messages": dict(config.messages),
    }


def summarise(
    switch: Switch, now: float, store: dict[str, Any] | None
) -> dict[str, Any]:
    """The state in force in the one JSON shape of a state, and beside it the
    settings, the environment's own state and the switch (``store``: what the
    store and the fleet hold, when they could be read)."""
    config = switch.config
    return {
        **switch.state.as_json(now),
        "settings": settings(config),
        "environment": config.environment.as_json(now),
        "switch": None if switch.store is None else _switch(switch, store),
    }


def _switch(switch: Switch, store: dict[str, Any] | None) -> dict[str, Any]:
    notes, rejected = switch.state.notes, switch.follower.rejected
    return {
        "url": switch.display,
        "interval": switch.interval,
        "revision": switch.state.revision,
        "document": switch.follower.text,
        "set_by": notes.get("SET_BY"),
        "set_at": notes.get("SET_AT"),
        "reason": notes.get("REASON"),
        "last_read_at": moment(switch.last_read_at),
        "stale_since": moment(switch.stale_since),
        "error": switch.follower.trouble,
        "rejected": None if rejected is None else vars(rejected),
        "store": store,
    }


def summary_lines(summary: dict[str, Any], state: State, now: float) -> list[str]:
    """The same summary as label/value lines for a person."""
    rows = _state_rows(summary, state) + _switch_rows(summary["switch"], summary)
    warning = long_running(state, now)
    if warning is not None:
        rows.insert(1, ("WARNING", warning))
    return [f"{label + ':':<18}{value}" for label, value in rows]


def long_running(state: State, now: float) -> str | None:
    """A maintenance on for more than a day: search engines treat a long 503 as
    a site gone. Since the window's start, or the switch's SET_AT."""
    try:  # SET_AT is a note: written by hand, it may be anything
        since = state.starts_at or parse_datetime(state.notes.get("SET_AT", ""))
    except ValueError:
        since = None
    if since is None or since.utcoffset() is None or not state.is_active(now):
        return None
    days = (now - since.timestamp()) / 86400
    if days <= 1:
        return None
    return (
        f"maintenance has been on for {days:.1f} days (since {since.isoformat()}): "
        f"search engines treat a 503 that lasts days as a site gone, and drop its "
        f"pages"
    )


def _state_rows(summary: dict[str, Any], state: State) -> list[tuple[str, str]]:
    settings = summary["settings"]
    read_only = ", read-only: only writes are stopped" if summary["read_only"] else ""
    revision = f", revision {summary['revision']}" if summary["revision"] else ""
    if summary["overdue"]:
        read_only += (
            f", OVERDUE since {summary['overdue_since']}: taking longer than expected"
        )
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
            f"{summary['state']}{read_only} "
            f"(decided by the {summary['source']}{revision})",
        ),
        ("Applies to", applies_to(summary)),
        ("Window", state.window() or "none"),
        ("Retry-After", retry_after),
        ("Allowed networks", ", ".join(settings["allowed_networks"]) or "none"),
        ("Trusted proxies", ", ".join(settings["trusted_proxies"]) or "none"),
        ("Exempt paths", ", ".join(settings["exempt_paths"]) or "none"),
        ("JSON paths", ", ".join(settings["json_paths"]) or "none"),
        ("Status path", settings["status_path"] or "none"),
        ("Bypass token", bypass),
        ("Message", summary["message"]),
        *[(f"Message ({code})", text) for code, text in settings["messages"].items()],
    ]


def applies_to(fields: dict[str, Any]) -> str:
    """The scope of a state's JSON in words."""
    paths, hosts = ", ".join(fields["paths"]), ", ".join(fields["hosts"])
    if paths and hosts:
        return f"{paths} of {hosts}"
    return paths or (f"every path of {hosts}" if hosts else "the whole site")


def _switch_rows(
    switch: dict[str, Any] | None, summary: dict[str, Any]
) -> list[tuple[str, str]]:
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
        else " / ".join(switch["document"].splitlines())
    )
    read = (
        f"failed: {switch['error']} (since {switch['stale_since']})"
        if switch["error"] and switch["stale_since"]
        else f"ok at {switch['last_read_at']}"
    )
    rejected = switch["rejected"]
    return [
        ("Environment", summary["environment"]["state"]),
        ("Switch", f"{switch['url']}, read every {switch['interval']} s"),
        ("Revision", _store_words(switch)),
        ("Switch document", document),
        *([("Switched", signed)] if signed else []),
        *(
            [("Rejected", f"revision {rejected['revision']}: {rejected['error']}")]
            if rejected
            else []
        ),
        ("Last read", read),
    ]


def _store_words(switch: dict[str, Any]) -> str:
    """The revision in force, and what the store and the fleet say of it."""
    held = switch["revision"] or "none (no document)"
    store = switch["store"]
    if store is None:
        return f"{held} (the store and the fleet could not be read)"
    following = f"; the next write is revision {store['next']}"
    if store["lost"]:
        return (
            f"{held}: the store has LOST its document (flushed, evicted or failed "
            f"over?); revision {store['highest']} was written{following}"
        )
    if store["went_back"]:
        return (
            f"{held}: the store WENT BACK to revision {store['revision']}; "
            f"revision {store['highest']} was written{following}"
        )
    return f"{held}"


UNIX_SOCKET_NOTE = (
    "Requests that reach the app over a unix socket have no address: they are "
    "blocked unless MAINTENANCE_TRUSTED_PROXIES includes 'unix'."
)


def explained(
    address: str, network: str | None, described: str, unix_socket: bool, as_json: bool
) -> list[str]:
    """What `--ip` says of one address."""
    if as_json:
        decision = {
            "address": address,
            "allowed": network is not None,
            "network": network,
            "state": described,
            "unix_socket_peers": "trusted proxy" if unix_socket else "blocked",
        }
        return [json.dumps(decision, indent=2)]
    if network is not None:
        lines = [
            f"{address} is allowed during maintenance, by {network}. "
            f"Maintenance is {described}."
        ]
    else:
        lines = [
            f"{address} is blocked during maintenance: it is in no allowlisted "
            f"network. Maintenance is {described}."
        ]
    return lines if unix_socket else [*lines, UNIX_SOCKET_NOTE]
