"""Every system measured, as a user would install and configure it.

A variant is driven from outside the package only: MAINTENANCE_* variables,
Django settings, the switch's document and the request. A new row is an entry
in VARIANTS (and, if it is judged, a line in benchmarks/report.py's RATIOS).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import Any

STACK = [  # django-admin startproject's MIDDLEWARE
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
# The quick start places envmaintenance right after SecurityMiddleware.
WITH_OURS = [STACK[0], "envmaintenance.middleware.MaintenanceMiddleware", *STACK[1:]]
FLOOR = "benchmarks.project.app.Constant503Middleware"
BLIND = "benchmarks.project.app.BlindMiddleware"
CLIENT = "198.51.100.7"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
# Resolved in the variant's process: a callable, called; in a string, {NAME}
# stands for the variable NAME of its environment (BENCH_REDIS_URL...).
Value = str | Callable[[], str]


@dataclass(frozen=True)
class Variant:
    middleware: list[str]
    expected_status: int
    apps: list[str] = field(default_factory=list)
    environment: Mapping[str, Value] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    request: Mapping[str, Value] = field(default_factory=dict)  # WSGI environ items
    # What it reads (a switch's document, a peer's state), written to the run's
    # directory before its processes start.
    files: dict[str, str] = field(default_factory=dict)
    script: str = "benchmarks.wsgi"  # python -m SCRIPT VARIANT COUNT serves COUNT


def select(name: str) -> Variant:
    """This process serves the variant: its MAINTENANCE_* environment (set here:
    20,000 blocks exceed execve's limit) and benchmarks/project/settings.py."""
    variant = ALL[name]
    for key in [k for k in os.environ if k.startswith("MAINTENANCE_")]:
        del os.environ[key]
    for key, value in variant.environment.items():
        os.environ[key] = value() if callable(value) else value.format_map(os.environ)
    os.environ["BENCH_VARIANT"] = name
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.project.settings"
    return variant


def ours(status: int, options: Any = None, /, **environment: Value) -> Variant:
    """NAME=value sets MAINTENANCE_NAME; options, the variant's other fields."""
    environment = {f"MAINTENANCE_{name}": value for name, value in environment.items()}
    return Variant(WITH_OURS, status, ["envmaintenance"], environment, **options or {})


def peer(app: str, status: int, state: str | None = None, **settings: Any) -> Variant:
    """Last in MIDDLEWARE, as its README says; state: django-maintenance-mode's
    file backend's."""
    middleware = [*STACK, f"{app}.middleware.MaintenanceModeMiddleware"]
    files = {"maintenance_mode_state.txt": state} if state else {}
    return Variant(middleware, status, [app], settings=settings, files=files)


def twenty_thousand_blocks() -> str:
    """19,999 blocks that do not merge (IPv4 /25s), then the client's."""
    blocks = [f"{IPv4Address(0x0A000000 + i * 256)}/25" for i in range(19_999)]
    return " ".join([*blocks, "198.51.100.0/24"])


def hundred_thousand_blocks() -> str:
    """Blocks that do not merge: IPv4 /32s two apart, and IPv6 /64s."""
    ipv4 = (str(IPv4Address(0x0B000000 + i * 2)) for i in range(0, 100_000, 2))
    ipv6 = (f"2001:db8:{i // 65536:x}:{i % 65536:x}::/64" for i in range(1, 100_000, 2))
    return ",".join(block for pair in zip(ipv4, ipv6, strict=True) for block in pair)


ON: dict[str, Value] = {"MODE": "1"}
OTHERS: dict[str, Value] = {"ALLOWED_IPS": "192.0.2.0/24"}  # not the client's
CLIENTS: dict[str, Value] = {"ALLOWED_IPS": "198.51.100.0/24"}
BLOCKED, ALLOWED = ON | OTHERS, ON | CLIENTS
# The store is read in the background once per interval, not per request, and
# under valgrind an interval holds some thirty times fewer requests: counted,
# it is read at start-up only (60 s, the longest interval).
ONCE = {"SWITCH_INTERVAL": "60"}
FILE = "file://{BENCH_STATE_DIR}/"  # a file switch in the run's directory
REDIS = "{BENCH_REDIS_URL}"  # the run's redis-server
SWITCH_ON: dict[str, Value] = {**ONCE, "SWITCH_URL": FILE + "on"}
DOCUMENT = {"files": {"on": "MAINTENANCE_MODE=1\nSET_BY=bench\n"}}
# A site in ten languages besides English, and a visitor who reads German.
CODES = ["en", "de", "fr", "es", "pt-br", "it", "nl", "pl", "ja", "zh-hans", "ar"]
GERMAN = {
    "settings": {"LANGUAGE_CODE": "en", "LANGUAGES": [(c, c) for c in CODES]},
    "request": {"HTTP_ACCEPT_LANGUAGE": "de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7"},
}
HOPS = ", ".join(
    [*(f"203.0.113.{n}" for n in range(1, 8)), CLIENT, "10.1.0.1", "10.2.0.1"]
)
PROXIED = {"request": {"REMOTE_ADDR": "10.3.0.1", "HTTP_X_FORWARDED_FOR": HOPS}}
POST = {"request": {"REQUEST_METHOD": "POST"}}
NULL = {"class": "logging.FileHandler", "filename": os.devnull}
LOGGING: dict[str, Any] = {"version": 1, "disable_existing_loggers": False}
LOGGING["handlers"] = {"null": NULL}
LOGGING["loggers"] = {"envmaintenance": {"handlers": ["null"], "level": "INFO"}}
LOGGED = {"settings": {"LOGGING": LOGGING}}  # every 503 logged, to /dev/null
DMM, DM = "maintenance_mode", "maintenancemode"
# A shop's checkout and basket in maintenance on its own host, the page in the
# language of the URL's prefix.
SCOPES: dict[str, Value] = {"PATHS": "/checkout,/basket", "HOSTS": "shop.example.com"}
CHECKOUT = {"PATH_INFO": "/de/checkout/", "HTTP_HOST": "shop.example.com"}
IN_SCOPE = {"settings": GERMAN["settings"], "request": CHECKOUT}
# Staff passes, ten of them revoked; one valid, as `maintenance pass` issues it.
REVOKED = {"REVOKED_PASSES": ",".join(f"{n:08x}:4102444800" for n in range(10))}


def valid_pass() -> str:
    from envmaintenance.passes import COOKIE_NAME, issue

    return f"{COOKIE_NAME}={issue('Ada', 3600, time.time())[1]}"


SOCKET = "benchmarks.sockets"  # a Channels echo consumer's socket
SOCKETS = {"script": SOCKET}

VARIANTS: dict[str, Variant] = {
    "floor": Variant([FLOOR], 503),  # the least a Django 503 can cost
    # envmaintenance's own 503, the same bytes and headers, answered to everyone
    # without a decision, where the quick start places the middleware.
    "blind 503": Variant(
        [STACK[0], BLIND], 503, ["envmaintenance"], {"MAINTENANCE_MODE": "1"}
    ),
    "bare": Variant(STACK, 200),
    "envmaintenance off": ours(200, MODE="0"),
    "envmaintenance 503": ours(503, **BLOCKED),
    "envmaintenance allowed": ours(200, **ALLOWED),
    # The same under a switch that says on: the request is counted in flight.
    "envmaintenance allowed, switch": ours(200, DOCUMENT, **CLIENTS | SWITCH_ON),
    "envmaintenance allowed, ten languages": ours(200, GERMAN, **ALLOWED),
    "envmaintenance allowed, 20,000 CIDRs": ours(
        200, **ON, ALLOWED_IPS=twenty_thousand_blocks
    ),
    "envmaintenance 503, 10-hop proxy walk": ours(
        503, PROXIED, **BLOCKED, TRUSTED_PROXIES="10.0.0.0/8"
    ),
    # A switch, the environment says off, and no document says otherwise: the
    # middleware cannot remove itself, so this is its cost.
    "envmaintenance off, file switch": ours(200, **ONCE, SWITCH_URL=FILE + "none"),
    "envmaintenance off, Redis switch": ours(200, **ONCE, SWITCH_URL=REDIS),
    "envmaintenance 503, switch": ours(503, DOCUMENT, **OTHERS | SWITCH_ON),
    "envmaintenance read-only, write": ours(503, POST, **BLOCKED, READ_ONLY="1"),
    "envmaintenance read-only, read": ours(200, **BLOCKED, READ_ONLY="1"),
    # Off, but the middleware stays to answer the status path.
    "envmaintenance off, status path": ours(200, STATUS_PATH="/maintenance.json"),
    "envmaintenance 503, logging": ours(503, LOGGED, **BLOCKED),
    "envmaintenance 503, scopes": ours(503, IN_SCOPE, **BLOCKED | SCOPES),
    "envmaintenance off, scopes, file switch": ours(
        200, **SCOPES, **ONCE, SWITCH_URL=FILE + "none"
    ),
    "envmaintenance 503, passes": ours(503, **BLOCKED | REVOKED),
    "envmaintenance let in by a pass": ours(
        200, {"request": {"HTTP_COOKIE": valid_pass}}, **BLOCKED | REVOKED
    ),
    "socket message, without the middleware": Variant([], 200, script=SOCKET),
    "socket message, off, file switch": ours(
        200, SOCKETS, **ONCE, SWITCH_URL=FILE + "none"
    ),
    "socket handshake refused": ours(503, SOCKETS, **BLOCKED),
    "django-maintenance-mode off": peer(DMM, 200, "0"),
    "django-maintenance-mode 503": peer(DMM, 503, "1"),
    "django-maintenance-mode allowed": peer(
        DMM, 200, "1", MAINTENANCE_MODE_IGNORE_IP_ADDRESSES=(CLIENT,)
    ),
    # django-maintenancemode: a setting, and INTERNAL_IPS (with IPy) let through.
    "django-maintenancemode off": peer(DM, 200, MAINTENANCE_MODE=False),
    "django-maintenancemode 503": peer(DM, 503, MAINTENANCE_MODE=True),
    "django-maintenancemode allowed": peer(
        DM, 200, MAINTENANCE_MODE=True, INTERNAL_IPS=("198.51.100.0/24",)
    ),
}
# Served over HTTP by benchmarks/stalled.py, not counted: the store read every
# 2 s, as by default, so that a block of 4 s spans a read.
SERVED = "envmaintenance off, Redis switch, read every 2 s"
STARTUP = {  # what benchmarks/startup.py starts, by the figure it gives
    "1 block": VARIANTS["envmaintenance 503"],
    "100,000 blocks": ours(503, **ON, ALLOWED_IPS=hundred_thousand_blocks),
    "ten languages": ours(503, GERMAN, **BLOCKED),
}
ALL = {**VARIANTS, **STARTUP, SERVED: ours(200, SWITCH_URL=REDIS)}
