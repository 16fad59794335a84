"""App config: registers the system checks."""

from __future__ import annotations

from django.apps import AppConfig
from django.core import checks


class EnvMaintenanceConfig(AppConfig):
    name = "envmaintenance"
    verbose_name = "Maintenance mode"

    def ready(self) -> None:
        from envmaintenance.checks import check_configuration, check_middleware

        checks.register(check_configuration)
        checks.register(check_middleware)
