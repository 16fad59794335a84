"""One variant's WSGI handler called in this process: a pyperf benchmark.

``python -m benchmarks.wsgi VARIANT [pyperf options]``. Each value is the CPU
time per request of a batch (``--loops``), not the wall time, so that time spent
descheduled on a busy machine is not counted.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

import pyperf

from benchmarks.variants import BROWSER_ACCEPT, CLIENT, VARIANTS, select

Handler = Callable[[dict[str, Any], Callable[..., None]], Iterable[bytes]]


def handler_for(name: str) -> Handler:
    """The variant's Django, set up as its WSGI server would."""
    select(name)
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()  # type: ignore[return-value]


def request_for(name: str) -> dict[str, Any]:
    return {
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
        **VARIANTS[name].request,
    }


def time_requests(loops: int, handler: Handler, environ: dict[str, Any]) -> float:
    statuses = set()

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        statuses.add(int(status.split()[0]))

    started = time.process_time()
    for _ in range(loops):
        result = handler(dict(environ), start_response)
        b"".join(result)
        result.close()  # type: ignore[attr-defined]
    elapsed = time.process_time() - started
    expected = VARIANTS[os.environ["BENCH_VARIANT"]].expected_status
    if statuses != {expected}:
        raise SystemExit(f"answered {sorted(statuses)}, not {expected}")
    return elapsed


def main() -> None:
    runner = pyperf.Runner(add_cmdline_args=lambda cmd, args: cmd.append(args.variant))
    runner.argparser.add_argument("variant", choices=VARIANTS)
    args = runner.parse_args()
    # Only a worker measures; the process that spawns them sets nothing up.
    handler = handler_for(args.variant) if args.worker else None
    runner.bench_time_func(
        args.variant, time_requests, handler, request_for(args.variant)
    )


if __name__ == "__main__":
    main()
