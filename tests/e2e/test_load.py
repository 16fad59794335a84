from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from tests.e2e.conftest import Start, request

REQUESTS = 2_000
CLIENTS = 16


def test_two_thousand_requests_from_sixteen_clients(start_app: Start) -> None:
    server = start_app("gunicorn", mode="1")

    def one(index: int) -> tuple[str, int, bool]:
        # Mostly blocked visitors, with health checks and an allowed client mixed in.
        if index % 10 == 0:
            kind, path, source = "allowed", "/", "127.0.0.1"
        elif index % 7 == 0:
            kind, path, source = "exempt", "/healthz", "127.0.0.9"
        else:
            kind, path, source = "blocked", "/", f"127.0.0.{10 + index % 50}"
        try:
            response = request(server.port, path, source=source)
        except OSError:
            return kind, -1, False  # a connection error fails the comparison below
        headers_right = (response.status == 503) == ("retry-after" in response.headers)
        return kind, response.status, headers_right

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        results = Counter(pool.map(one, range(REQUESTS)))

    assert set(results) == {
        ("allowed", 200, True),
        ("exempt", 200, True),
        ("blocked", 503, True),
    }, results
    # Every 503 was logged by the middleware itself, once, and nothing failed.
    server.stop()
    log = server.log_text()
    assert log.count("Maintenance: 503 for GET") == results[("blocked", 503, True)]
    assert "Traceback" not in log
