"""Time one variant in this process: the WSGI handler called N times, no server.

With --count N it only makes N requests, for valgrind to count instructions.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
from typing import Any

# Many short batches, and the fastest one kept: a batch that a noisy neighbour
# interrupted says nothing about the code. CPU time, not wall time, so time spent
# descheduled is not counted either.
BATCHES = 10
PER_BATCH = 1000


def main(name: str, count: int | None) -> None:
    from benchmarks.variants import BROWSER_ACCEPT, CLIENT, VARIANTS

    variant = VARIANTS[name]
    variant.apply_environment()
    if count is not None and "MAINTENANCE_SWITCH_URL" in os.environ:
        # The switch's reader reads and reports once per interval, not per
        # request: a counted run (tens of seconds under valgrind) keeps those
        # ticks out of its window, or they would be spread over its requests.
        os.environ["MAINTENANCE_SWITCH_INTERVAL"] = "60"
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.project.settings"
    from django.core.wsgi import get_wsgi_application

    handler = get_wsgi_application()
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "localhost",
        "HTTP_ACCEPT": BROWSER_ACCEPT,
        "REMOTE_ADDR": CLIENT,
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        **variant.request,
    }
    statuses = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        statuses.append(status)
        return None

    def call() -> None:
        result = handler(dict(environ), start_response)
        b"".join(result)
        result.close()

    for _ in range(1000):
        call()
    if count is not None:
        for _ in range(count):
            call()
        return
    timings = []
    for _ in range(BATCHES):
        started = time.process_time()
        for _ in range(PER_BATCH):
            call()
        timings.append((time.process_time() - started) / PER_BATCH * 1e6)
    print(json.dumps({"us": min(timings), "status": statuses[-1]}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[3]) if sys.argv[2:3] == ["--count"] else None)
