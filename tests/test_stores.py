from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from envmaintenance.conf import ConfigError, load_config
from envmaintenance.stores import Conflict, Member, StoreError, parse_switch_url
from envmaintenance.stores import redis as redis_backend
from envmaintenance.stores.file import FileStore
from envmaintenance.stores.redis import related_key


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
        ("odd{}key", "{odd{}key}:members"),
    ],
)
def test_redis_keys_beside_the_document_share_its_hash_slot(
    key: str, related: str
) -> None:
    assert related_key(key, "members") == related
