"""Latency while the switch's Redis is SIGSTOPped, against the same seconds with
it healthy.

``python -m benchmarks.stalled SERVER STOPPED_URL HEALTHY_URL BLOCKS RESULTS``:
two servers of one variant, one following a Redis that is stopped, the other a
healthy one; one client alternates its requests between them (ABBA), so that
every spell of the machine falls on both alike (pyperf's runner cannot do this:
a worker runs one benchmark). Each block of BLOCK_SECONDS gives both servers'
p99 and max, kept as pyperf runs of one value in the order they ran, so that
the report divides each stopped block by the healthy one of the same seconds.
"""

from __future__ import annotations

import sys
import time

import pyperf

from benchmarks.http_client import time_requests

# Two read intervals of the switch: every block spans a read of the stopped store.
BLOCK_SECONDS = 4.0
FIGURES = (("p99", 0.99), ("max", 1.0))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def block(urls: tuple[str, str], seconds: float) -> tuple[list[float], list[float]]:
    """Each URL's latencies, one request at a time, in the order A B B A."""
    latencies: tuple[list[float], list[float]] = ([], [])
    deadline = time.perf_counter() + seconds
    turn = 0
    while time.perf_counter() < deadline:
        which = 1 if turn % 4 in (1, 2) else 0
        latencies[which].append(time_requests(1, urls[which], 200))
        turn += 1
    return latencies


def main() -> None:
    server, stopped, healthy, count, results = sys.argv[1:]
    urls = (stopped, healthy)
    block(urls, BLOCK_SECONDS)  # warm-up: the stopped server's reader now fails
    runs: dict[str, list[pyperf.Run]] = {}
    for _ in range(int(count)):
        latencies = block(urls, BLOCK_SECONDS)
        for state, values in zip(("stopped", "healthy"), latencies, strict=True):
            for what, fraction in FIGURES:
                name = f"{server}: {what} latency, Redis {state}"
                metadata = {"name": name, "loops": 1, "unit": "second"}
                value = percentile(values, fraction)
                run = pyperf.Run([value], metadata=metadata, collect_metadata=False)
                runs.setdefault(name, []).append(run)
    suite = pyperf.BenchmarkSuite([pyperf.Benchmark(r) for r in runs.values()])
    pyperf.add_runs(results, suite)  # appended, as pyperf's --append does


if __name__ == "__main__":
    main()
