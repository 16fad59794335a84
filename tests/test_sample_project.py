from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_check(**extra: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MAINTENANCE_")}
    environ.pop("DJANGO_SETTINGS_MODULE", None)
    environ.update(ENV_FILE=str(ROOT / ".env.example"), **extra)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--fail-level", "WARNING"],
        cwd=ROOT / "sample_project",
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_sample_project_passes_checks_with_env_example() -> None:
    result = run_check()
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_sample_project_reports_a_bad_variable() -> None:
    result = run_check(MAINTENANCE_ALLOWED_IPS="10.0.0.1/8")
    assert result.returncode != 0
    assert "envmaintenance.E002" in result.stderr
    assert "did you mean 10.0.0.0/8?" in result.stderr
