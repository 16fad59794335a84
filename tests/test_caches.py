"""Every cache in the package is bounded in bytes, whatever clients send."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable

from envmaintenance import responses
from envmaintenance.client import ProxiedClient, TrustedProxies, remote_addr_key
from envmaintenance.network import NetworkSet, parse_network

MB = 1024 * 1024


def retained_bytes(requests: int, send: Callable[[int], object]) -> int:
    """Memory still held after ``send(n)`` for n in range(requests); each call
    builds its own header value, as a request would."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(requests):
            send(n)
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def test_accept_cache_keeps_no_large_values() -> None:
    # 300 distinct 10 kB values: 2.5 MB in a cache of 256 entries that kept them.
    def send(n: int) -> str:
        return responses.preferred_media_type(f"text/html, x/{n}, " + "x/y, " * 2000)

    assert retained_bytes(300, send) < MB / 4
    assert send(0) == responses.HTML


def test_accept_cache_of_short_values_stays_small() -> None:
    def send(n: int) -> str:
        return responses.preferred_media_type(f"text/html;q=0.5, x/{n:0>240}")

    assert retained_bytes(1000, send) < MB / 4


def test_forwarded_for_cache_keeps_no_large_values() -> None:
    proxies = TrustedProxies(NetworkSet([parse_network("10.0.0.0/8")]))
    resolve = ProxiedClient(proxies)

    def send(n: int) -> int | None:
        header = f"198.51.100.{n % 250}, " * 600 + f"10.0.{n // 250}.1"
        return resolve({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": header})

    assert retained_bytes(1000, send) < MB / 4


def test_forwarded_for_cache_of_short_values_stays_small() -> None:
    resolve = ProxiedClient(TrustedProxies(NetworkSet([parse_network("10.0.0.0/8")])))

    def send(n: int) -> int | None:
        header = f"198.51.{n // 250 % 250}.{n % 250}, " * 12
        return resolve({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": header})

    assert retained_bytes(6000, send) < 4 * MB


def test_remote_addr_cache_keeps_no_large_values() -> None:
    def send(n: int) -> int | None:
        return remote_addr_key({"REMOTE_ADDR": f"{n:x}" * 2000})

    assert retained_bytes(1000, send) < MB / 4


def test_a_long_accept_is_judged_by_its_first_media_ranges() -> None:
    json_first = "application/json, " + "x/y, " * 2000 + "text/html"
    assert responses.preferred_media_type(json_first) == responses.PROBLEM_JSON
    no_boundary = "text/plain;q=" + "9" * 5000
    assert responses.preferred_media_type(no_boundary) == responses.HTML
