from __future__ import annotations

import netaddr
import pytest
from hypothesis import given
from hypothesis import strategies as st

from envmaintenance.network import (
    InvalidNetwork,
    NetworkSet,
    address_key,
    parse_network,
)


def networks(*entries: str) -> NetworkSet:
    return NetworkSet(parse_network(entry) for entry in entries)


def admits(allowed: NetworkSet, address: str) -> bool:
    key = address_key(address)
    return key is not None and allowed.contains_key(key)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("10.0.0.1", "10.0.0.1/32"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("2001:db8::/32", "2001:db8::/32"),
        ("2001:DB8::1", "2001:db8::1/128"),
        ("::/0", "::/0"),
        ("::ffff:198.51.100.7", "198.51.100.7/32"),
        ("::1.2.3.4", "::1.2.3.4/128"),
    ],
)
def test_parse_network_accepts_canonical_forms(entry: str, expected: str) -> None:
    assert str(parse_network(entry)) == expected


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("10.0.0.0/33", "IPv4 allows 0 to 32"),
        ("2001:db8::/129", "IPv6 allows 0 to 128"),
        ("10.0.0.1/8", "did you mean 10.0.0.0/8?"),
        ("2001:db8::1/32", "did you mean 2001:db8::/32?"),
        ("010.0.0.1", "not a valid IP address"),
        ("10.1", "not a valid IP address"),
        ("300.1.2.3", "not a valid IP address"),
        ("0x0a000001", "not an IP address or CIDR block"),
        ("167772161", "not a valid IP address"),
        ("example.com", "names are not resolved, give IP addresses"),
        ("10.0.0.0/8;10.1.0.0/16", "separate entries with commas or spaces"),
        ("10.0.0.0/08", "not an IP address or CIDR block"),
        ("10.0.0.0/+8", "not an IP address or CIDR block"),
        ("10.0.0.0/ 8", "not an IP address or CIDR block"),
        ("10.0.0.0/\uff18", "not an IP address or CIDR block"),
        ("10.0.0.0/255.0.0.0", "has a netmask; did you mean 10.0.0.0/8?"),
        ("fe80::1%eth0", "has a zone id"),
        ("::ffff:10.0.0.0/8", "write IPv4 networks as a.b.c.d/n"),
        ("[::1]", "not an IP address or CIDR block"),
        ("", "not an IP address or CIDR block"),
        ("10.0.0.0/", "not an IP address or CIDR block"),
    ],
)
def test_parse_network_rejects_ambiguous_forms(entry: str, reason: str) -> None:
    with pytest.raises(InvalidNetwork) as info:
        parse_network(entry)
    assert repr(entry) in str(info.value)
    assert reason in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.1", 0x0A000001),
        ("::ffff:10.0.0.1", 0x0A000001),
        ("::FFFF:10.0.0.1", 0x0A000001),
        ("::1", (1 << 32) + 1),
    ],
)
def test_address_key_puts_mapped_addresses_on_their_ipv4_key(
    text: str, expected: int
) -> None:
    assert address_key(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "unknown",
        "010.0.0.1",
        "10.1",
        "1.2.3.4 ",
        "1.2.3.4\x00",
        "fe80::1%eth0",
        "[::1]",
        "1.2.3.4:80",
        "\ud800",
        "x" * 5000,
        "999.999.999.999",
        "1.2.3.4.5",
    ],
)
def test_address_key_rejects_anything_but_one_address(text: str) -> None:
    assert address_key(text) is None


@pytest.mark.parametrize(
    ("address", "inside"),
    [
        ("10.0.0.1", True),
        ("10.0.0.15", False),  # a prefix match on the string would admit it
        ("10.0.0.0", False),
        ("10.0.0.2", False),
        ("192.168.0.0", True),
        ("192.168.255.255", True),
        ("192.167.255.255", False),
        ("192.169.0.0", False),
        ("::ffff:192.168.3.4", True),
        ("::ffff:192.169.0.0", False),
        ("2001:db8::", True),
        ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", True),
        ("2001:db9::", False),
        ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", False),
        # The IPv4-compatible form is an IPv6 address, not 192.168.0.1.
        ("::192.168.0.1", False),
        ("not an address", False),
    ],
)
def test_membership_at_the_boundaries(address: str, inside: bool) -> None:
    allowed = networks("10.0.0.1", "192.168.0.0/16", "2001:db8::/32")
    assert admits(allowed, address) is inside


def test_ipv4_blocks_do_not_admit_ipv6_addresses_with_the_same_value() -> None:
    allowed = networks("0.0.0.0/1")
    assert not admits(allowed, "::1")
    assert admits(allowed, "0.0.0.1")


def test_ipv6_everything_does_not_admit_ipv4_clients() -> None:
    allowed = networks("::/0")
    assert admits(allowed, "2001:db8::1")
    assert not admits(allowed, "10.0.0.1")
    assert not admits(allowed, "::ffff:10.0.0.1")


def test_blocks_are_merged() -> None:
    allowed = networks(
        "10.0.0.0/25",
        "10.0.0.128/25",
        "10.0.0.5",
        "2001:db8::/33",
        "2001:db8:8000::/33",
    )
    assert [str(network) for network in allowed.networks] == [
        "10.0.0.0/24",
        "2001:db8::/32",
    ]
    assert len(allowed) == 2


def test_empty_set_admits_nobody() -> None:
    empty = NetworkSet()
    assert not empty
    assert not admits(empty, "127.0.0.1")
    assert not empty.covers_everything()


def test_covers_everything_only_for_zero_prefixes() -> None:
    assert networks("0.0.0.0/0").covers_everything()
    assert networks("::/0").covers_everything()
    assert not networks("0.0.0.0/1", "128.0.0.0/2").covers_everything()


def test_equality_and_hash_follow_the_merged_networks() -> None:
    assert networks("10.0.0.0/25", "10.0.0.128/25") == networks("10.0.0.0/24")
    assert hash(networks("10.0.0.0/24")) == hash(networks("10.0.0.0/24"))
    assert networks("10.0.0.0/24") != "10.0.0.0/24"
    assert repr(networks("10.0.0.0/24")) == "NetworkSet(['10.0.0.0/24'])"


@given(
    st.lists(st.ip_addresses(v=4).map(str), min_size=1, max_size=30),
    st.ip_addresses().map(str),
)
def test_membership_agrees_with_netaddr(entries: list[str], probe: str) -> None:
    blocks = [
        netaddr.IPNetwork(f"{entry}/{20 + i % 13}").cidr
        for i, entry in enumerate(entries)
    ]
    address = netaddr.IPAddress(probe)
    # An IPv4-mapped client (::ffff:a.b.c.d) is its IPv4 address, by design.
    if address.is_ipv4_mapped():
        address = address.ipv4()
    expected = any(address in block for block in blocks)
    assert admits(NetworkSet(blocks), probe) is expected


@given(st.text())
def test_address_key_never_raises(text: str) -> None:
    key = address_key(text)
    assert key is None or key >= 0
