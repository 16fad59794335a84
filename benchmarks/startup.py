"""Config load time and resident memory growth for an allowlist of N blocks;
with ``languages``, the time to pre-render every body in every language."""

from __future__ import annotations

import json
import sys
import time


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


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


def main(count: int) -> None:
    from envmaintenance.conf import load_config

    environ = {"MAINTENANCE_MODE": "1", "MAINTENANCE_ALLOWED_IPS": blocks(count)}
    load_config({"MAINTENANCE_ALLOWED_IPS": "10.0.0.0/8"})  # imports and caches warm
    before = rss_mb()
    started = time.perf_counter()
    config = load_config(environ)
    seconds = time.perf_counter() - started
    grown = rss_mb() - before
    assert len(config.allowed_networks) == count
    print(json.dumps({"seconds": seconds, "rss_mb": grown}))


def pre_render() -> None:
    """As the middleware does at start-up, in the BENCH_VARIANT's settings."""
    import os

    import django

    from benchmarks.variants import VARIANTS

    VARIANTS[os.environ["BENCH_VARIANT"]].apply_environment()
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.project.settings"
    django.setup()
    from envmaintenance.conf import get_config
    from envmaintenance.languages import served_languages
    from envmaintenance.responses import UnavailableResponses

    config = get_config()
    started = time.perf_counter()
    languages = served_languages(config)
    UnavailableResponses(config, config.environment, languages)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "languages": len(languages.codes)}))


if __name__ == "__main__":
    if sys.argv[1] == "languages":
        pre_render()
    else:
        main(int(sys.argv[1]))
