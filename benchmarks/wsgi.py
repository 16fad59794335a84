"""One variant's WSGI handler, called in this process.

``python -m benchmarks.wsgi VARIANT COUNT``: WARM_UP requests, then COUNT more,
each checked for the variant's status; prints the mean wall-clock seconds per
counted request. benchmarks/run.py runs it for that time, and under valgrind
for the instructions per request.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
import time
from typing import Any

from benchmarks.variants import BROWSER_ACCEPT, CLIENT, select

WARM_UP = 50  # Django's caches, the interpreter's specialization


def settle() -> None:
    """Wait (up to a minute) until the process's other threads are idle: its
    CPU time stops."""
    for _ in range(120):
        used = time.process_time()
        time.sleep(0.5)
        if time.process_time() - used < 0.005:
            return


def main() -> None:
    name, count = sys.argv[1], int(sys.argv[2])
    # Objects of every size, kept from the start, move where all that follows
    # lands in memory: the layout (see benchmarks/run.py).
    ballast = [" " * size for size in range(int(os.environ.get("BENCH_LAYOUT", 0)))]
    variant = select(name)
    # A Redis switch's first read imports redis-py, which alone, under valgrind,
    # outlasts the reader's 0.25 s bound: imported here, the store is read.
    importlib.import_module("redis")
    from django.core.wsgi import get_wsgi_application
    from django.test import RequestFactory

    handler = get_wsgi_application()
    request = {"HTTP_ACCEPT": BROWSER_ACCEPT, "REMOTE_ADDR": CLIENT}
    request |= {k: v() if callable(v) else v for k, v in variant.request.items()}
    environ = {**RequestFactory().get("/").environ, **request}
    statuses = set()

    def start_response(status: str, *_: object) -> Any:
        statuses.add(int(status[:3]))

    def serve(requests: int) -> None:
        for _ in range(requests):
            response = handler(dict(environ), start_response)
            b"".join(response)
            response.close()

    # A switch's reader reads at once, in threads of its own, from start-up or
    # from the first request: with the process to itself, it is done before
    # anything else runs (how threads interleave moves where objects land, and
    # so the count) and before a process that serves no more exits.
    settle()
    serve(1)
    settle()
    serve(WARM_UP)
    # A full collection walks every object of the process (some ten million
    # instructions) and is due again once the heap has grown by a quarter:
    # made here, none falls among the counted requests by chance.
    gc.collect()
    started = time.perf_counter()
    serve(count)
    seconds = (time.perf_counter() - started) / max(count, 1)
    if statuses != {variant.expected_status}:
        raise SystemExit(f"{name}: answered {sorted(statuses)}")
    print(seconds)
    del ballast


if __name__ == "__main__":
    main()
