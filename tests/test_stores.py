from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from envmaintenance import stores
from envmaintenance.conf import ConfigError, load_config
from envmaintenance.stores import FileStore, StoreError, parse_switch_url


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
        ("ftp://host/switch", "the scheme must be file, redis or rediss"),
        ("/var/run/switch", "the scheme must be file, redis or rediss"),
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
    monkeypatch.setattr(stores, "find_spec", lambda name: None)
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
    store.write("MAINTENANCE_MODE=1\n")
    assert store.read() == "MAINTENANCE_MODE=1\n"
    assert os.stat(tmp_path / "switch").st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["switch"]  # no leftovers


def test_readers_never_see_half_a_document(tmp_path: Path) -> None:
    store = file_store(tmp_path / "switch")
    documents = [f"MAINTENANCE_MODE=1\nREASON={'x' * 8000}{n}\n" for n in range(2)]
    store.write(documents[0])
    seen: set[str | None] = set()
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            seen.add(store.read())

    reader = threading.Thread(target=read)
    reader.start()
    for index in range(300):
        store.write(documents[index % 2])
    done.set()
    reader.join(10)
    assert seen <= set(documents)


def test_file_store_trouble_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "switch").mkdir()  # a directory where the file should be
    store = file_store(tmp_path / "switch")
    with pytest.raises(StoreError, match="cannot read"):
        store.read()
    with pytest.raises(StoreError, match="cannot write"):
        store.write("MAINTENANCE_MODE=1\n")


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
    with pytest.raises(StoreError, match="cannot write"):
        file_store(tmp_path / "switch").write("MAINTENANCE_MODE=1\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["switch"]
