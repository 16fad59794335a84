"""Every system measured, as a user would install and configure it."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
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
OURS = "envmaintenance.middleware.MaintenanceMiddleware"
# As the quick start says: right after SecurityMiddleware.
WITH_OURS = [STACK[0], OURS, *STACK[1:]]
# django-maintenance-mode's README: last in MIDDLEWARE.
WITH_DMM = [*STACK, "maintenance_mode.middleware.MaintenanceModeMiddleware"]
WITH_DM = [*STACK, "maintenancemode.middleware.MaintenanceModeMiddleware"]

CLIENT = "198.51.100.7"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
PROXY_CHAIN = ", ".join(
    [*(f"203.0.113.{n}" for n in range(1, 8)), CLIENT, "10.1.0.1", "10.2.0.1"]
)


# A site in ten languages besides English, and a visitor who reads German.
TEN_LANGUAGES = {
    "LANGUAGE_CODE": "en",
    "LANGUAGES": [
        (code, code)
        for code in (
            "en",
            "de",
            "fr",
            "es",
            "pt-br",
            "it",
            "nl",
            "pl",
            "ja",
            "zh-hans",
            "ar",
        )
    ],
}
GERMAN_READER = {"HTTP_ACCEPT_LANGUAGE": "de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7"}


def twenty_thousand_blocks() -> str:
    """19,999 blocks that do not merge, then the client's block last."""
    blocks = [
        f"{10 + i // 65536}.{i // 256 % 256}.{i % 256}.0/25" for i in range(19_999)
    ]
    return " ".join([*blocks, "198.51.100.0/24"])


@dataclass(frozen=True)
class Variant:
    middleware: list[str]
    expected_status: int
    apps: list[str] = field(default_factory=list)
    environment: dict[str, str | Callable[[], str]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    request: dict[str, str] = field(default_factory=dict)
    peer_allowed_ips: tuple[str, ...] = ()
    peer_state: str | None = None
    log_to_file: bool = False
    switch_document: str | None = None  # written to <state dir>/switch-on

    def apply_environment(self) -> None:
        """Set MAINTENANCE_* in this process (20,000 blocks exceed execve's limit)."""
        for name in [n for n in os.environ if n.startswith("MAINTENANCE_")]:
            del os.environ[name]
        for name, value in self.environment.items():
            os.environ[name] = value() if callable(value) else value

    def prepare(self, state_dir: Path) -> None:
        """Peer state written where the peer reads it, before the process starts."""
        if self.peer_state is not None:
            (state_dir / "maintenance_mode_state.txt").write_text(self.peer_state)
        if self.switch_document is not None:
            (state_dir / "switch-on").write_text(self.switch_document)

    def logging(self, state_dir: Path) -> dict[str, Any]:
        if not self.log_to_file:
            return {"version": 1, "disable_existing_loggers": False}
        return {
            "version": 1,
            "disable_existing_loggers": False,
            "handlers": {
                "file": {
                    "class": "logging.FileHandler",
                    "filename": str(state_dir / "envmaintenance.log"),
                }
            },
            "loggers": {"envmaintenance": {"handlers": ["file"], "level": "INFO"}},
        }


def select(name: str) -> Variant:
    """This process serves the variant: its MAINTENANCE_* environment, and the
    benchmark's settings module, which reads BENCH_VARIANT."""
    variant = VARIANTS[name]
    variant.apply_environment()
    os.environ.update(
        BENCH_VARIANT=name, DJANGO_SETTINGS_MODULE="benchmarks.project.settings"
    )
    return variant


ON = {"MAINTENANCE_MODE": "1"}


def switch_url(name: str) -> Callable[[], str]:
    """A file switch in the run's state directory, resolved in the child."""
    return lambda: f"file://{os.environ['BENCH_STATE_DIR']}/{name}"


def redis_url() -> str:
    """The redis-server benchmarks.run starts for the run; the key is never set."""
    return os.environ["BENCH_REDIS_URL"]


VARIANTS: dict[str, Variant] = {
    "floor": Variant(["benchmarks.project.floor.Constant503Middleware"], 503),
    # Where the quick start places envmaintenance: after SecurityMiddleware, whose own
    # work on every response is part of any 503 answered there.
    "floor behind SecurityMiddleware": Variant(
        [STACK[0], "benchmarks.project.floor.Constant503Middleware"], 503
    ),
    # The same page and headers as "envmaintenance 503", answered without looking
    # at the request: the part of the 503's cost that no decision can remove.
    "blind 503": Variant(
        [STACK[0], "benchmarks.project.floor.ConstantPageMiddleware"],
        503,
        ["envmaintenance"],
        {**ON},
    ),
    "bare": Variant(STACK, 200),
    "envmaintenance off": Variant(
        WITH_OURS, 200, ["envmaintenance"], {"MAINTENANCE_MODE": "0"}
    ),
    "envmaintenance 503": Variant(
        WITH_OURS,
        503,
        ["envmaintenance"],
        {**ON, "MAINTENANCE_ALLOWED_IPS": "192.0.2.0/24"},
    ),
    "envmaintenance allowed": Variant(
        WITH_OURS,
        200,
        ["envmaintenance"],
        {**ON, "MAINTENANCE_ALLOWED_IPS": "198.51.100.0/24"},
    ),
    # The same, under a switch that says on: the request is counted in flight.
    "envmaintenance allowed, switch": Variant(
        WITH_OURS,
        200,
        ["envmaintenance"],
        {
            "MAINTENANCE_ALLOWED_IPS": "198.51.100.0/24",
            "MAINTENANCE_SWITCH_URL": switch_url("switch-on"),
        },
        switch_document="MAINTENANCE_MODE=1\nSET_BY=bench\n",
    ),
    "envmaintenance 503, ten languages": Variant(
        WITH_OURS,
        503,
        ["envmaintenance"],
        {**ON, "MAINTENANCE_ALLOWED_IPS": "192.0.2.0/24"},
        settings=TEN_LANGUAGES,
        request=GERMAN_READER,
    ),
    "envmaintenance allowed, ten languages": Variant(
        WITH_OURS,
        200,
        ["envmaintenance"],
        {**ON, "MAINTENANCE_ALLOWED_IPS": "198.51.100.0/24"},
        settings=TEN_LANGUAGES,
        request=GERMAN_READER,
    ),
    "envmaintenance allowed, 20,000 CIDRs": Variant(
        WITH_OURS,
        200,
        ["envmaintenance"],
        {**ON, "MAINTENANCE_ALLOWED_IPS": twenty_thousand_blocks},
    ),
    "envmaintenance 503, 10-hop proxy walk": Variant(
        WITH_OURS,
        503,
        ["envmaintenance"],
        {
            **ON,
            "MAINTENANCE_ALLOWED_IPS": "192.0.2.0/24",
            "MAINTENANCE_TRUSTED_PROXIES": "10.0.0.0/8",
        },
        request={"REMOTE_ADDR": "10.3.0.1", "HTTP_X_FORWARDED_FOR": PROXY_CHAIN},
    ),
    # A switch is configured, the environment says off, and no document says
    # otherwise: the middleware cannot remove itself, so this is its cost.
    "envmaintenance off, file switch": Variant(
        WITH_OURS,
        200,
        ["envmaintenance"],
        {"MAINTENANCE_SWITCH_URL": switch_url("switch-never-written")},
    ),
    "envmaintenance off, Redis switch": Variant(
        WITH_OURS, 200, ["envmaintenance"], {"MAINTENANCE_SWITCH_URL": redis_url}
    ),
    "envmaintenance 503, switch": Variant(
        WITH_OURS,
        503,
        ["envmaintenance"],
        {
            "MAINTENANCE_ALLOWED_IPS": "192.0.2.0/24",
            "MAINTENANCE_SWITCH_URL": switch_url("switch-on"),
        },
        switch_document="MAINTENANCE_MODE=1\nSET_BY=bench\n",
    ),
    "envmaintenance read-only, write": Variant(
        WITH_OURS,
        503,
        ["envmaintenance"],
        {**ON, "MAINTENANCE_READ_ONLY": "1", "MAINTENANCE_ALLOWED_IPS": "192.0.2.0/24"},
        request={"REQUEST_METHOD": "POST"},
    ),
    "envmaintenance read-only, read": Variant(
        WITH_OURS,
        200,
        ["envmaintenance"],
        {**ON, "MAINTENANCE_READ_ONLY": "1", "MAINTENANCE_ALLOWED_IPS": "192.0.2.0/24"},
    ),
    # Off, but the middleware stays to answer the status path: a path comparison.
    "envmaintenance off, status path": Variant(
        WITH_OURS,
        200,
        ["envmaintenance"],
        {"MAINTENANCE_STATUS_PATH": "/maintenance.json"},
    ),
    "envmaintenance 503, logging": Variant(
        WITH_OURS,
        503,
        ["envmaintenance"],
        {**ON, "MAINTENANCE_ALLOWED_IPS": "192.0.2.0/24"},
        log_to_file=True,
    ),
    "django-maintenance-mode off": Variant(
        WITH_DMM, 200, ["maintenance_mode"], peer_state="0"
    ),
    "django-maintenance-mode 503": Variant(
        WITH_DMM, 503, ["maintenance_mode"], peer_state="1"
    ),
    "django-maintenance-mode allowed": Variant(
        WITH_DMM, 200, ["maintenance_mode"], peer_state="1", peer_allowed_ips=(CLIENT,)
    ),
    "django-maintenancemode off": Variant(
        WITH_DM, 200, ["maintenancemode"], settings={"MAINTENANCE_MODE": False}
    ),
    "django-maintenancemode 503": Variant(
        WITH_DM, 503, ["maintenancemode"], settings={"MAINTENANCE_MODE": True}
    ),
    "django-maintenancemode allowed": Variant(
        WITH_DM,
        200,
        ["maintenancemode"],
        settings={"MAINTENANCE_MODE": True},
        peer_allowed_ips=("198.51.100.0/24",),
    ),
}

# Over HTTP, under gunicorn and uvicorn.
HTTP_VARIANTS = [
    "bare",
    "floor",
    "envmaintenance 503",
    "envmaintenance 503, switch",
    "envmaintenance off, Redis switch",
    "django-maintenance-mode 503",
    "django-maintenancemode 503",
]
ASGI_VARIANTS = HTTP_VARIANTS[:5]  # the peers are WSGI-era middleware
STALLED_VARIANT = "envmaintenance off, Redis switch"
SITES = {  # whose answers are pre-rendered at start-up
    "Django's default LANGUAGES": "envmaintenance 503",
    "ten languages and English": "envmaintenance 503, ten languages",
}
