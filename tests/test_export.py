from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from envmaintenance.conf import load_config
from envmaintenance.export import (
    FIXED_RESPONSE_BYTES,
    export_files,
    nginx_http,
    nginx_server,
    small_page,
)


def test_the_fixed_response_page_fits_1024_bytes_whatever_the_message() -> None:
    for message in ("Back soon.", "ü" * 2000, "<b>" * 500):
        config = load_config({"MAINTENANCE_MESSAGE": message})
        page = small_page(config, "ar")
        assert len(page) <= FIXED_RESPONSE_BYTES
        page.decode("utf-8")  # never cut inside a character
    assert b"Back soon." in small_page(
        load_config({"MAINTENANCE_MESSAGE": "Back soon."}), "en-us"
    )
    assert b"&lt;b&gt;" in small_page(
        load_config({"MAINTENANCE_MESSAGE": "<b>" * 500}), "en-us"
    )


def test_the_fixed_response_page_speaks_the_site_language() -> None:
    page = small_page(load_config({}), "de").decode()
    assert '<html lang="de" dir="ltr">' in page
    assert "<h1>Wegen Wartungsarbeiten offline</h1>" in page
    assert "Wir führen geplante Wartungsarbeiten durch" in page
    assert '<html lang="ar" dir="rtl">' in small_page(load_config({}), "ar").decode()


def test_read_only_and_scope_become_maps() -> None:
    config = load_config(
        {"MAINTENANCE_READ_ONLY": "1", "MAINTENANCE_PATHS": "/checkout /api/orders"}
    )
    http = nginx_http(config)
    assert (
        "map $request_method $maintenance_write {\n    default 1;\n    GET 0;" in http
    )
    assert '    "~^/checkout(?:[/?]|$)" 1;\n    "~^/api/orders(?:[/?]|$)" 1;\n' in http
    assert "map $request_uri $maintenance_exempt {\n    default 0;\n}" in http


def test_trusted_proxies_become_real_ip_lines() -> None:
    config = load_config({"MAINTENANCE_TRUSTED_PROXIES": "unix 10.0.0.0/8"})
    server = nginx_server(config, 600, Path("/srv/maintenance"), "de")
    assert "set_real_ip_from unix:;\nset_real_ip_from 10.0.0.0/8;\n" in server
    assert "real_ip_recursive on;" in server
    assert 'root "/srv/maintenance";' in server
    assert "add_header Retry-After 600 always;" in server
    assert "add_header Content-Language de always;" in server
    assert "real_ip" not in nginx_server(load_config({}), 600, Path("/x"), "en")


def test_export_writes_every_file(tmp_path: Path) -> None:
    written = export_files(load_config({}), "fr", 60, tmp_path, tmp_path)
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


def test_a_prefix_with_a_semicolon_stays_one_nginx_key() -> None:
    config = load_config({"MAINTENANCE_EXEMPT_PATHS": "/a;b"})
    assert '    "~^/a;b(?:[/?]|$)" 1;\n' in nginx_http(config)


def test_export_needs_an_absolute_nginx_root(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="must be an absolute path"):
        call_command("maintenance", "export", str(tmp_path), "--nginx-root", "relative")
    out = StringIO()
    call_command("maintenance", "export", str(tmp_path / "edge"), stdout=out)
    assert f'root "{(tmp_path / "edge").resolve()}";' in (
        (tmp_path / "edge" / "nginx-server.conf").read_text()
    )
    assert "nginx-http.conf in nginx's http block" in out.getvalue()
