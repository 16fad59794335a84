from __future__ import annotations

import json
import socket

import pytest

from tests.e2e.conftest import Server, Start, request

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
SERVERS = ["gunicorn", "uvicorn"]
TOKEN = "a-long-enough-bypass-token"


@pytest.fixture(scope="module", params=SERVERS)
def blocked(request: pytest.FixtureRequest, start_module_app: Start) -> Server:
    """Maintenance on under each server, shared by the tests that only ask."""
    return start_module_app(
        request.param,
        mode="1",
        retry_after="120",
        message="Upgrading <db>",
        status_path="/maintenance.json",
        bypass_token=TOKEN,
    )


@pytest.mark.parametrize("kind", SERVERS)
def test_maintenance_off_serves_the_site(start_app: Start, kind: str) -> None:
    server = start_app(kind)
    response = request(server.port, "/", source="127.0.0.9")
    assert response.status == 200
    assert b"The site is up" in response.body


def test_maintenance_on(blocked: Server) -> None:
    server = blocked
    page = request(server.port, "/", source="127.0.0.9", headers={"Accept": BROWSER})
    assert page.status == 503
    assert page.headers["retry-after"] == "120"
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert b"Upgrading &lt;db&gt;" in page.body

    api = request(
        server.port,
        "/api/status",
        source="127.0.0.9",
        headers={"Accept": "application/json"},
    )
    assert api.status == 503
    assert api.headers["content-type"] == "application/problem+json"
    assert json.loads(api.body)["detail"] == "Upgrading <db>"

    assert request(server.port, "/healthz", source="127.0.0.9").status == 200
    assert (
        request(server.port, "/static/sample/site.css", source="127.0.0.9").status
        == 200
    )

    # .env.example allowlists 127.0.0.1: the same request from there passes.
    allowed = request(server.port, "/", source="127.0.0.1")
    assert allowed.status == 200
    assert b"Maintenance is in progress" in allowed.body  # the banner, for staff


def test_head_and_post_get_the_503(blocked: Server) -> None:
    server = blocked
    head = request(server.port, "/", source="127.0.0.9", method="HEAD")
    assert head.status == 503
    assert head.body == b""
    post = request(server.port, "/", source="127.0.0.9", method="POST")
    assert post.status == 503


def raw_exchange(port: int, head: str) -> bytes:
    """Every byte the server sends for one request, up to its close."""
    with socket.create_connection(
        ("127.0.0.1", port), timeout=10, source_address=("127.0.0.9", 0)
    ) as connection:
        connection.sendall(head.encode() + b"Connection: close\r\n\r\n")
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    return received


@pytest.mark.parametrize("path", ["/", "/maintenance.json"])
def test_head_sends_no_body_and_the_gets_length(blocked: Server, path: str) -> None:
    server = blocked
    assert isinstance(server.port, int)
    request_line = f"{{}} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    get = raw_exchange(server.port, request_line.format("GET"))
    head = raw_exchange(server.port, request_line.format("HEAD"))
    get_headers, _, get_body = get.partition(b"\r\n\r\n")
    head_headers, _, head_body = head.partition(b"\r\n\r\n")
    assert head_body == b""
    assert get_body
    length = f"content-length: {len(get_body)}".encode()
    assert length in get_headers.lower()
    assert length in head_headers.lower()
    assert head_headers.split(b"\r\n")[0] == get_headers.split(b"\r\n")[0]
    assert "no-body response" not in server.log_text()  # gunicorn's warning


def test_bad_configuration_stops_gunicorn_with_a_clear_message(
    start_app: Start,
) -> None:
    with pytest.raises(RuntimeError) as info:
        start_app("gunicorn", mode="1", allowed_ips="10.0.0.1/8")
    assert "MAINTENANCE_ALLOWED_IPS: '10.0.0.1/8' has host bits set" in str(info.value)


def test_a_flood_of_query_fields_still_gets_the_503(blocked: Server) -> None:
    server = blocked
    fields = "&".join(["f"] * 1200)  # Django parses at most 1000 fields
    for query in (fields, f"{fields}&maintenance_bypass={TOKEN}"):
        response = request(server.port, f"/?{query}", source="127.0.0.9")
        assert response.status == 503
        assert "set-cookie" not in response.headers
    assert "TooManyFieldsSent" not in server.log_text()
    assert "Traceback" not in server.log_text()
