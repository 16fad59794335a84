"""Two variants in one process, their requests interleaved: a pyperf benchmark
for the small ratios.

On a shared VM, one process of a variant runs up to half again as fast as the
next (measured: 137 to 227 µs per request for the same variant, in spells of a
few seconds), far more than the 1 to 5% the targets allow. Built in one process
and asked in alternating batches, two variants share every spell, so their
ratio holds while the times do not: it is judged on the mean of the runs'
ratios.

``python -m benchmarks.paired NUMERATOR DENOMINATOR [pyperf options]``: the
benchmark "NUMERATOR | DENOMINATOR" has the numerator's time per request as its
values, and in each run's metadata (``denominator``) the denominator's mean time
per request over the same batches.
"""

from __future__ import annotations

import random
import time
from typing import Any

import pyperf
from django.test.utils import override_settings

from benchmarks.variants import VARIANTS, select
from benchmarks.wsgi import Handler, request_for

BATCH = 25  # requests of one variant before the other's
measured: list[float] = []  # the denominator's time per request, by value


def build(name: str) -> Handler:
    """The variant's handler, built with its middleware, settings and
    environment, and checked: its first answer has the variant's status."""
    from django.core.handlers.wsgi import WSGIHandler

    from envmaintenance.conf import get_config

    variant = VARIANTS[name]
    variant.apply_environment()
    get_config.cache_clear()
    with override_settings(MIDDLEWARE=variant.middleware, **variant.settings):
        handler: Handler = WSGIHandler()  # type: ignore[assignment]
    statuses = []
    handler(request_for(name), lambda status, *_: statuses.append(status))
    if int(statuses[0].split()[0]) != variant.expected_status:
        raise SystemExit(f"{name}: answered {statuses[0]}")
    return handler


def serve(handler: Handler, environ: dict[str, Any], count: int) -> float:
    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        return None

    started = time.process_time()
    for _ in range(count):
        result = handler(dict(environ), start_response)
        b"".join(result)
        result.close()  # type: ignore[attr-defined]
    return time.process_time() - started


def time_pair(loops: int, pair: list[tuple[Handler, dict[str, Any]]]) -> float:
    """The numerator's time; the denominator's, from the same batches, is kept
    for the second benchmark. Batches alternate A B B A, so that a trend within
    the measurement weighs on both alike."""
    times = [0.0, 0.0]  # the numerator's, the denominator's
    batches = max(1, loops // BATCH)
    for batch in range(batches):
        for index in (0, 1) if batch % 2 else (1, 0):
            handler, environ = pair[index]
            times[index] += serve(handler, environ, BATCH)
    measured.append(times[1] / (batches * BATCH))  # per request
    return times[0] * loops / (batches * BATCH)


class KeepTheDenominator:
    """A pyperf hook: after the values of a run, their denominator's mean goes
    into the run's metadata. One is made for the warm-ups and one for the
    values; the last one writes last."""

    name = "denominator"

    @classmethod
    def load(cls) -> type[KeepTheDenominator]:
        return cls

    def __init__(self) -> None:
        self.start = len(measured)

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None

    def teardown(self, metadata: dict[str, Any]) -> None:
        times = measured[self.start :]
        metadata["denominator"] = sum(times) / len(times)


def main() -> None:
    runner = pyperf.Runner(
        add_cmdline_args=lambda cmd, args: cmd.extend([args.top, args.bottom]),
        hooks=[KeepTheDenominator],
    )
    runner.argparser.add_argument("top", choices=VARIANTS)
    runner.argparser.add_argument("bottom", choices=VARIANTS)
    args = runner.parse_args()
    args.hook = [KeepTheDenominator.name]  # for every worker
    pair = []
    if args.worker:
        # The settings module of the variant that installs the more apps (the
        # denominator's on a tie); the other's own settings apply as it is built.
        select(max(args.bottom, args.top, key=lambda n: len(VARIANTS[n].apps)))
        import django

        django.setup()
        # The handler built second runs about 1% faster in this process
        # (measured with two variants that run the same code): each worker
        # builds them in an order of its own, so that it cancels out.
        order = [args.bottom, args.top]
        random.shuffle(order)
        handlers = {n: build(n) for n in order}
        pair = [(handlers[n], request_for(n)) for n in (args.top, args.bottom)]
    runner.bench_time_func(f"{args.top} | {args.bottom}", time_pair, pair)


if __name__ == "__main__":
    main()
