from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envmaintenance.client import (
    MAX_TRUSTED_HOPS,
    ProxiedClient,
    TrustedProxies,
    hop_key,
    remote_addr_key,
)
from envmaintenance.network import NetworkSet, address_key, format_key, parse_network
from tests import reference

PROXY_NETWORKS = ["10.0.0.0/8", "2001:db8:ffff::/48", "127.0.0.1"]
PROXIES = TrustedProxies(NetworkSet(parse_network(entry) for entry in PROXY_NETWORKS))


def resolve(remote_addr: str | None, forwarded_for: str | None = None) -> str | None:
    meta = {}
    if remote_addr is not None:
        meta["REMOTE_ADDR"] = remote_addr
    if forwarded_for is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded_for
    key = ProxiedClient(PROXIES)(meta)
    return None if key is None else format_key(key)


@pytest.mark.parametrize(
    ("remote_addr", "forwarded_for", "client"),
    [
        # Untrusted peer: REMOTE_ADDR, whatever it forwards.
        ("203.0.113.7", None, "203.0.113.7"),
        ("203.0.113.7", "10.0.0.1", "203.0.113.7"),
        ("203.0.113.7", "127.0.0.1, 198.51.100.1", "203.0.113.7"),
        # One trusted proxy: the right-most hop.
        ("10.0.0.2", "198.51.100.1", "198.51.100.1"),
        # Left-most spoof: the client wrote the first entry, the proxy appended.
        ("10.0.0.2", "127.0.0.1, 198.51.100.1", "198.51.100.1"),
        ("10.0.0.2", "192.0.2.99, 198.51.100.1", "198.51.100.1"),
        # Two trusted hops are skipped.
        ("10.0.0.2", "198.51.100.1, 10.0.0.3", "198.51.100.1"),
        ("10.0.0.2", "192.0.2.99, 198.51.100.1, 10.0.0.3, 10.9.9.9", "198.51.100.1"),
        # All trusted: the left-most is the client.
        ("10.0.0.2", "10.0.0.4, 10.0.0.3", "10.0.0.4"),
        # Trusted proxy without a header: the proxy is the client.
        ("10.0.0.2", None, "10.0.0.2"),
        ("10.0.0.2", "", "10.0.0.2"),
        # IPv6 proxies, mapped proxies and mapped clients.
        ("2001:db8:ffff::1", "2001:db8:1::5", "2001:db8:1::5"),
        ("::ffff:10.0.0.2", "198.51.100.1", "198.51.100.1"),
        ("10.0.0.2", "::ffff:198.51.100.1", "198.51.100.1"),
        ("10.0.0.2", "198.51.100.1, ::ffff:10.0.0.3", "198.51.100.1"),
        # Ports and brackets as load balancers write them.
        ("10.0.0.2", "198.51.100.1:54321", "198.51.100.1"),
        ("10.0.0.2", "[2001:db8:1::5]:443", "2001:db8:1::5"),
        ("10.0.0.2", "[2001:db8:1::5]", "2001:db8:1::5"),
        ("10.0.0.2", " 198.51.100.1 ,\t10.0.0.3 ", "198.51.100.1"),
        # Several headers arrive comma-joined.
        ("10.0.0.2", "192.0.2.99,198.51.100.1", "198.51.100.1"),
        # The IPv4-compatible form is IPv6, never unwrapped to 10.0.0.3.
        ("10.0.0.2", "::10.0.0.3", "::10.0.0.3"),
    ],
)
def test_client_address(
    remote_addr: str, forwarded_for: str | None, client: str | None
) -> None:
    assert resolve(remote_addr, forwarded_for) == client


@pytest.mark.parametrize(
    "hop",
    [
        "garbage",
        "unknown",
        "",
        " ",
        "1.2.3.4.5",
        "[::1",
        "::1]",
        "[1.2.3.4]",
        "[::1]:",
        "[::1]80",
        "[::1]:99999",
        "1.2.3.4:",
        "1.2.3.4:http",
        "1.2.3.4:+80",
        "1.2.3.4:\u0668\u0660",
        "999.999.999.999",
        "198.051.100.7",
        "3325256711",
        "0xc6336407",
        "198.51.25607",
        "198.51.100.0/24",
        "fe80::1%eth0",
        "[fe80::1%eth0]:80",
        "1.2.3.4\x00",
        "x" * 5000,
    ],
)
def test_unparseable_hop_ends_the_walk_unresolved(hop: str) -> None:
    assert hop_key(hop) is None
    assert resolve("10.0.0.2", f"198.51.100.1, {hop}") is None


@pytest.mark.parametrize("remote_addr", [None, "", "garbage", "::1%lo", "\x00"])
def test_unparseable_remote_addr_is_unresolved(remote_addr: str | None) -> None:
    assert resolve(remote_addr, "198.51.100.1") is None


@pytest.mark.parametrize("remote_addr", [None, 12345, "1" * 65, " " * 100 + "10.0.0.1"])
def test_remote_addr_that_cannot_be_one_address(remote_addr: object) -> None:
    meta = {"REMOTE_ADDR": remote_addr, "HTTP_X_FORWARDED_FOR": "198.51.100.1"}
    assert remote_addr_key(meta) is None
    assert ProxiedClient(PROXIES)(meta) is None


@pytest.mark.parametrize(
    ("meta", "client"),
    [
        # gunicorn on a unix socket: REMOTE_ADDR is empty; uvicorn: absent.
        ({"REMOTE_ADDR": "", "HTTP_X_FORWARDED_FOR": "198.51.100.1"}, "198.51.100.1"),
        ({"HTTP_X_FORWARDED_FOR": "198.51.100.1"}, "198.51.100.1"),
        ({"HTTP_X_FORWARDED_FOR": "203.0.113.9, 198.51.100.1"}, "198.51.100.1"),
        ({"HTTP_X_FORWARDED_FOR": "198.51.100.1, 10.0.0.3"}, "198.51.100.1"),
        ({"REMOTE_ADDR": ""}, None),
        ({"HTTP_X_FORWARDED_FOR": "garbage"}, None),
        # A peer with an unparseable address is not a unix-socket peer.
        ({"REMOTE_ADDR": "garbage", "HTTP_X_FORWARDED_FOR": "198.51.100.1"}, None),
        # A peer with an address is judged by it, as before.
        (
            {"REMOTE_ADDR": "203.0.113.9", "HTTP_X_FORWARDED_FOR": "198.51.100.1"},
            "203.0.113.9",
        ),
    ],
)
def test_unix_socket_peer_is_a_trusted_proxy_when_declared(
    meta: dict[str, str], client: str | None
) -> None:
    trusted = TrustedProxies(PROXIES.networks, unix_socket=True)
    key = ProxiedClient(trusted)(meta)
    assert (None if key is None else format_key(key)) == client


@pytest.mark.parametrize("remote_addr", [None, ""])
def test_unix_socket_peer_stays_unknown_when_not_declared(
    remote_addr: str | None,
) -> None:
    meta = {"HTTP_X_FORWARDED_FOR": "198.51.100.1"}
    if remote_addr is not None:
        meta["REMOTE_ADDR"] = remote_addr
    assert ProxiedClient(PROXIES)(meta) is None
    assert remote_addr_key(meta) is None


def test_trusted_proxies_list_unix_first() -> None:
    trusted = TrustedProxies(PROXIES.networks, unix_socket=True)
    assert trusted.entries() == ["unix", *PROXIES.networks.cidrs]
    assert TrustedProxies(unix_socket=True)
    assert not TrustedProxies()


def test_resolutions_are_cached_per_header_and_stay_correct() -> None:
    client = ProxiedClient(PROXIES)
    first = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "198.51.100.1"}
    second = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "198.51.100.2"}
    untrusted = {"REMOTE_ADDR": "203.0.113.9", "HTTP_X_FORWARDED_FOR": "198.51.100.1"}
    for _ in range(2):
        assert client(first) == address_key("198.51.100.1")
        assert client(second) == address_key("198.51.100.2")
        assert client(untrusted) == address_key("203.0.113.9")


def test_without_trusted_proxies_forwarding_headers_are_ignored() -> None:
    meta = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "198.51.100.1"}
    assert remote_addr_key(meta) == address_key("127.0.0.1")


def test_other_forwarding_headers_are_never_read() -> None:
    meta = {
        "REMOTE_ADDR": "10.0.0.2",
        "HTTP_X_REAL_IP": "192.0.2.1",
        "HTTP_CF_CONNECTING_IP": "192.0.2.2",
        "HTTP_TRUE_CLIENT_IP": "192.0.2.3",
        "HTTP_FORWARDED": "for=192.0.2.4",
    }
    assert ProxiedClient(PROXIES)(meta) == address_key("10.0.0.2")


def test_only_the_needed_hops_are_examined() -> None:
    # Everything left of the client is never parsed: a long, broken prefix
    # does not change the answer.
    prefix = ",".join(["not-an-address"] * 20_000)
    assert resolve("10.0.0.2", f"{prefix}, 198.51.100.1, 10.0.0.3") == "198.51.100.1"


def test_a_longer_run_of_trusted_hops_than_any_real_chain_is_unresolved() -> None:
    at_limit = ", ".join(["10.0.0.3"] * MAX_TRUSTED_HOPS)
    assert resolve("10.0.0.2", at_limit) == "10.0.0.3"
    assert resolve("10.0.0.2", f"198.51.100.1, {at_limit}") is None
    assert resolve("10.0.0.2", ", ".join(["10.0.0.3"] * 20_000)) is None


@settings(max_examples=400)
@given(st.lists(reference.hops(), max_size=8), reference.peers())
def test_walk_matches_an_independent_model(
    chain: list[reference.Written], peer: reference.Written
) -> None:
    model_proxies = NetworkSet(parse_network(str(block)) for block in reference.TRUSTED)
    meta = {
        "REMOTE_ADDR": peer.text,
        "HTTP_X_FORWARDED_FOR": ",".join(h.text for h in chain),
    }
    got = ProxiedClient(TrustedProxies(model_proxies))(meta)
    expected = reference.expected_client(peer, chain)
    assert (None if got is None else ipaddress.ip_address(format_key(got))) == expected
