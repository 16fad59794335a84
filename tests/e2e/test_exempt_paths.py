"""Requests that try to pass for /healthz, sent as an attacker would (raw paths,
like curl --path-as-is) to the sample project, whose catch-all routes
(pages/<path:slug> and re_path(r"^.*$")) would serve them."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import NginxStart, Server, Start, request

ESCAPING_PATHS = [
    "/x/../healthz",
    "/pages/a/../../healthz",
    "//healthz",
    "/./healthz",
    "/x/%2e%2e/healthz",
    "/x%2f..%2fhealthz",
    "/healthz/../pages/secret",
]
BLOCKED = "127.0.0.9"  # not in .env.example's allowlist


@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_escaping_paths_get_the_503_from_the_app(start_app: Start, kind: str) -> None:
    server = start_app(kind, mode="1")
    assert request(server.port, "/healthz", source=BLOCKED).status == 200
    for path in ESCAPING_PATHS:
        response = request(server.port, path, source=BLOCKED)
        assert (path, response.status) == (path, 503)
        assert b"App shell" not in response.body
        assert b"<h1>Page" not in response.body


@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_the_catch_all_serves_those_paths_when_maintenance_is_off(
    start_app: Start, kind: str
) -> None:
    """The control: each path reaches a view other than /healthz's."""
    server = start_app(kind, mode="0")
    for path in ESCAPING_PATHS:
        response = request(server.port, path, source=BLOCKED)
        assert response.status == 200, path
        assert response.body != b"ok", path


@pytest.fixture
def behind_nginx(start_app: Start, start_nginx: NginxStart) -> tuple[Server, Server]:
    app = start_app("gunicorn", mode="1", trusted_proxies="127.0.0.1")
    return app, start_nginx(app.port)


def test_escaping_paths_through_nginx_never_reach_a_view(
    behind_nginx: tuple[Server, Server],
) -> None:
    _, nginx = behind_nginx
    for path in ESCAPING_PATHS:
        response = request(nginx.port, path, source=BLOCKED)
        # nginx passes the URI as received; the app must answer 503.
        assert (path, response.status) == (path, 503)
        assert b"App shell" not in response.body
    assert request(nginx.port, "/healthz", source=BLOCKED).status == 200
