"""Requests to a server that is already running, one after another, on one
connection where the server keeps it open: a pyperf benchmark.

``python -m benchmarks.http_client NAME URL STATUS [pyperf options]``: each value
is the wall time per request; with ``--loops 1``, one request's latency.
"""

from __future__ import annotations

import http.client
import time
from urllib.parse import urlsplit

import pyperf

HEADERS = {"Accept": "text/html"}


def time_requests(loops: int, url: str, expected: int) -> float:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(
        parts.hostname or "127.0.0.1", parts.port, timeout=30
    )
    statuses = set()
    started = time.perf_counter()
    for _ in range(loops):
        # After a Connection: close (gunicorn's sync worker), this reconnects.
        connection.request("GET", parts.path, headers=HEADERS)
        response = connection.getresponse()
        response.read()
        statuses.add(response.status)
    elapsed = time.perf_counter() - started
    connection.close()
    if statuses != {expected}:
        raise SystemExit(f"{url} answered {sorted(statuses)}, not {expected}")
    return elapsed


def main() -> None:
    runner = pyperf.Runner(
        add_cmdline_args=lambda cmd, args: cmd.extend(
            [args.name, args.url, str(args.status)]
        )
    )
    runner.argparser.add_argument("name")
    runner.argparser.add_argument("url")
    runner.argparser.add_argument("status", type=int)
    args = runner.parse_args()
    runner.bench_time_func(args.name, time_requests, args.url, args.status)


if __name__ == "__main__":
    main()
