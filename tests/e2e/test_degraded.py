"""Read-only and partial maintenance and the status endpoint, through nginx in
front of gunicorn, as a deployment runs them."""

from __future__ import annotations

import json

from tests.e2e.conftest import NginxStart, Server, Start, request

BLOCKED, ALLOWED = "127.0.0.6", "127.0.0.5"
BEHIND_NGINX = {"trusted_proxies": "127.0.0.1", "allowed_ips": ALLOWED}


def behind_nginx(start_app: Start, start_nginx: NginxStart, **settings: str) -> Server:
    app = start_app("gunicorn", **BEHIND_NGINX, **settings)
    return start_nginx(app.port)


def test_read_only_serves_the_form_and_refuses_its_post(
    start_app: Start, start_nginx: NginxStart
) -> None:
    nginx = behind_nginx(start_app, start_nginx, mode="1", read_only="1")
    form = request(nginx.port, "/contact", source=BLOCKED)
    assert form.status == 200
    assert b'<form method="post">' in form.body
    assert b"the site is read-only" in form.body  # the banner says so
    post = request(
        nginx.port,
        "/contact",
        source=BLOCKED,
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "text/html",
        },
    )
    assert post.status == 503
    assert b"Read-only for maintenance" in post.body
    assert post.headers["retry-after"] == "600"
    # Allowed staff get past maintenance to Django's own CSRF check.
    staff = request(nginx.port, "/contact", source=ALLOWED, method="POST")
    assert staff.status == 403


def test_partial_maintenance_stops_only_its_paths(
    start_app: Start, start_nginx: NginxStart
) -> None:
    nginx = behind_nginx(start_app, start_nginx, mode="1", paths="/pages")
    assert request(nginx.port, "/pages/checkout", source=BLOCKED).status == 503
    assert request(nginx.port, "/x/../pages/checkout", source=BLOCKED).status == 503
    # A scope fails closed: what starts with the prefix, however it is spelled,
    # and under a language prefix of the site's LANGUAGES.
    for path in ("/pagesX", "/pages.json", "/%70ages/x", "/de/pages/x", "/pt-br/pages"):
        assert request(nginx.port, path, source=BLOCKED).status == 503, path
    assert request(nginx.port, "/", source=BLOCKED).status == 200
    assert request(nginx.port, "/contact", source=BLOCKED).status == 200


def test_the_status_endpoint_through_nginx(
    start_app: Start, start_nginx: NginxStart
) -> None:
    nginx = behind_nginx(
        start_app, start_nginx, mode="1", status_path="/maintenance.json"
    )
    response = request(nginx.port, "/maintenance.json", source=BLOCKED)
    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["access-control-allow-origin"] == "*"
    body = json.loads(response.body)
    assert (body["state"], body["active"], body["retry_after"]) == ("on", True, 600)
    assert ALLOWED not in response.body.decode()
    for method in ("POST", "DELETE", "PROPFIND"):
        refused = request(
            nginx.port, "/maintenance.json", source=BLOCKED, method=method
        )
        assert refused.status == 405
        assert refused.headers["allow"] == "GET, HEAD, OPTIONS"
    off = behind_nginx(
        start_app, start_nginx, mode="0", status_path="/maintenance.json"
    )
    assert json.loads(request(off.port, "/maintenance.json").body)["state"] == "off"
