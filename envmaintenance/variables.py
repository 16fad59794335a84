"""Every MAINTENANCE_* variable, one row each: everything the package knows about
it in one place, so that adding a variable is adding a row (and the Config or
State field it fills).

What derives from the rows: the parse loop of ``conf.load_config``, which
values hold lists, the fields of the environment's State, the error ids of
``manage.py check``, the configuration reference and the list of check ids of
the documentation, and what the switch document may set.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from envmaintenance import parsers
from envmaintenance.passes import parse_revocations
from envmaintenance.stores import parse_switch_url, redact_url


@dataclass(frozen=True, kw_only=True)
class Variable:
    """One variable (or one family of names), and every fact about it."""

    name: str
    # The Config field it fills, or the State field when `state` is set.
    field: str
    parse: Callable[[str], Any]
    check_id: str  # envmaintenance.Exxx: released ids are never reused
    invalid: str  # when check_id is reported, for the list of checks (Markdown)
    meaning: str  # Markdown, for the configuration reference
    example: str
    # Only where the code's default needs words (None that stands for something).
    default: str | None = None
    # Part of the State the environment declares (the mode, the window, the
    # message, read-only), which the switch may override; otherwise fixed Config.
    state: bool = False
    switchable: bool = False  # the runtime switch document may set it
    list_of_entries: bool = False  # a line break separates entries, as a comma
    # How an error quotes a raw value: a secret never appears.
    quote: Callable[[str], str] = repr
    # For a family of names (MAINTENANCE_MESSAGE_<LANG>): the names it reads.
    family: re.Pattern[str] | None = None


def _quote_secret(raw: str) -> str:
    return "the token"


def _quote_url(raw: str) -> str:
    return repr(redact_url(raw))


# MAINTENANCE_MESSAGE_DE, MAINTENANCE_MESSAGE_PT_BR: the message in one
# language, named after its code (upper-cased, "-" as "_").
MESSAGE_VARIANT = re.compile(
    r"MAINTENANCE_MESSAGE_([A-Za-z]{2,3}(?:_[A-Za-z0-9]{1,8})*)"
)

ROWS: tuple[Variable, ...] = (
    Variable(
        name="MAINTENANCE_MODE",
        field="enabled",
        parse=parsers.parse_bool,
        state=True,
        switchable=True,
        check_id="envmaintenance.E001",
        invalid="`MAINTENANCE_MODE` is invalid",
        meaning="`1/0`, `true/false`, `yes/no`, `on/off`, any case, surrounding spaces ignored; empty means off. Any other word is an error.",
        example="`1`",
    ),
    Variable(
        name="MAINTENANCE_ALLOWED_IPS",
        field="allowed_networks",
        parse=parsers.parse_networks,
        list_of_entries=True,
        check_id="envmaintenance.E002",
        invalid="`MAINTENANCE_ALLOWED_IPS` is invalid",
        meaning="IPv4/IPv6 addresses and CIDR blocks that keep access, separated by commas and/or whitespace. Written canonically: no leading zeros, shorthand, netmasks, zone ids or host bits.",
        example="`10.0.0.0/8, 2001:db8::/32`",
    ),
    Variable(
        name="MAINTENANCE_TRUSTED_PROXIES",
        field="trusted_proxies",
        parse=parsers.parse_trusted_proxies,
        list_of_entries=True,
        check_id="envmaintenance.E006",
        invalid="`MAINTENANCE_TRUSTED_PROXIES` is invalid",
        meaning="addresses and CIDR blocks of the reverse proxies in front of the app, in the same form as the allowlist, and the word `unix` for a proxy that talks to the app over a unix socket. Only with these set is `X-Forwarded-For` read; see [Behind a reverse proxy](proxies.md).",
        example="`172.18.0.0/16` or `unix`",
    ),
    Variable(
        name="MAINTENANCE_RETRY_AFTER",
        field="default_retry_after",
        state=True,
        parse=parsers.parse_retry_after,
        check_id="envmaintenance.E003",
        invalid="`MAINTENANCE_RETRY_AFTER` is invalid",
        meaning="seconds for `Retry-After`, a whole number from 1 to 604800 (one week: longer 503s make search engines drop pages; 0 would make clients retry at once)",
        example="`600`",
    ),
    Variable(
        name="MAINTENANCE_EXEMPT_PATHS",
        field="exempt_paths",
        parse=parsers.parse_path_prefixes,
        list_of_entries=True,
        check_id="envmaintenance.E004",
        invalid="`MAINTENANCE_EXEMPT_PATHS` is invalid (not a path, not normal, or holds characters a prefix never has)",
        meaning="path prefixes that are always served, each starting with `/`: literal prefixes, no wildcards, queries or percent-encoding. `/healthz` covers `/healthz` and `/healthz/...` but not `/healthzz`. A request is exempt only if its path is already normal (no empty, `.` or `..` segment), because Django routes the path as received: `/x/../healthz` and `//healthz` reach whatever view matches them and are judged like any other request.",
        example="`/healthz,/static/`",
    ),
    Variable(
        name="MAINTENANCE_STARTS_AT",
        field="starts_at",
        parse=parsers.parse_moment,
        state=True,
        switchable=True,
        check_id="envmaintenance.E007",
        invalid="`MAINTENANCE_STARTS_AT` is invalid or outside the years 2000 to 2999",
        meaning="start of a scheduled window: ISO 8601 date-time **with** offset, in the years 2000 to 2999; maintenance switches on by itself at that moment (inclusive), no restart needed",
        example="`2026-12-01T22:00:00Z`",
    ),
    Variable(
        name="MAINTENANCE_ENDS_AT",
        field="ends_at",
        parse=parsers.parse_moment,
        state=True,
        switchable=True,
        check_id="envmaintenance.E008",
        invalid="`MAINTENANCE_ENDS_AT` is invalid or not after `MAINTENANCE_STARTS_AT`",
        meaning='end of the window (exclusive), same form, after `MAINTENANCE_STARTS_AT`; with `MAINTENANCE_MODE=1` alone it means "on now, expected back at"',
        example="`2026-12-01T23:00:00+01:00`",
    ),
    Variable(
        name="MAINTENANCE_BYPASS_TOKEN",
        field="bypass_token",
        parse=parsers.parse_bypass_token,
        quote=_quote_secret,
        check_id="envmaintenance.E009",
        invalid="`MAINTENANCE_BYPASS_TOKEN` is too short or not URL-safe",
        meaning="secret for the bypass link, at least 16 URL-safe characters (`A-Z a-z 0-9 . _ ~ -`)",
        example='output of `python -c "import secrets; print(secrets.token_urlsafe(32))"`',
    ),
    Variable(
        name="MAINTENANCE_BYPASS_MAX_AGE",
        field="bypass_max_age_seconds",
        parse=parsers.parse_bypass_max_age,
        check_id="envmaintenance.E010",
        invalid="`MAINTENANCE_BYPASS_MAX_AGE` is invalid",
        meaning="lifetime of the bypass cookie in seconds, 1 to 2592000 (30 days)",
        example="`3600`",
    ),
    Variable(
        name="MAINTENANCE_READ_ONLY",
        field="read_only",
        parse=parsers.parse_bool,
        state=True,
        switchable=True,
        check_id="envmaintenance.E015",
        invalid="`MAINTENANCE_READ_ONLY` is not a switch word",
        meaning="same words as `MAINTENANCE_MODE`: while maintenance is active, only writes are stopped; `GET`, `HEAD` and `OPTIONS` pass for everyone. See [Read-only and partial maintenance](partial.md).",
        example="`1`",
    ),
    Variable(
        name="MAINTENANCE_PATHS",
        field="paths",
        parse=parsers.parse_scope,
        list_of_entries=True,
        state=True,
        switchable=True,
        check_id="envmaintenance.E016",
        invalid="`MAINTENANCE_PATHS` is invalid (written like `MAINTENANCE_EXEMPT_PATHS`)",
        meaning="path prefixes, written like `MAINTENANCE_EXEMPT_PATHS`: when set, maintenance applies only to paths that start with one of them (a trailing slash marks a segment boundary; a language prefix of `i18n_patterns` counts too; see [Partial](partial.md)), and everything else is served as usual. The switch may set it (`maintenance on --paths`)",
        example="`/checkout,/api/payments`",
    ),
    Variable(
        name="MAINTENANCE_HOSTS",
        field="hosts",
        parse=parsers.parse_hosts,
        list_of_entries=True,
        state=True,
        switchable=True,
        check_id="envmaintenance.E022",
        invalid="`MAINTENANCE_HOSTS` holds something that is not a host name (a port, a wildcard)",
        meaning="host names as `ALLOWED_HOSTS` writes them (`shop.example.com`, or `.example.com` for a domain and its subdomains), compared with the request's host without its port, in any case; when set, maintenance applies only to those hosts (a request whose host cannot be told is inside). Combined with `MAINTENANCE_PATHS`, both must match. The switch may set it (`maintenance on --hosts`)",
        example="`shop.example.com,.tenants.example.com`",
    ),
    Variable(
        name="MAINTENANCE_REVOKED_PASSES",
        field="revoked_passes",
        parse=parse_revocations,
        list_of_entries=True,
        state=True,
        switchable=True,
        check_id="envmaintenance.E024",
        invalid="`MAINTENANCE_REVOKED_PASSES` holds an entry that is not `id:expiry`",
        meaning="staff passes no longer valid, as `manage.py maintenance revoke` writes them into the switch (`id:expiry`, separated by commas): revoking only closes a way in, so the switch carries it; an entry whose pass has expired is dropped at the next write. See [Staff passes](passes.md)",
        example="`3f2a9c1b:1796169600`",
    ),
    Variable(
        name="MAINTENANCE_SWITCH_HOOK",
        field="switch_hook",
        parse=parsers.parse_command,
        check_id="envmaintenance.E025",
        invalid="`MAINTENANCE_SWITCH_HOOK` is not a command line (unbalanced quotes)",
        meaning="a command the process that writes the switch runs after each event (a write, a confirmed or failed wait), with the event, revision, state, scope, end, who and why in its environment (`ENVMAINTENANCE_EVENT`, …); at most 30 s, and its failure never undoes the switch. Never set by the switch. See [Events](events.md)",
        example="`/srv/hooks/notify-chat`",
    ),
    Variable(
        name="MAINTENANCE_PAGE_RELOAD",
        field="page_reload",
        parse=parsers.parse_bool,
        check_id="envmaintenance.E026",
        invalid="`MAINTENANCE_PAGE_RELOAD` is not a switch word",
        meaning="same words as `MAINTENANCE_MODE`, on by default: the page reloads itself when maintenance ends, asking the status endpoint every few seconds (then less often) where `MAINTENANCE_STATUS_PATH` is set, else after `Retry-After` (a refresh without JavaScript); `0` for sites that do not want it",
        example="`0`",
        default="`1`",
    ),
    Variable(
        name="MAINTENANCE_JSON_PATHS",
        field="json_paths",
        parse=parsers.parse_path_prefixes,
        list_of_entries=True,
        check_id="envmaintenance.E023",
        invalid="`MAINTENANCE_JSON_PATHS` is invalid (written like `MAINTENANCE_EXEMPT_PATHS`)",
        meaning="path prefixes, written like `MAINTENANCE_EXEMPT_PATHS`, under which the 503 is `application/problem+json` whatever `Accept` says (API clients that send `*/*` or nothing); elsewhere the body follows `Accept`",
        example="`/api/`",
    ),
    Variable(
        name="MAINTENANCE_STATUS_PATH",
        field="status_path",
        parse=parsers.parse_status_path,
        check_id="envmaintenance.E017",
        invalid="`MAINTENANCE_STATUS_PATH` is not one normal path",
        meaning="a path the middleware answers itself, for everyone, on or off, with the state as JSON; see [Monitors and status pages](monitoring.md)",
        example="`/maintenance.json`",
    ),
    Variable(
        name="MAINTENANCE_SWITCH_URL",
        field="switch",
        parse=parse_switch_url,
        quote=_quote_url,
        check_id="envmaintenance.E012",
        invalid="`MAINTENANCE_SWITCH_URL` is invalid (scheme, path, directory, host, port, database), or a Redis URL without the `redis` client installed",
        meaning="where the shared [runtime switch](switch.md) lives: `file:///absolute/path` (the directory must exist; the file may not, yet), one Redis server `redis://[user:password@]host[:port][/db]`, the primary a set of sentinels name `redis+sentinel://[user:password@]host:port[,host:port…]/service[/db]`, or a cluster `redis+cluster://[user:password@]host:port[,host:port…]`; `rediss://`, `rediss+sentinel://` and `rediss+cluster://` speak TLS, with the options `ssl_ca_certs`, `ssl_certfile`, `ssl_keyfile` (absolute paths to files) and `ssl_cert_reqs` (`required`, the default, also checks the host name; `optional`; `none`) in the query; `sentinel_username` and `sentinel_password` when the sentinels have credentials of their own (see [Sentinel, Cluster, TLS](switch.md#sentinel-cluster-tls); Redis needs `pip install 'django-envmaintenance[redis]'`). Reads always go to the primary. Wherever a URL is shown (logs, `manage.py check`, `manage.py maintenance`, start-up errors), everything between `//` and the last `@`, and any query, is shown as `***`, whether the URL parses or not. Percent-encode a password's `/`, `?` and `#` (`%2F`, `%3F`, `%23`), or start-up stops saying so.",
        example="`redis://redis:6379/0`",
    ),
    Variable(
        name="MAINTENANCE_SWITCH_INTERVAL",
        field="switch_interval_seconds",
        parse=parsers.parse_switch_interval,
        check_id="envmaintenance.E013",
        invalid="`MAINTENANCE_SWITCH_INTERVAL` is not a whole number from 1 to 60",
        meaning="seconds between two reads of the switch by one process, 1 to 60",
        example="`5`",
    ),
    Variable(
        name="MAINTENANCE_SWITCH_FORGET_AFTER",
        field="switch_forget_after_seconds",
        parse=parsers.parse_switch_forget_after,
        check_id="envmaintenance.E021",
        invalid="`MAINTENANCE_SWITCH_FORGET_AFTER` is not a whole number of seconds, is less than ten times `MAINTENANCE_SWITCH_INTERVAL`, or is more than 2592000 (30 days)",
        meaning="seconds after which a process that stopped reporting (a container that was removed without a clean exit) is no longer waited for; at least ten intervals",
        example="`600`",
    ),
    Variable(
        name="MAINTENANCE_SWITCH_KEY",
        field="switch_key",
        parse=parsers.parse_switch_key,
        check_id="envmaintenance.E014",
        invalid="`MAINTENANCE_SWITCH_KEY` is empty, too long or holds spaces",
        meaning="the Redis key, so several sites can share one Redis",
        example="`envmaintenance:shop`",
    ),
    Variable(
        name="MAINTENANCE_SWITCH_CACHE",
        field="switch_cache",
        parse=parsers.parse_switch_cache,
        check_id="envmaintenance.E019",
        invalid="`MAINTENANCE_SWITCH_CACHE` is not an absolute path to a file, is an existing directory, or its directory does not exist",
        meaning="where each process keeps the last good switch document, for a process that starts while the store cannot be read (an absolute path to a file, not a directory; its directory must exist)",
        example="`/var/cache/envmaintenance/switch.json`",
        default="a private directory of this user under the system's temporary directory (`<temp dir>/envmaintenance-<uid>/`, mode 0700), one file per switch",
    ),
    Variable(
        name="MAINTENANCE_SWITCH_UNREADABLE",
        field="switch_unreadable",
        parse=parsers.parse_switch_unreadable,
        check_id="envmaintenance.E020",
        invalid="`MAINTENANCE_SWITCH_UNREADABLE` is neither `environment` nor `on`",
        meaning="what a process follows when it starts with neither store nor cache: `environment`, or `on` (maintenance on until the store answers: for sites that would rather show the page than risk writes during a migration)",
        example="`on`",
    ),
    Variable(
        name="MAINTENANCE_MESSAGE",
        field="message",
        parse=parsers.parse_message,
        state=True,
        switchable=True,
        check_id="envmaintenance.E005",
        invalid="`MAINTENANCE_MESSAGE` refers to a variable that is not set, or is not UTF-8 text",
        meaning="text shown to blocked clients (HTML-escaped on the page, `detail` in JSON), as written, in every language; empty means the default, which is [translated](languages.md)",
        example="`Upgrading the database until 23:00 UTC.`",
    ),
    Variable(
        name="MAINTENANCE_MESSAGE_<LANG>",
        family=MESSAGE_VARIANT,
        field="messages",
        parse=parsers.parse_text,
        check_id="envmaintenance.E018",
        invalid="a `MAINTENANCE_MESSAGE_<LANG>` names a language the site does not serve, two name the same language, or one is not valid text",
        meaning="the message in one language the site serves, named after its code, upper-cased with `_` for `-`: `MAINTENANCE_MESSAGE_DE`, `MAINTENANCE_MESSAGE_PT_BR`, `MAINTENANCE_MESSAGE_ZH_HANS`. A generic one (`_ES`) also covers its regional languages (`es-ar`). A language the site does not serve stops start-up, naming the variable.",
        example="`MAINTENANCE_MESSAGE_DE=Wir aktualisieren die Datenbank bis 23:00 UTC.`",
        default="none",
    ),
)

# Rows of one name each, by name and by the field they fill.
NAMED: Mapping[str, Variable] = MappingProxyType(
    {row.name: row for row in ROWS if row.family is None}
)
FIELDS: Mapping[str, Variable] = MappingProxyType(
    {row.field: row for row in NAMED.values()}
)
MESSAGE_VARIANTS = next(row for row in ROWS if row.field == "messages")
# The State the environment declares is built from these fields.
STATE_FIELDS = tuple(row.field for row in NAMED.values() if row.state)


def row_for(name: str) -> Variable | None:
    """The row that reads this name (its own, or its family's), or None."""
    if name in NAMED:
        return NAMED[name]
    families = (row for row in ROWS if row.family and row.family.fullmatch(name))
    return next(families, None)
