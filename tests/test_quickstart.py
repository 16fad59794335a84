"""What the quick start tells a user to write works as it says."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.processes import ROOT, child_environment

QUICK_START = (ROOT / "docs" / "quickstart.md").read_text()
QUICK_START_LOGGING = re.compile(
    r"```python\n# settings\.py\n(LOGGING = \{.*?\n\})\n```", re.DOTALL
)


def start_up_output(settings_lines: str) -> str:
    """What a process with maintenance on prints while it loads the middleware,
    on a startproject-like site with these lines in its settings."""
    program = f"""
import django
from django.conf import settings
LOGGING = None
{settings_lines}
settings.configure(
    INSTALLED_APPS=["envmaintenance"], ALLOWED_HOSTS=["*"], ROOT_URLCONF=[],
    MIDDLEWARE=["envmaintenance.middleware.MaintenanceMiddleware"],
    **({{"LOGGING": LOGGING}} if LOGGING else {{}}),
)
django.setup()
from django.core.handlers.wsgi import WSGIHandler
WSGIHandler()
"""
    started = subprocess.run(
        [sys.executable, "-c", program],
        env=child_environment(MAINTENANCE_MODE="1"),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return started.stderr


def test_the_quick_starts_logging_lines_show_the_start_up_line() -> None:
    (snippet,) = QUICK_START_LOGGING.findall(QUICK_START)
    assert "Maintenance on: 0 allowed networks" in start_up_output(snippet)


def test_without_logging_the_start_up_line_is_lost() -> None:
    """Why the Quick Start shows LOGGING at all."""
    assert "Maintenance on" not in start_up_output("")
