"""What the middleware itself adds to a request it lets through: a pyperf
benchmark, for the targets of a percent or two.

Whole-stack times on a shared VM move by more than those targets between
processes and even between two handlers of one process (measured: two handlers
running the same code differed by up to 6%). The middleware's own work does not:
called as Django calls it (each layer wrapped by ``convert_exception_to_response``)
around a view that answers at once, it is timed to a few nanoseconds. A target
``X ÷ bare`` is judged as ``1 + (own cost of X) ÷ (bare's time per request)``.

``python -m benchmarks.own_cost VARIANT [pyperf options]``; the variant ``view``
is the wrapped view alone, the baseline every own cost is measured from.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

import pyperf

from benchmarks.variants import VARIANTS, select
from benchmarks.wsgi import request_for

BASELINE = "view"


def chain_for(name: str) -> tuple[Callable[[Any], Any], Any]:
    """The variant's middleware around the view, as Django builds the chain, and
    a request of the variant's."""
    import django

    name_or_bare = "bare" if name == BASELINE else name
    variant = select(name_or_bare)
    django.setup()
    from django.core.exceptions import MiddlewareNotUsed
    from django.core.handlers.exception import convert_exception_to_response
    from django.core.handlers.wsgi import WSGIRequest
    from django.http import HttpResponse

    from envmaintenance.middleware import MaintenanceMiddleware

    def view(request: Any) -> HttpResponse:
        return HttpResponse(b"ok")

    chain: Any = convert_exception_to_response(view)
    if name != BASELINE:
        with contextlib.suppress(MiddlewareNotUsed):  # Django drops it: nothing added
            chain = convert_exception_to_response(MaintenanceMiddleware(chain))
    request = WSGIRequest(request_for(name_or_bare))
    if chain(request).status_code != variant.expected_status:
        raise SystemExit(f"{name}: not let through")
    return chain, request


def time_calls(loops: int, chain: Callable[[Any], Any], request: Any) -> float:
    started = time.process_time()
    for _ in range(loops):
        chain(request)
    return time.process_time() - started


def main() -> None:
    runner = pyperf.Runner(add_cmdline_args=lambda cmd, args: cmd.append(args.name))
    runner.argparser.add_argument("name", choices=[BASELINE, *VARIANTS])
    args = runner.parse_args()
    chain, request = chain_for(args.name) if args.worker else (None, None)
    runner.bench_time_func(f"own cost: {args.name}", time_calls, chain, request)


if __name__ == "__main__":
    main()
