"""The local cache: whatever stands at its path, reading it never raises, and
only this switch's own file, private to this user, is trusted."""

from __future__ import annotations

import json
import os
import socket
import stat
import tempfile
from pathlib import Path

import pytest

from envmaintenance.cache import Cached, SwitchCache, default_cache_path

NOW = 1_800_000_000.0
ON = "REVISION=4\nMAINTENANCE_MODE=1\n"


def cache_at(path: Path) -> SwitchCache:
    return SwitchCache(path, "redis://cache:6379/0 envmaintenance:switch")


def test_a_saved_document_loads_back(tmp_path: Path) -> None:
    cache = cache_at(tmp_path / "cache.json")
    cache.save(Cached(ON, 4, NOW - 5))
    assert cache.load(NOW) == Cached(ON, 4, NOW - 5)
    assert stat.S_IMODE(os.stat(cache.path).st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.json"]


def content(**changes: object) -> str:
    fields = {
        "switch": "redis://cache:6379/0 envmaintenance:switch",
        "revision": 4,
        "document": ON,
        "read_at": NOW - 5,
    }
    fields.update(changes)
    return json.dumps(fields)


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "[]",
        content(switch="redis://elsewhere:6379/0 envmaintenance:switch"),
        content(revision="4"),
        content(revision=-1),
        content(revision=True),
        content(document=None),
        content(document=7),
        content(read_at="soon"),
        content(read_at=NOW + 3600),  # from the future
        content().replace(str(NOW - 5), "NaN"),
        content().replace(str(NOW - 5), "Infinity"),
        content().replace(str(NOW - 5), "1e400"),
        json.dumps({"switch": "redis://cache:6379/0 envmaintenance:switch"}),
        "x" * 40_000,
    ],
)
def test_anything_but_this_switchs_cache_is_no_cache(tmp_path: Path, text: str) -> None:
    path = tmp_path / "cache.json"
    path.write_text(text)
    path.chmod(0o600)
    assert cache_at(path).load(NOW) is None


def test_a_file_others_may_write_is_no_cache(tmp_path: Path) -> None:
    path = tmp_path / "cache.json"
    path.write_text(content())
    for mode in (0o620, 0o602, 0o666):
        path.chmod(mode)
        assert cache_at(path).load(NOW) is None


@pytest.mark.parametrize("kind", ["directory", "fifo", "socket", "symlink", "missing"])
def test_whatever_stands_at_the_path_never_raises(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    path = tmp_path / "cache.json"
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)  # no writer: a blocking open would hang
    elif kind == "socket":
        listening = socket.socket(socket.AF_UNIX)
        request.addfinalizer(listening.close)
        listening.bind(str(path))
    elif kind == "symlink":
        target = tmp_path / "elsewhere.json"
        target.write_text(content())
        target.chmod(0o600)
        path.symlink_to(target)
    assert cache_at(path).load(NOW) is None


def test_another_users_file_is_no_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "cache.json"
    cache_at(path).save(Cached(ON, 4, NOW))
    monkeypatch.setattr(os, "getuid", lambda: os.stat(path).st_uid + 1)
    assert cache_at(path).load(NOW) is None


def test_after_a_failed_write_no_process_trusts_the_file(tmp_path: Path) -> None:
    cache = cache_at(tmp_path / "cache.json")
    cache.save(Cached(ON, 4, NOW))
    cache.distrust()
    assert cache.load(NOW) is None
    assert not cache.path.exists()  # a full disk still allows removing it


def test_distrust_marks_a_file_it_cannot_remove(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A directory that cannot be written: the file stays, made untrusted."""
    cache = cache_at(tmp_path / "cache.json")
    cache.save(Cached(ON, 4, NOW))

    def refused(self: Path, missing_ok: bool = False) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "unlink", refused)
    cache.distrust()
    assert cache.path.exists()
    assert cache.load(NOW) is None


def test_the_default_cache_lives_in_a_private_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    path = default_cache_path("redis://cache:6379/0", "envmaintenance:switch")
    assert path is not None
    assert path.parent == tmp_path / f"envmaintenance-{os.getuid()}"
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    other = default_cache_path("redis://cache:6379/0", "shop:switch")
    assert other is not None
    assert other != path  # a file per switch


@pytest.mark.parametrize("mode", [0o755, 0o777, 0o1777])
def test_a_default_directory_others_may_enter_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: int
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    directory = tmp_path / f"envmaintenance-{os.getuid()}"
    directory.mkdir()
    directory.chmod(mode)  # made by someone else, or loosened: not private
    assert default_cache_path("redis://cache:6379/0", "k") is None


def test_a_default_path_that_is_a_symlink_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (tmp_path / f"envmaintenance-{os.getuid()}").symlink_to(elsewhere)
    assert default_cache_path("redis://cache:6379/0", "k") is None
