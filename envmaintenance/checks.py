"""System checks: the same parsers as start-up, reported by ``manage.py check``."""

from __future__ import annotations

import os
from typing import Any

import netaddr
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.core.exceptions import ImproperlyConfigured

from envmaintenance import state as clock_source
from envmaintenance.conf import (
    Config,
    ConfigError,
    describe_unknown,
    get_config,
    unknown_variables,
)
from envmaintenance.languages import served_languages
from envmaintenance.responses import render_page
from envmaintenance.variables import ROWS, row_for

MIDDLEWARE_PATH = "envmaintenance.middleware.MaintenanceMiddleware"

TEMPLATE_ERROR_ID = "envmaintenance.E011"

# The checks that are not about one variable, and when they are reported; each
# variable's own error id, and when it is reported, are in its row (variables.py).
OTHER_CHECKS = {
    "envmaintenance.E011": "the template `envmaintenance/maintenance.html` fails to render (in any language served; the message names it)",
    "envmaintenance.W001": "the allowlist lets every address in (`0.0.0.0/0`, `::/0`)",
    "envmaintenance.W002": "the middleware is not in `MIDDLEWARE`",
    "envmaintenance.W003": "the middleware comes after session or authentication middleware, which may query the database",
    "envmaintenance.W004": "an allowlisted network contains a trusted proxy, so requests reaching the app through it without `X-Forwarded-For` would be let in",
    "envmaintenance.W005": "the trusted proxies include every address, so any client could claim any address",
    "envmaintenance.W006": "`MAINTENANCE_ENDS_AT` is set without `MAINTENANCE_MODE` or `MAINTENANCE_STARTS_AT`, so it has no effect",
    "envmaintenance.W007": "`MAINTENANCE_EXEMPT_PATHS` includes `/`, which exempts every path",
    "envmaintenance.W008": "a `MAINTENANCE_*` variable the package does not read, or a near-miss of the prefix (`MAINTAINANCE_MODE`); names the closest known variable",
    "envmaintenance.W009": "`MAINTENANCE_MODE=1` with a window that has not started: maintenance is on now",
    "envmaintenance.W010": "the window from `MAINTENANCE_STARTS_AT` to `MAINTENANCE_ENDS_AT` is already over",
    "envmaintenance.W011": "django-cors-headers' `CorsMiddleware` comes after the maintenance middleware, so the 503 has no CORS headers",
}

# Every check this package reports, by id: the documentation's list of check ids
# is generated from it, and a test fails for an id used but not listed.
CHECKS: dict[str, str] = dict(
    sorted({**{row.check_id: row.invalid for row in ROWS}, **OTHER_CHECKS}.items())
)

W001 = Warning(
    "MAINTENANCE_ALLOWED_IPS lets every address in, so maintenance blocks nobody.",
    hint="List only the networks that must keep access, not 0.0.0.0/0 or ::/0.",
    id="envmaintenance.W001",
)
W002 = Warning(
    f"{MIDDLEWARE_PATH} is not in MIDDLEWARE, so maintenance mode has no effect.",
    hint="Add it right after django.middleware.security.SecurityMiddleware.",
    id="envmaintenance.W002",
)
W003 = Warning(
    f"{MIDDLEWARE_PATH} comes after session or authentication middleware, which "
    f"may query the database that is under maintenance.",
    hint="Move it before django.contrib.sessions and django.contrib.auth middleware.",
    id="envmaintenance.W003",
)

W005 = Warning(
    "MAINTENANCE_TRUSTED_PROXIES trusts every address, so any client can claim any "
    "address with X-Forwarded-For and get past the allowlist.",
    hint="List only the addresses of your reverse proxies or load balancers.",
    id="envmaintenance.W005",
)

W006 = Warning(
    "MAINTENANCE_ENDS_AT is set, but neither MAINTENANCE_MODE nor "
    "MAINTENANCE_STARTS_AT is, so it has no effect.",
    hint="Set MAINTENANCE_STARTS_AT for a scheduled window, or MAINTENANCE_MODE=1 "
    "for maintenance now that is expected to end at MAINTENANCE_ENDS_AT.",
    id="envmaintenance.W006",
)

W007 = Warning(
    "MAINTENANCE_EXEMPT_PATHS includes '/', which exempts every path, so "
    "maintenance blocks nobody.",
    hint="List only the prefixes that must stay up, such as /healthz and /static/.",
    id="envmaintenance.W007",
)

W009 = Warning(
    "MAINTENANCE_MODE is on and MAINTENANCE_STARTS_AT is still ahead: maintenance "
    "is on now, not from the start of the window.",
    hint="Remove MAINTENANCE_MODE (or set it to 0) to let the window switch "
    "maintenance on by itself at MAINTENANCE_STARTS_AT.",
    id="envmaintenance.W009",
)

W010 = Warning(
    "The window from MAINTENANCE_STARTS_AT to MAINTENANCE_ENDS_AT is already over, "
    "so it has no effect.",
    hint="Update or remove MAINTENANCE_STARTS_AT and MAINTENANCE_ENDS_AT.",
    id="envmaintenance.W010",
)

CORS_MIDDLEWARE = "corsheaders.middleware.CorsMiddleware"
W011 = Warning(
    f"{CORS_MIDDLEWARE} comes after {MIDDLEWARE_PATH}, so the 503 has no CORS "
    f"headers and single-page apps on other origins cannot read it.",
    hint=f"Move {CORS_MIDDLEWARE} above {MIDDLEWARE_PATH}.",
    id="envmaintenance.W011",
)

# Middleware from these modules may touch the database on the way in.
_DATABASE_MIDDLEWARE_PREFIXES = ("django.contrib.sessions.", "django.contrib.auth.")


def check_configuration(**kwargs: Any) -> list[CheckMessage]:
    try:
        config = get_config()
    except ConfigError as exc:
        return _variable_errors(exc)
    environment = config.environment
    ends_alone = environment.ends_at and not (
        environment.enabled or environment.starts_at
    )
    return [
        *([W001] if config.allowed_networks.covers_everything() else []),
        *_proxy_warnings(config),
        *([W006] if ends_alone else []),
        *([W007] if "/" in config.exempt_paths.prefixes else []),
        *_window_warnings(config),
        *_unknown_variable_warnings(),
        *_page_errors(config),
    ]


def _variable_errors(error: ConfigError) -> list[CheckMessage]:
    """One error per problem, with the id of the row that reads its variable."""
    errors: list[CheckMessage] = []
    for name, text in error.problems:
        row = row_for(name)  # every problem names a variable that a row reads
        errors.append(Error(f"{name}: {text}", id=row.check_id if row else None))
    return errors


def _window_warnings(config: Config) -> list[CheckMessage]:
    state, now = config.environment, clock_source.clock()
    if state.enabled and state.is_upcoming(now):
        return [W009]
    window_over = state.starts_at and not state.may_be_active(now)
    return [W010] if window_over else []


def _unknown_variable_warnings() -> list[CheckMessage]:
    return [
        Warning(
            describe_unknown(name, closest),
            hint="Remove it, or rename it to one of the variables of the configuration reference.",
            id="envmaintenance.W008",
        )
        for name, closest in unknown_variables(os.environ)
    ]


def _page_errors(config: Config) -> list[CheckMessage]:
    """The page renders in every language served, each message variant is in one."""
    try:
        languages = served_languages(config)
    except ConfigError as exc:
        return _variable_errors(exc)
    try:
        for language in languages.codes:
            render_page(config, config.environment, language)
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id=TEMPLATE_ERROR_ID)]
    return []


def _proxy_warnings(config: Config) -> list[CheckMessage]:
    proxies = config.trusted_proxies.networks
    if proxies.covers_everything():
        return [W005]
    overlap = netaddr.IPSet(config.allowed_networks.networks) & netaddr.IPSet(
        proxies.networks
    )
    if not overlap:
        return []
    blocks = ", ".join(str(block) for block in overlap.iter_cidrs())
    return [
        Warning(
            f"MAINTENANCE_ALLOWED_IPS includes trusted proxies ({blocks}): a request "
            f"that reaches the app through one of them without X-Forwarded-For is "
            f"judged by the proxy's address and let in.",
            hint="Allowlist the clients behind your proxies, not the proxies.",
            id="envmaintenance.W004",
        )
    ]


def check_middleware(**kwargs: Any) -> list[CheckMessage]:
    middleware = list(settings.MIDDLEWARE)
    if MIDDLEWARE_PATH not in middleware:
        return [W002]
    before = middleware[: middleware.index(MIDDLEWARE_PATH)]
    after = middleware[len(before) :]
    return [
        *(
            [W003]
            if any(p.startswith(_DATABASE_MIDDLEWARE_PREFIXES) for p in before)
            else []
        ),
        *([W011] if CORS_MIDDLEWARE in after else []),
    ]
