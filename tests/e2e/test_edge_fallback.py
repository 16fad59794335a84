"""manage.py maintenance export: nginx serves the maintenance from the exported
files even when the app is down, and still proxies who may pass."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import NginxStart, Start, request
from tests.processes import ROOT, sample_project_environment

SETTINGS = {
    "mode": "1",
    "allowed_ips": "127.0.0.5",
    "trusted_proxies": "127.0.0.1",  # the nginx in front
    "retry_after": "600",
    "message": "Upgrading <everything>.",
}


def export(directory: Path) -> str:
    result = subprocess.run(
        [
            sys.executable,
            "sample_project/manage.py",
            "maintenance",
            "export",
            str(directory),
        ],
        cwd=ROOT,
        env=sample_project_environment(**SETTINGS),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def test_nginx_answers_for_the_app_from_the_exported_files(
    start_app: Start, start_nginx: NginxStart, tmp_path: Path
) -> None:
    directory = tmp_path / "edge"
    assert "wrote" in export(directory)
    assert len((directory / "maintenance-fixed-response.html").read_bytes()) <= 1024
    app = start_app("gunicorn", **SETTINGS)
    nginx = start_nginx(
        app.port,
        http=f"include {directory / 'nginx-http.conf'};",
        server=f"include {directory / 'nginx-server.conf'};",
    )
    assert request(nginx.port, "/", source="127.0.0.5").status == 200  # proxied
    app.stop()  # the deploy went wrong: the app is down

    page = request(nginx.port, "/", source="127.0.0.6", headers={"Accept": "text/html"})
    assert page.status == 503
    assert page.headers["retry-after"] == "600"
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.body == (directory / "maintenance.html").read_bytes()
    assert b"Upgrading &lt;everything&gt;." in page.body

    api = request(
        nginx.port,
        "/api/status",
        source="127.0.0.6",
        headers={"Accept": "application/json"},
    )
    assert api.status == 503
    assert api.headers["content-type"].startswith("application/problem+json")
    assert json.loads(api.body)["detail"] == "Upgrading <everything>."

    # Who may pass is still proxied: to an app that is down, so nginx says 502.
    assert request(nginx.port, "/", source="127.0.0.5").status == 502
    assert request(nginx.port, "/healthz", source="127.0.0.6").status == 502
    forged = {"X-Forwarded-For": "127.0.0.5"}
    assert request(nginx.port, "/", source="127.0.0.6", headers=forged).status == 503
