from __future__ import annotations

import subprocess
import sys

from tests.processes import ROOT, sample_project_environment


def run_check(**maintenance: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--fail-level", "WARNING"],
        cwd=ROOT / "sample_project",
        env=sample_project_environment(**maintenance),
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
    result = run_check(allowed_ips="10.0.0.1/8")
    assert result.returncode != 0
    assert "envmaintenance.E002" in result.stderr
    assert "did you mean 10.0.0.0/8?" in result.stderr
