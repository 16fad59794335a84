"""manage.py maintenance export: nginx answers with the exported page when the app
cannot (stopped, hung, answering 502), and passes every other answer untouched,
so who may pass stays the middleware's decision alone."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.e2e.conftest import NginxStart, Server, Start, free_port, request
from tests.processes import ROOT, sample_project_environment

SETTINGS = {
    "mode": "1",
    "allowed_ips": "127.0.0.5",
    "trusted_proxies": "127.0.0.1",  # the nginx in front
    "exempt_paths": "/healthz",
    "paths": "/checkout,/pages",
    "retry_after": "600",
    "message": "Upgrading <everything>.",
}
ALLOWED, BLOCKED = "127.0.0.5", "127.0.0.6"


def export(directory: Path, **settings: str) -> str:
    result = subprocess.run(
        [
            sys.executable,
            "sample_project/manage.py",
            "maintenance",
            "export",
            directory,
        ],
        cwd=ROOT,
        env=sample_project_environment(**settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def edge(start_nginx: NginxStart, upstream: int | Path, directory: Path) -> Server:
    return start_nginx(
        upstream,
        http=f"include {directory / 'nginx-http.conf'};",
        server=f"include {directory / 'nginx-server.conf'};",
        read_timeout="1s",
    )


@pytest.fixture
def exported(tmp_path: Path) -> Path:
    directory = tmp_path / "edge"
    assert "wrote" in export(directory, **SETTINGS)
    assert len((directory / "maintenance-fixed-response.html").read_bytes()) <= 1024
    return directory


def from_the_app(headers: dict[str, str]) -> bool:
    """The app's 503 negotiates languages; the edge's speaks one."""
    return headers.get("vary") == "Accept, Accept-Language"


def assert_edge_page(port: int | Path, directory: Path, method: str = "GET") -> None:
    page = request(
        port, "/", source=ALLOWED, method=method, headers={"Accept": "text/html"}
    )
    assert page.status == 503
    assert page.headers["retry-after"] == "600"
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["vary"] == "Accept"
    expected = (directory / "maintenance.html").read_bytes()
    assert page.body == (b"" if method == "HEAD" else expected)
    assert int(page.headers["content-length"]) == len(expected)


def test_with_the_app_up_every_answer_is_the_apps(
    start_app: Start, start_nginx: NginxStart, exported: Path
) -> None:
    app = start_app("gunicorn", **SETTINGS)
    nginx = edge(start_nginx, app.port, exported)
    assert request(nginx.port, "/checkout", source=ALLOWED).status == 200
    # The raw paths the previous edge judged on its own, and wrongly: each is the
    # app's to decide, and it stops them.
    for path in ("/healthz/../x", "/healthz/%2e%2e/x", "/%63heckout/", "/pages/%2e"):
        answer = request(nginx.port, path, source=BLOCKED)
        assert answer.status == 503, path
        assert from_the_app(answer.headers), path
    assert request(nginx.port, "/healthz", source=BLOCKED).status == 200
    assert request(nginx.port, "/elsewhere", source=BLOCKED).status == 200
    # The app's own 503 passes untouched, under any method.
    for method in ("GET", "POST", "DELETE"):
        answer = request(nginx.port, "/checkout", source=BLOCKED, method=method)
        assert answer.status == 503
        assert from_the_app(answer.headers)


def test_a_window_far_away_blocks_nobody_at_the_edge(
    start_app: Start, start_nginx: NginxStart, tmp_path: Path
) -> None:
    window = {**SETTINGS, "mode": "0", "starts_at": "2999-01-01T00:00:00Z"}
    export(tmp_path / "edge", **window)
    app = start_app("gunicorn", **window)
    nginx = edge(start_nginx, app.port, tmp_path / "edge")
    assert request(nginx.port, "/checkout", source=BLOCKED).status == 200


def test_with_the_app_stopped_everyone_gets_the_exported_page(
    start_app: Start, start_nginx: NginxStart, exported: Path
) -> None:
    app = start_app("gunicorn", **SETTINGS)
    nginx = edge(start_nginx, app.port, exported)
    app.stop()  # the deploy went wrong: nothing listens
    for method in ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"):
        assert_edge_page(nginx.port, exported, method)
    assert (
        b"Upgrading &lt;everything&gt;." in (exported / "maintenance.html").read_bytes()
    )
    for accept in ("application/json", "application/vnd.api+json; charset=utf-8"):
        api = request(nginx.port, "/api/status", headers={"Accept": accept})
        assert api.status == 503
        assert api.headers["content-type"].startswith("application/problem+json")
        assert json.loads(api.body)["detail"] == "Upgrading <everything>."
    text = request(nginx.port, "/", headers={"Accept": "text/plain"})
    assert (text.status, text.body) == (503, b"Upgrading <everything>.\n")
    # The files are served only through error_page: asked for directly, nginx
    # knows no such page.
    assert request(nginx.port, "/.envmaintenance-edge/maintenance.html").status == 404


class FixedAnswer(BaseHTTPRequestHandler):
    """An upstream that answers every request with one status."""

    status = 502

    def do_GET(self) -> None:
        body = b"from the upstream"
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


StartUpstream = Callable[[int], int]


@pytest.fixture
def fixed_upstream() -> Iterator[StartUpstream]:
    """fixed_upstream(status) -> the port of an upstream answering that status."""

    def start(status: int) -> int:
        handler = type("Answer", (FixedAnswer,), {"status": status})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return int(server.server_address[1])

    servers: list[ThreadingHTTPServer] = []
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("status", [502, 504])
def test_an_upstream_that_answers_a_gateway_error_gets_the_page(
    start_nginx: NginxStart, exported: Path, fixed_upstream: StartUpstream, status: int
) -> None:
    nginx = edge(start_nginx, fixed_upstream(status), exported)
    assert_edge_page(nginx.port, exported)


@pytest.mark.parametrize("status", [500, 503, 404])
def test_an_upstream_answering_anything_else_is_passed_untouched(
    start_nginx: NginxStart, exported: Path, fixed_upstream: StartUpstream, status: int
) -> None:
    nginx = edge(start_nginx, fixed_upstream(status), exported)
    answer = request(nginx.port, "/")
    assert (answer.status, answer.body) == (status, b"from the upstream")


def test_an_upstream_that_hangs_gets_the_page_after_the_timeout(
    start_nginx: NginxStart, exported: Path
) -> None:
    with socket.create_server(("127.0.0.1", free_port())) as hung:
        hung.listen()  # accepts (the kernel does), never answers
        nginx = edge(start_nginx, hung.getsockname()[1], exported)
        assert_edge_page(nginx.port, exported)
