"""What start-up costs, as pyperf benchmarks: loading an allowlist of N blocks
(with ``--track-memory``, the memory it takes), and rendering every answer in
every language a site serves (with ``--warmups 0``, in a new process, catalogs
loading included).

``python -m benchmarks.startup {config,languages} N|VARIANT [pyperf options]``
"""

from __future__ import annotations

import time

import pyperf

from benchmarks.variants import select


def blocks(count: int) -> str:
    """Blocks that do not merge: IPv4 /32s two apart, and IPv6 /64s."""
    entries = []
    for i in range(count):
        if i % 2:
            entries.append(f"2001:db8:{i // 65536:x}:{i % 65536:x}::/64")
        else:
            n = 0x0B000000 + i * 2
            entries.append(f"{n >> 24}.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}")
    return ",".join(entries)


def time_config_load(loops: int, count: int) -> float:
    from envmaintenance.conf import load_config

    environ = {"MAINTENANCE_MODE": "1", "MAINTENANCE_ALLOWED_IPS": blocks(count)}
    load_config({"MAINTENANCE_ALLOWED_IPS": "10.0.0.0/8"})  # imports and caches warm
    started = time.perf_counter()
    for _ in range(loops):
        config = load_config(environ)
    elapsed = time.perf_counter() - started
    assert len(config.allowed_networks) == count
    return elapsed


def time_pre_render(loops: int, name: str) -> float:
    """As the middleware does at start-up, in the variant's settings."""
    import django

    select(name)
    django.setup()
    from envmaintenance.conf import get_config
    from envmaintenance.languages import served_languages
    from envmaintenance.responses import UnavailableResponses

    config = get_config()
    started = time.perf_counter()
    for _ in range(loops):
        UnavailableResponses(config, config.environment, served_languages(config))
    return time.perf_counter() - started


def main() -> None:
    runner = pyperf.Runner(
        add_cmdline_args=lambda cmd, args: cmd.extend([args.what, args.subject])
    )
    runner.argparser.add_argument("what", choices=["config", "languages"])
    runner.argparser.add_argument("subject")
    args = runner.parse_args()
    if args.what == "config":
        count = int(args.subject)
        what = "memory" if args.track_memory else "load"
        name = f"config {what}, {count:,} blocks"
        runner.bench_time_func(name, time_config_load, count)
    else:
        name = f"pre-render, {args.subject}"
        runner.bench_time_func(name, time_pre_render, args.subject)


if __name__ == "__main__":
    main()
