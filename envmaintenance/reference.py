"""What each variable means, in words: the configuration reference of the
documentation is generated from this table, ``conf.VARIABLES`` (names and
parsers) and the defaults of ``Config`` and ``State``, so it cannot drift; a test
fails when a variable has no entry here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Documented:
    meaning: str  # Markdown, for the documentation
    example: str
    # Only where the code's default (None) stands for something computed.
    default: str | None = None


VARIABLE_DOCS: dict[str, Documented] = {
    "MAINTENANCE_MODE": Documented(
        "`1/0`, `true/false`, `yes/no`, `on/off`, any case, surrounding spaces ignored; empty means off. Any other word is an error.",
        "`1`",
    ),
    "MAINTENANCE_ALLOWED_IPS": Documented(
        "IPv4/IPv6 addresses and CIDR blocks that keep access, separated by commas and/or whitespace. Written canonically: no leading zeros, shorthand, netmasks, zone ids or host bits.",
        "`10.0.0.0/8, 2001:db8::/32`",
    ),
    "MAINTENANCE_TRUSTED_PROXIES": Documented(
        "addresses and CIDR blocks of the reverse proxies in front of the app, in the same form as the allowlist, and the word `unix` for a proxy that talks to the app over a unix socket. Only with these set is `X-Forwarded-For` read; see [Behind a reverse proxy](proxies.md).",
        "`172.18.0.0/16` or `unix`",
    ),
    "MAINTENANCE_RETRY_AFTER": Documented(
        "seconds for `Retry-After`, a whole number from 1 to 604800 (one week: longer 503s make search engines drop pages; 0 would make clients retry at once)",
        "`600`",
    ),
    "MAINTENANCE_EXEMPT_PATHS": Documented(
        "path prefixes that are always served, each starting with `/`: literal prefixes, no wildcards, queries or percent-encoding. `/healthz` covers `/healthz` and `/healthz/...` but not `/healthzz`. A request is exempt only if its path is already normal (no empty, `.` or `..` segment), because Django routes the path as received: `/x/../healthz` and `//healthz` reach whatever view matches them and are judged like any other request.",
        "`/healthz,/static/`",
    ),
    "MAINTENANCE_STARTS_AT": Documented(
        "start of a scheduled window: ISO 8601 date-time **with** offset, in the years 2000 to 2999; maintenance switches on by itself at that moment (inclusive), no restart needed",
        "`2026-12-01T22:00:00Z`",
    ),
    "MAINTENANCE_ENDS_AT": Documented(
        'end of the window (exclusive), same form, after `MAINTENANCE_STARTS_AT`; with `MAINTENANCE_MODE=1` alone it means "on now, expected back at"',
        "`2026-12-01T23:00:00+01:00`",
    ),
    "MAINTENANCE_BYPASS_TOKEN": Documented(
        "secret for the bypass link, at least 16 URL-safe characters (`A-Z a-z 0-9 . _ ~ -`)",
        'output of `python -c "import secrets; print(secrets.token_urlsafe(32))"`',
    ),
    "MAINTENANCE_BYPASS_MAX_AGE": Documented(
        "lifetime of the bypass cookie in seconds, 1 to 2592000 (30 days)",
        "`3600`",
    ),
    "MAINTENANCE_READ_ONLY": Documented(
        "same words as `MAINTENANCE_MODE`: while maintenance is active, only writes are stopped; `GET`, `HEAD` and `OPTIONS` pass for everyone. See [Read-only and partial maintenance](partial.md).",
        "`1`",
    ),
    "MAINTENANCE_PATHS": Documented(
        "path prefixes, written like `MAINTENANCE_EXEMPT_PATHS`: when set, maintenance applies only to paths that start with one of them (a trailing slash marks a segment boundary; see [Partial](partial.md)), and everything else is served as usual",
        "`/checkout,/api/payments`",
    ),
    "MAINTENANCE_STATUS_PATH": Documented(
        "a path the middleware answers itself, for everyone, on or off, with the state as JSON; see [Monitors and status pages](monitoring.md)",
        "`/maintenance.json`",
    ),
    "MAINTENANCE_SWITCH_URL": Documented(
        "where the shared [runtime switch](switch.md) lives: `file:///absolute/path` (the directory must exist; the file may not, yet) or `redis://[user:password@]host[:port][/db]` / `rediss://…` (needs `pip install 'django-envmaintenance[redis]'`). Wherever a URL is shown (logs, `manage.py check`, `manage.py maintenance`, start-up errors), everything between `//` and the last `@`, and any query, is shown as `***`, whether the URL parses or not. Percent-encode a password's `/`, `?` and `#` (`%2F`, `%3F`, `%23`), or start-up stops saying so.",
        "`redis://redis:6379/0`",
    ),
    "MAINTENANCE_SWITCH_INTERVAL": Documented(
        "seconds between two reads of the switch by one process, 1 to 60",
        "`5`",
    ),
    "MAINTENANCE_SWITCH_KEY": Documented(
        "the Redis key, so several sites can share one Redis",
        "`envmaintenance:shop`",
    ),
    "MAINTENANCE_SWITCH_CACHE": Documented(
        "where each process keeps the last good switch document, for a process that starts while the store cannot be read (an absolute path; its directory must exist)",
        "`/var/cache/envmaintenance/switch.json`",
        default="a file in the system's temporary directory named after the switch",
    ),
    "MAINTENANCE_SWITCH_UNREADABLE": Documented(
        "what a process follows when it starts with neither store nor cache: `environment`, or `on` (maintenance on until the store answers: for sites that would rather show the page than risk writes during a migration)",
        "`on`",
    ),
    "MAINTENANCE_MESSAGE": Documented(
        "text shown to blocked clients (HTML-escaped on the page, `detail` in JSON), as written, in every language; empty means the default, which is [translated](languages.md)",
        "`Upgrading the database until 23:00 UTC.`",
    ),
    "MAINTENANCE_MESSAGE_<LANG>": Documented(
        "the message in one language the site serves, named after its code, upper-cased with `_` for `-`: `MAINTENANCE_MESSAGE_DE`, `MAINTENANCE_MESSAGE_PT_BR`, `MAINTENANCE_MESSAGE_ZH_HANS`. A generic one (`_ES`) also covers its regional languages (`es-ar`). A language the site does not serve stops start-up, naming the variable.",
        "`MAINTENANCE_MESSAGE_DE=Wir aktualisieren die Datenbank bis 23:00 UTC.`",
        default="none",
    ),
}
