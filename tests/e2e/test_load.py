from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from tests.e2e.conftest import Start, request

REQUESTS = 2_000
CLIENTS = 16


def test_two_thousand_requests_from_sixteen_clients(start_app: Start) -> None:
    server = start_app("gunicorn", mode="1")

    def one(index: int) -> tuple[str, int]:
        # Mostly blocked visitors, with health checks and an allowed client mixed in.
        if index % 10 == 0:
            kind, path, source = "allowed", "/", "127.0.0.1"
        elif index % 7 == 0:
            kind, path, source = "exempt", "/healthz", "127.0.0.9"
        else:
            kind, path, source = "blocked", "/", f"127.0.0.{10 + index % 50}"
        try:
            return kind, request(server.port, path, source=source).status
        except OSError:
            return kind, -1  # a connection error fails the set comparison below

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        results = Counter(pool.map(one, range(REQUESTS)))

    assert set(results) == {("allowed", 200), ("exempt", 200), ("blocked", 503)}, (
        results
    )
    assert results[("blocked", 503)] > REQUESTS * 0.7
