from __future__ import annotations

import os
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from redis.crc import key_slot

from envmaintenance.conf import ConfigError, load_config
from envmaintenance.stores import (
    Conflict,
    Member,
    StoreError,
    parse_switch_url,
    redact_url,
)
from envmaintenance.stores import redis as redis_backend
from envmaintenance.stores.file import FileStore
from envmaintenance.stores.redis import related_key
from envmaintenance.stores.redis_clients import handshake_with_the_primary
from envmaintenance.stores.redis_urls import RedisTarget, Tls, parse_redis_url


def test_no_url_means_no_switch() -> None:
    assert load_config({}).switch is None
    assert load_config({"MAINTENANCE_SWITCH_URL": " "}).switch is None


def test_a_file_url(tmp_path: Path) -> None:
    location = parse_switch_url(f"file://{tmp_path}/switch")
    assert location is not None
    assert location.path == tmp_path / "switch"
    assert location.display == f"file://{tmp_path}/switch"


@pytest.mark.parametrize(
    ("url", "display"),
    [
        ("redis://redis:6379/0", "redis://redis:6379/0"),
        ("redis://localhost", "redis://localhost"),
        (
            "rediss://:s3cret@cache.internal:6380/2",
            "rediss://***@cache.internal:6380/2",
        ),
        ("redis://alice:s3cret@[::1]:6379/0", "redis://***@[::1]:6379/0"),
    ],
)
def test_redis_urls_are_shown_without_their_password(url: str, display: str) -> None:
    location = parse_switch_url(url)
    assert location is not None
    assert location.display == display
    assert "s3cret" not in repr(location)
    assert "s3cret" not in repr(load_config({"MAINTENANCE_SWITCH_URL": url}))


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://host/switch", "the scheme must be one of file, redis, rediss"),
        ("/var/run/switch", "the scheme must be one of file, redis, rediss"),
        ("file://relative/switch", "a file URL has no host or query"),
        ("file:///tmp/", "give an absolute path to a file"),
        ("file:///no/such/directory/switch", "the directory '/no/such/directory'"),
        ("file:///tmp/switch?x=1", "a file URL has no host or query"),
        ("redis://", "a Redis URL needs a host"),
        ("redis://redis:0/0", "its port is not a number from 1 to 65535"),
        ("redis://redis:65536/0", "its port is not a number from 1 to 65535"),
        ("redis://redis:http/0", "its port is not a number from 1 to 65535"),
        ("redis://redis:6379/zero", "the database is a number"),
        ("redis://redis:6379/0?socket_timeout=5", "query parameters"),
    ],
)
def test_bad_urls_stop_start_up_naming_the_problem(url: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config({"MAINTENANCE_SWITCH_URL": url})
    message = str(info.value)
    assert message.startswith("MAINTENANCE_SWITCH_URL: ")
    assert problem in message
    assert "expected a URL like file:///var/run/maintenance/switch" in message


def test_a_bad_url_never_shows_its_password() -> None:
    with pytest.raises(ConfigError) as info:
        load_config({"MAINTENANCE_SWITCH_URL": "redis://:hunter22@redis:99999/0"})
    assert "hunter22" not in str(info.value)
    with pytest.raises(ConfigError) as info:
        load_config({"MAINTENANCE_SWITCH_URL": "redis://:hunter22@[::1/0"})
    assert "hunter22" not in str(info.value)


def test_redis_without_the_extra_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(redis_backend, "find_spec", lambda name: None)
    with pytest.raises(ConfigError) as info:
        load_config({"MAINTENANCE_SWITCH_URL": "redis://redis:6379/0"})
    assert "pip install 'django-envmaintenance[redis]'" in str(info.value)


@pytest.mark.parametrize(
    ("variable", "raw", "problem"),
    [
        ("MAINTENANCE_SWITCH_INTERVAL", "0", "a whole number from 1 to 60"),
        ("MAINTENANCE_SWITCH_INTERVAL", "61", "a whole number from 1 to 60"),
        ("MAINTENANCE_SWITCH_INTERVAL", "2s", "a whole number from 1 to 60"),
        ("MAINTENANCE_SWITCH_KEY", "two words", "printable characters without"),
        ("MAINTENANCE_SWITCH_KEY", "k" * 300, "printable characters without"),
    ],
)
def test_interval_and_key_are_validated(variable: str, raw: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        load_config({variable: raw})


def test_interval_and_key_defaults_and_values() -> None:
    assert load_config({}).switch_interval_seconds == 2
    assert load_config({}).switch_key == "envmaintenance:switch"
    config = load_config(
        {"MAINTENANCE_SWITCH_INTERVAL": "5", "MAINTENANCE_SWITCH_KEY": "shop:switch"}
    )
    assert (config.switch_interval_seconds, config.switch_key) == (5, "shop:switch")


def file_store(path: Path) -> FileStore:
    location = parse_switch_url(f"file://{path}")
    assert location is not None
    return FileStore(location)


def test_the_file_store_writes_whole_documents_by_rename(tmp_path: Path) -> None:
    store = file_store(tmp_path / "switch")
    assert store.read() is None
    store.write("MAINTENANCE_MODE=1\n", None)
    assert store.read() == "MAINTENANCE_MODE=1\n"
    assert os.stat(tmp_path / "switch").st_mode & 0o777 == 0o644
    # No leftovers: the document, and the lock writers take.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["switch", "switch.lock"]


def test_a_write_is_compare_and_set(tmp_path: Path) -> None:
    store = file_store(tmp_path / "switch")
    store.write("REVISION=1\n", None)
    with pytest.raises(Conflict) as info:
        store.write("REVISION=2\n", None)  # expected none: there is one
    assert info.value.current == "REVISION=1\n"
    with pytest.raises(Conflict):
        store.write("REVISION=2\n", "REVISION=0\n")
    store.write("REVISION=2\n", "REVISION=1\n")
    store.write("REVISION=9\n", "anything", force=True)
    assert store.read() == "REVISION=9\n"


def test_racing_writers_never_lose_a_write(tmp_path: Path) -> None:
    """Each writer reads, then writes one above what it read: a lost race is a
    Conflict, never a second document with the same revision."""
    store = file_store(tmp_path / "switch")
    store.write("REVISION=0\n", None)
    written: list[int] = []

    def writer() -> None:
        for _ in range(50):
            current = store.read()
            assert current is not None
            revision = int(current.split("=")[1]) + 1
            try:
                store.write(f"REVISION={revision}\n", current)
            except Conflict:
                continue
            written.append(revision)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(written) == list(range(1, len(written) + 1))
    assert store.read() == f"REVISION={len(written)}\n"


def test_readers_never_see_half_a_document(tmp_path: Path) -> None:
    store = file_store(tmp_path / "switch")
    documents = [f"MAINTENANCE_MODE=1\nREASON={'x' * 8000}{n}\n" for n in range(2)]
    store.write(documents[0], None)
    seen: set[str | None] = set()
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            seen.add(store.read())

    reader = threading.Thread(target=read)
    reader.start()
    for index in range(300):
        store.write(documents[index % 2], None, force=True)
    done.set()
    reader.join(10)
    assert seen <= set(documents)


def test_file_store_trouble_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "switch").mkdir()  # a directory where the file should be
    store = file_store(tmp_path / "switch")
    with pytest.raises(StoreError, match="cannot read"):
        store.read()
    with pytest.raises(StoreError, match="cannot"):
        store.write("MAINTENANCE_MODE=1\n", None)


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"\xff\xfe", "not UTF-8"), (b"x" * 20_000, "over 16384 bytes")],
)
def test_what_is_no_document_is_a_store_error(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    (tmp_path / "switch").write_bytes(content)
    with pytest.raises(StoreError, match=problem):
        file_store(tmp_path / "switch").read()


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    (tmp_path / "switch").mkdir()
    (tmp_path / "switch" / "occupied").write_text("x")  # rename cannot replace it
    with pytest.raises(StoreError, match="cannot"):
        file_store(tmp_path / "switch").write("MAINTENANCE_MODE=1\n", None, force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["switch", "switch.lock"]


def test_a_fifo_at_the_path_is_a_failed_read_never_a_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "switch")
    with pytest.raises(StoreError, match=r"not a regular file \(a FIFO\)"):
        file_store(tmp_path / "switch").read()


MEMBER = Member("0123456789abcdef", "web-1~boot~4026531836", 100, 12345)


def test_file_members_report_read_leave_and_forget(tmp_path: Path) -> None:
    members = file_store(tmp_path / "switch").members
    assert members.can_report()
    assert members.read() == []
    assert members.highest_revision() is None  # no member at all
    members.report(MEMBER, 3, b'{"revision": 3}')
    other = Member("fedcba9876543210", MEMBER.host_key, 101, 1)
    members.report(other, 4, b'{"revision": 4}')
    assert sorted(members.read()) == [
        ("0123456789abcdef", b'{"revision": 3}'),
        ("fedcba9876543210", b'{"revision": 4}'),
    ]
    assert members.highest_revision() == 4
    assert sorted(members.siblings(MEMBER.host_key), key=lambda m: m.pid) == [
        MEMBER,
        other,
    ]
    members.leave(other)
    members.forget([MEMBER.id])
    assert members.read() == []
    assert members.highest_revision() is None


def test_file_members_ignore_what_is_not_a_report(tmp_path: Path) -> None:
    members = file_store(tmp_path / "switch").members
    members.report(MEMBER, 1, b"x" * 10_000)  # oversized: read, then refused
    host = tmp_path / "switch.processes" / MEMBER.host_key
    (host / "stray.json").write_text("{}")  # not a member's name
    os.mkfifo(host / "1111111111111111.1.1.json")  # no hang
    assert [member_id for member_id, _data in members.read()] == [MEMBER.id]
    assert len(members.read()[0][1]) == 4097  # cut at the limit, judged later


def test_file_members_cannot_report_where_the_directory_cannot_be(
    tmp_path: Path,
) -> None:
    (tmp_path / "switch.processes").write_text("a file, not a directory")
    members = file_store(tmp_path / "switch").members
    assert not members.can_report()
    with pytest.raises(StoreError, match="cannot report"):
        members.report(MEMBER, 1, b"{}")


@pytest.mark.parametrize(
    ("key", "related"),
    [
        ("envmaintenance:switch", "{envmaintenance:switch}:members"),
        ("shop:{eu}:switch", "shop:{eu}:switch:members"),
        ("odd{}key", "{8752}:odd{}key:members"),
    ],
)
def test_redis_keys_beside_the_document_share_its_hash_slot(
    key: str, related: str
) -> None:
    assert related_key(key, "members") == related


# Issue 29: Sentinel, Cluster, ACL users and TLS options in the URL.


def redis_target(url: str) -> RedisTarget:
    """What a URL names, once it passed start-up's parsing."""
    assert parse_switch_url(url) is not None
    return parse_redis_url(url, urlsplit(url))


@pytest.fixture
def pem(tmp_path: Path) -> Path:
    """A file where a certificate would be (parsing only asks that it exists)."""
    path = tmp_path / "ca.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\n")
    return path


@pytest.mark.parametrize(
    ("url", "topology", "nodes", "service", "database"),
    [
        ("redis://redis:6379/3", "server", (("redis", 6379),), None, 3),
        ("redis://redis", "server", (("redis", 6379),), None, 0),
        ("redis://[::1]:7000", "server", (("::1", 7000),), None, 0),
        (
            "redis+sentinel://s-1:26379,s-2:26380,[::1]:26381/mymaster/2",
            "sentinel",
            (("s-1", 26379), ("s-2", 26380), ("::1", 26381)),
            "mymaster",
            2,
        ),
        (
            "redis+sentinel://10.0.0.1,10.0.0.2/shop.switch",
            "sentinel",
            (("10.0.0.1", 26379), ("10.0.0.2", 26379)),
            "shop.switch",
            0,
        ),
        ("redis+sentinel://s/m/", "sentinel", (("s", 26379),), "m", 0),
        (
            "redis+cluster://node_1:7000,node_2:7001",
            "cluster",
            (("node_1", 7000), ("node_2", 7001)),
            None,
            0,
        ),
        ("redis+cluster://n", "cluster", (("n", 6379),), None, 0),
        ("redis+cluster://n:7000/", "cluster", (("n", 7000),), None, 0),
        ("redis+cluster://n:7000/0", "cluster", (("n", 7000),), None, 0),
    ],
)
def test_every_redis_url_form_names_its_servers(
    url: str,
    topology: str,
    nodes: tuple[tuple[str, int], ...],
    service: str | None,
    database: int,
) -> None:
    target = redis_target(url)
    assert (target.topology, target.nodes) == (topology, nodes)
    assert (target.service, target.database, target.tls) == (service, database, None)
    assert (target.username, target.password) == (None, None)


@pytest.mark.parametrize(
    "scheme", ["redis", "rediss", "redis+sentinel", "rediss+sentinel", "redis+cluster"]
)
def test_an_acl_user_is_accepted_on_every_scheme(scheme: str) -> None:
    path = "/mymaster" if "sentinel" in scheme else ""
    url = f"{scheme}://switch-user:p%40ss%3Aword@host:7000{path}"
    target = redis_target(url)
    assert (target.username, target.password) == ("switch-user", "p@ss:word")
    location = parse_switch_url(url)
    assert location is not None
    assert location.display == f"{scheme}://***@host:7000{path}"
    assert "word" not in repr(location)


def test_a_password_alone_is_a_password_of_the_default_user() -> None:
    target = redis_target("redis+cluster://:s3cret@node:7000")
    assert (target.username, target.password) == (None, "s3cret")


def test_tls_options_come_from_the_query(tmp_path: Path, pem: Path) -> None:
    key = tmp_path / "client.key"
    key.write_text("key")
    url = (
        f"rediss+sentinel://s:26379/mymaster?ssl_ca_certs={pem}"
        f"&ssl_certfile={pem}&ssl_keyfile={key}&ssl_cert_reqs=optional"
    )
    target = redis_target(url)
    assert target.tls == Tls("optional", str(pem), str(pem), str(key))
    location = parse_switch_url(url)
    assert location is not None
    assert location.display == "rediss+sentinel://s:26379/mymaster?***"


@pytest.mark.parametrize(
    ("url", "tls"),
    [
        ("rediss://cache:6380", Tls()),
        ("rediss+cluster://n:7000", Tls()),
        ("rediss+sentinel://s/m", Tls()),
        ("rediss://cache?ssl_cert_reqs=none", Tls("none")),
    ],
)
def test_tls_verifies_certificates_unless_told_otherwise(url: str, tls: Tls) -> None:
    assert redis_target(url).tls == tls


def test_sentinels_may_have_credentials_of_their_own() -> None:
    target = redis_target(
        "redis+sentinel://app:pw@s/m?sentinel_username=watch&sentinel_password=pw2"
    )
    assert (target.username, target.password) == ("app", "pw")
    assert (target.sentinel_username, target.sentinel_password) == ("watch", "pw2")


SENTINEL_EXAMPLE = "redis+sentinel://sentinel-1:26379,sentinel-2:26379/mymaster/0"
CLUSTER_EXAMPLE = "redis+cluster://node-1:6379,node-2:6379"
SERVER_EXAMPLE = "file:///var/run/maintenance/switch or redis://redis:6379/0"


@pytest.mark.parametrize(
    ("url", "problem", "example"),
    [
        (
            "redis+sentinel:///mymaster",
            "give at least one sentinel",
            SENTINEL_EXAMPLE,
        ),
        ("redis+cluster://", "give at least one node", CLUSTER_EXAMPLE),
        (
            "redis+sentinel://s1,,s2/m",
            "an empty one (two commas?) is not a sentinel",
            SENTINEL_EXAMPLE,
        ),
        ("redis+cluster://n1,", "an empty one (two commas?) is not a node", None),
        ("redis+cluster://bad!host:7000", "'bad!host:7000' is not a node", None),
        ("redis+cluster://-n:7000", "'-n:7000' is not a node", None),
        (
            "redis+cluster://[::1]:7000,[zz]:7001",
            "'[zz]:7001' is not a node",
            CLUSTER_EXAMPLE,
        ),
        ("redis+cluster://[::1]x", "'[::1]x' is not a node", None),
        (
            "redis+sentinel://s1:0/m",
            "the port of 's1:0' is not a number from 1 to 65535",
            None,
        ),
        (
            "redis+sentinel://s1:65536/m",
            "the port of 's1:65536' is not a number from 1 to 65535",
            None,
        ),
        (
            "redis+cluster://n:7000,n:http",
            "the port of 'n:http' is not a number from 1 to 65535",
            None,
        ),
        (
            "redis+cluster://n:000007000",
            "the port of 'n:000007000' is not a number from 1 to 65535",
            None,
        ),
        ("redis+cluster://n:7000,n:7000", "'n:7000' is given twice", None),
        (
            "redis+sentinel://s1:26379",
            "name the service after the sentinels, like /mymaster",
            None,
        ),
        (
            "redis+sentinel://s1:26379/",
            "name the service after the sentinels, like /mymaster",
            None,
        ),
        (
            "redis+sentinel://s1/my%20master",
            "the service name is letters, digits, '.', '_', '~' or '-'",
            None,
        ),
        (
            "redis+sentinel://s1/mymaster/0/1",
            "the path is /service or /service/db, nothing more",
            None,
        ),
        ("redis+sentinel://s1/mymaster/zero", "the database is a number", None),
        (
            "redis+cluster://n:7000/1",
            "a cluster has database 0 only: leave the path out",
            CLUSTER_EXAMPLE,
        ),
        (
            "redis://redis?ssl_cert_reqs=none",
            "'ssl_cert_reqs' is a TLS option: it needs rediss://, rediss+sentinel:// "
            "or rediss+cluster://",
            SERVER_EXAMPLE,
        ),
        (
            "redis+cluster://n?ssl_ca_certs=/etc/ca.pem",
            "'ssl_ca_certs' is a TLS option",
            None,
        ),
        (
            "rediss://redis?socket_timeout=5",
            "query parameters are ssl_ca_certs, ssl_certfile, ssl_keyfile, "
            "ssl_cert_reqs; not 'socket_timeout'",
            None,
        ),
        (
            "rediss+sentinel://s/m?db=1",
            "query parameters are ssl_ca_certs, ssl_certfile, ssl_keyfile, "
            "ssl_cert_reqs, sentinel_username, sentinel_password; not 'db'",
            None,
        ),
        (
            "redis+sentinel://s/m?socket_timeout=5",
            "query parameters are sentinel_username, sentinel_password; not "
            "'socket_timeout'",
            None,
        ),
        (
            "redis+cluster://n?sentinel_password=x",
            "'sentinel_password' is for redis+sentinel:// and rediss+sentinel:// only",
            None,
        ),
        (
            "redis+cluster://n?x=1",
            "query parameters are not supported here (TLS options need rediss://)",
            None,
        ),
        (
            "rediss://redis?ssl_cert_reqs=maybe",
            "ssl_cert_reqs is one of required, optional, none",
            None,
        ),
        (
            "rediss://redis?ssl_cert_reqs=none&ssl_cert_reqs=required",
            "'ssl_cert_reqs' is given twice",
            None,
        ),
        ("rediss://redis?ssl_cert_reqs=", "'ssl_cert_reqs' has no value", None),
        (
            "rediss://redis?ssl_cert_reqs",
            "the query is not name=value pairs joined by &",
            None,
        ),
        (
            "rediss://redis?ssl_ca_certs=ca.pem",
            "ssl_ca_certs: 'ca.pem' is not an absolute path to a file",
            None,
        ),
        (
            "rediss+cluster://n?ssl_certfile=/no/such/client.pem",
            "ssl_certfile: '/no/such/client.pem' is not an absolute path to a file",
            CLUSTER_EXAMPLE,
        ),
    ],
)
def test_bad_redis_urls_stop_start_up_in_one_line(
    url: str, problem: str, example: str | None
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config({"MAINTENANCE_SWITCH_URL": url})
    message = str(info.value)
    assert message.startswith(f"MAINTENANCE_SWITCH_URL: {redact_url(url)!r}: ")
    assert problem in message
    assert "\n" not in message
    if example is not None:
        assert message.endswith(f"; expected a URL like {example}")


def test_a_key_file_needs_a_certificate(pem: Path) -> None:
    with pytest.raises(ConfigError, match="ssl_keyfile needs ssl_certfile"):
        load_config({"MAINTENANCE_SWITCH_URL": f"rediss://r?ssl_keyfile={pem}"})


def test_a_directory_is_no_certificate(tmp_path: Path) -> None:
    url = f"rediss://r?ssl_ca_certs={tmp_path}"
    with pytest.raises(ConfigError, match="is not an absolute path to a file"):
        load_config({"MAINTENANCE_SWITCH_URL": url})


def test_the_scheme_error_lists_every_scheme() -> None:
    with pytest.raises(ConfigError) as info:
        load_config({"MAINTENANCE_SWITCH_URL": "sentinel://s:26379/m"})
    assert (
        "the scheme must be one of file, redis, rediss, redis+sentinel, "
        "rediss+sentinel, redis+cluster, rediss+cluster;"
    ) in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "rediss+sentinel://u:hunter22@s1:bad/m?sentinel_password=hunter23",
        "redis+cluster://:hunter22@n1,,n2?x=hunter23",
        "rediss://u:hunter22@r?ssl_cert_reqs=hunter23",
        "rediss://u:hunter22@r?hunter23=1",
        "redis+sentinel://u:hunter22@s/m?hunter23",
    ],
)
def test_a_bad_redis_url_never_shows_its_password_or_query(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config({"MAINTENANCE_SWITCH_URL": url})
    assert "hunter22" not in str(info.value)
    assert "hunter23" not in str(info.value)


@pytest.mark.parametrize(
    "url", ["redis+sentinel://s:26379/m", "rediss+cluster://n:7000"]
)
def test_sentinel_and_cluster_without_the_extra_say_what_to_install(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setattr(redis_backend, "find_spec", lambda name: None)
    with pytest.raises(ConfigError) as info:
        load_config({"MAINTENANCE_SWITCH_URL": url})
    assert "pip install 'django-envmaintenance[redis]'" in str(info.value)


@pytest.mark.parametrize(
    "key",
    [
        "envmaintenance:switch",  # no hash tag: the whole key
        "shop:{eu}:switch",  # a tag
        "{envmaintenance:switch}",  # a tag that is the whole key
        "odd{}key",  # an empty tag is none: the whole key, which holds a '}'
        "a}b{c}",  # a tag after a '}'
        "}{",  # no tag, both braces
        "open{ended",  # no tag: '{' without '}'
        "x{}{y}",  # the first '{' decides: no tag
    ],
)
def test_every_key_of_a_switch_is_in_the_document_key_slot(key: str) -> None:
    """Redis Cluster's rule (CRC16 of the hash tag, or of the whole key), as
    redis-py computes it: the script and the pipelines touch one slot."""
    slot = key_slot(key.encode())
    names = ["members", "held", "history", "host:web-1~boot~4026531836"]
    related = [related_key(key, name) for name in names]
    assert {key_slot(name.encode()) for name in related} == {slot}
    assert len(set(related)) == len(names)
    assert key not in related


def test_related_keys_of_two_switches_never_collide() -> None:
    """Two keys whose stand-in tag is the same slot's keep keys of their own."""
    assert related_key("a}1", "members") != related_key("a}2", "members")


class FakeConnection:
    """What the handshake asks of a redis-py connection, answering ROLE."""

    host, port = "10.0.0.7", 6379

    def __init__(self, role: list[object]) -> None:
        self.role = role
        self.sent: list[tuple[object, ...]] = []

    def on_connect(self) -> None:
        self.sent.append(("AUTH", "SELECT"))

    def send_command(self, *args: object) -> None:
        self.sent.append(args)

    def read_response(self) -> list[object]:
        return self.role


def test_a_sentinel_connection_is_kept_only_to_the_primary() -> None:
    primary = FakeConnection([b"master", 3129, []])
    handshake_with_the_primary(primary)
    assert primary.sent == [("AUTH", "SELECT"), ("ROLE",)]
    replica = FakeConnection([b"slave", "10.0.0.6", 6379, b"connected", 3129])
    with pytest.raises(redis.exceptions.ConnectionError, match="not the primary"):
        handshake_with_the_primary(replica)
