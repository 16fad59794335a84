"""nginx -> gunicorn/uvicorn over a unix socket: the layout where REMOTE_ADDR is
empty (gunicorn) or absent (uvicorn)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import NginxStart, Start, request

ALLOWED, BLOCKED = "127.0.0.5", "127.0.0.6"


@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_unix_declared_lets_the_allowlist_see_the_client(
    start_app: Start, start_nginx: NginxStart, kind: str
) -> None:
    app = start_app(
        kind, unix_socket=True, mode="1", allowed_ips=ALLOWED, trusted_proxies="unix"
    )
    nginx = start_nginx(app.port)
    assert request(nginx.port, "/", source=ALLOWED).status == 200
    assert request(nginx.port, "/", source=BLOCKED).status == 503
    forged = {"X-Forwarded-For": ALLOWED}
    assert request(nginx.port, "/", source=BLOCKED, headers=forged).status == 503


@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_without_unix_everyone_is_blocked(
    start_app: Start, start_nginx: NginxStart, kind: str
) -> None:
    app = start_app(kind, unix_socket=True, mode="1", allowed_ips=ALLOWED)
    nginx = start_nginx(app.port)
    assert request(nginx.port, "/", source=ALLOWED).status == 503
    assert request(nginx.port, "/healthz", source=ALLOWED).status == 200
