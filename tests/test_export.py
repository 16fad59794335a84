from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from envmaintenance.conf import Config, load_config
from envmaintenance.export import (
    EDGE_PREFIX,
    FIXED_RESPONSE_BYTES,
    NGINX_HTTP,
    export_files,
    nginx_server,
    small_page,
)
from envmaintenance.state import State


def config_and_state(environ: dict[str, str]) -> tuple[Config, State]:
    config = load_config(environ)
    return config, config.environment


def test_the_fixed_response_page_fits_1024_bytes_whatever_the_message() -> None:
    for message in ("Back soon.", "ü" * 2000, "<b>" * 500):
        page = small_page(*config_and_state({"MAINTENANCE_MESSAGE": message}), "ar")
        assert len(page) <= FIXED_RESPONSE_BYTES
        page.decode("utf-8")  # never cut inside a character
    assert b"Back soon." in small_page(
        *config_and_state({"MAINTENANCE_MESSAGE": "Back soon."}), "en-us"
    )
    assert b"&lt;b&gt;" in small_page(
        *config_and_state({"MAINTENANCE_MESSAGE": "<b>" * 500}), "en-us"
    )


def test_the_fixed_response_page_speaks_the_site_language() -> None:
    page = small_page(*config_and_state({}), "de").decode()
    assert '<html lang="de" dir="ltr">' in page
    assert "<h1>Wegen Wartungsarbeiten offline</h1>" in page
    assert "Wir führen geplante Wartungsarbeiten durch" in page
    assert (
        '<html lang="ar" dir="rtl">' in small_page(*config_and_state({}), "ar").decode()
    )


def test_the_edge_makes_no_decision_of_its_own() -> None:
    """Allowlist, proxies, paths, read-only and window stay the middleware's."""
    config = load_config(
        {
            "MAINTENANCE_MODE": "1",
            "MAINTENANCE_ALLOWED_IPS": "10.0.0.0/8",
            "MAINTENANCE_TRUSTED_PROXIES": "unix 10.0.0.0/8",
            "MAINTENANCE_EXEMPT_PATHS": "/healthz",
            "MAINTENANCE_PATHS": "/checkout",
            "MAINTENANCE_READ_ONLY": "1",
            "MAINTENANCE_STARTS_AT": "2030-01-01T00:00:00Z",
        }
    )
    snippets = NGINX_HTTP + nginx_server(config, Path("/srv/edge"), "de")
    for decision in ("geo", "real_ip", "10.0.0.0", "healthz", "checkout", "GET"):
        assert decision not in snippets
    assert "$request_uri" not in snippets
    assert "return 503" not in snippets


def test_the_edge_answers_only_for_a_failed_upstream() -> None:
    server = nginx_server(
        load_config({"MAINTENANCE_RETRY_AFTER": "600"}), Path("/srv/edge"), "de"
    )
    assert "proxy_intercept_errors on;\nerror_page 502 504 =503 $maintenance_body;" in (
        server
    )
    assert f"location ^~ {EDGE_PREFIX} {{\n    internal;" in server
    assert 'alias "/srv/edge/";' in server
    assert "add_header Retry-After 600 always;" in server
    assert "add_header Content-Language de always;" in server


def test_the_edge_page_promises_no_end_and_no_reading(tmp_path: Path) -> None:
    config = load_config(
        {
            "MAINTENANCE_MODE": "1",
            "MAINTENANCE_READ_ONLY": "1",
            "MAINTENANCE_ENDS_AT": "2030-01-01T00:00:00Z",
            "MAINTENANCE_MESSAGE": "Upgrading.",
        }
    )
    export_files(config, config.environment, "en", tmp_path, tmp_path)
    problem = json.loads((tmp_path / "maintenance.json").read_text())
    assert problem["detail"] == "Upgrading."
    assert problem["read_only"] is False
    assert "ends_at" not in problem
    assert "2030" not in (tmp_path / "maintenance.html").read_text()


def test_export_writes_every_file(tmp_path: Path) -> None:
    written = export_files(*config_and_state({}), "fr", tmp_path, tmp_path)
    assert sorted(path.name for path in written) == sorted(
        [
            "maintenance.html",
            "maintenance.json",
            "maintenance.txt",
            "maintenance-fixed-response.html",
            "nginx-http.conf",
            "nginx-server.conf",
        ]
    )
    assert '<html lang="fr" dir="ltr">' in (tmp_path / "maintenance.html").read_text()
    problem = json.loads((tmp_path / "maintenance.json").read_text())
    assert problem["title"] == "Service indisponible"


def test_export_needs_an_absolute_nginx_root(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="must be an absolute path"):
        call_command("maintenance", "export", str(tmp_path), "--nginx-root", "relative")
    out = StringIO()
    call_command("maintenance", "export", str(tmp_path / "edge"), stdout=out)
    assert f'alias "{(tmp_path / "edge").resolve()}/";' in (
        (tmp_path / "edge" / "nginx-server.conf").read_text()
    )
    assert "nginx-http.conf in nginx's http block" in out.getvalue()
