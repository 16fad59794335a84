"""Environments for the processes tests start: the developer's shell, minus
anything that would change their outcome. Its TMPDIR is the test session's own
(tests/conftest.py sets it), so nothing a child writes lands in the system's
temporary directory."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def child_environment(**variables: str) -> dict[str, str]:
    """os.environ (the session's TMPDIR included) without MAINTENANCE_* or
    DJANGO_SETTINGS_MODULE, plus these."""
    environ = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("MAINTENANCE_") and name != "DJANGO_SETTINGS_MODULE"
    }
    environ.update(variables)
    return environ


def sample_project_environment(**maintenance: str) -> dict[str, str]:
    """.env.example's settings, as the container gets them, plus MAINTENANCE_*
    overrides given without their prefix (allowed_ips="10.0.0.0/8")."""
    return child_environment(
        ENV_FILE=str(ROOT / ".env.example"),
        **{f"MAINTENANCE_{name.upper()}": value for name, value in maintenance.items()},
    )
