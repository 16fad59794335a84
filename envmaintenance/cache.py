"""The last document a process applied, kept on local disk, so that a process
that starts while the store cannot be read (or has lost the document) starts
where its predecessors were, not where the environment is (as Envoy's and
feature-flag SDKs' on-disk caches do).

Written only by serving processes, after a read that brought a new document;
never by the command, which reads before it writes. A write that fails leaves
no file a process would trust, and is retried after every read until it
succeeds. Whatever stands at the path, reading it never raises: anything but a
regular file of this user, private to it, holding this switch's cache, is no
cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from envmaintenance.stores.base import MAX_DOCUMENT_BYTES
from envmaintenance.stores.disk import read_regular, write_atomically

logger = logging.getLogger("envmaintenance")

# The JSON around a document: its text, its revision and when it was read.
_MAX_CACHE_BYTES = 2 * MAX_DOCUMENT_BYTES + 1024
# Clocks of one host agree; a cache from further ahead than this was not
# written by a process of this host.
_FUTURE_SLACK_SECONDS = 60


def default_cache_path(url: str, key: str) -> Path | None:
    """``<temp dir>/envmaintenance-<uid>/switch-<digest>.json``: a directory of
    this user's alone (created 0700), a file per switch. None when the
    directory exists but is not private to this user: nobody else's file may
    decide what this process serves."""
    directory = Path(tempfile.gettempdir()) / f"envmaintenance-{os.getuid()}"
    with contextlib.suppress(FileExistsError, OSError):
        directory.mkdir(mode=0o700)
    try:
        status = directory.lstat()
    except OSError:
        return None
    private = (
        stat.S_ISDIR(status.st_mode)
        and status.st_uid == os.getuid()
        and not status.st_mode & 0o077
    )
    if not private:
        return None
    digest = hashlib.sha256(f"{url}\n{key}".encode()).hexdigest()[:16]
    return directory / f"switch-{digest}.json"


@dataclass(frozen=True)
class Cached:
    """A document as this host's processes last applied it."""

    text: str
    revision: int
    read_at: float  # when this revision was first read from the store


class SwitchCache:
    """One JSON file: {"switch", "revision", "document", "read_at"}."""

    def __init__(self, path: Path, switch: str) -> None:
        self.path, self.switch = path, switch
        self.behind = False  # the file does not hold what this process serves
        self._failed = False  # the last write failed (said once)

    def keep(self, text: str | None, revision: int, read_at: float | None) -> None:
        """After a read that changed what this process serves, or while the
        file is behind: write it, or leave nothing a process would trust (and
        try again after the next read)."""
        try:
            if text is None or read_at is None:
                self.distrust()
            else:
                self.save(Cached(text, revision, read_at))
        except OSError as exc:
            self.distrust()
            if not self._failed:
                logger.warning(
                    "Maintenance switch: cannot write the cache %s (%s): no process "
                    "will start from it until it is written again",
                    self.path,
                    exc.strerror or exc,
                )
            self._failed = self.behind = True
            return
        if self._failed:
            logger.info("Maintenance switch: the cache %s is written again", self.path)
        self._failed = self.behind = False

    def save(self, cached: Cached) -> None:
        """Replace the file in one rename; OSError when it cannot be written."""
        content = json.dumps(
            {
                "switch": self.switch,
                "revision": cached.revision,
                "document": cached.text,
                "read_at": cached.read_at,
            }
        )
        write_atomically(self.path, content.encode(), mode=0o600)

    def distrust(self) -> None:
        """After a failed write: the file holds an older document than this
        process serves, so no process may start from it. Removed (a full disk
        still allows that), else made writable by the group, which load()
        refuses (a directory that is not writable still allows that)."""
        try:
            self.path.unlink(missing_ok=True)
        except OSError:
            with contextlib.suppress(OSError):
                os.chmod(self.path, 0o660, follow_symlinks=False)

    def load(self, now: float) -> Cached | None:
        """The cached document, or None when there is none to trust."""
        try:
            data, status = read_regular(
                self.path, _MAX_CACHE_BYTES + 1, follow_symlinks=False
            )
        except OSError:
            return None
        if not _private(status) or len(data) > _MAX_CACHE_BYTES:
            return None
        try:
            found = json.loads(data)
            text, revision = found["document"], found["revision"]
            read_at = float(found["read_at"])
        except (ValueError, KeyError, TypeError):
            return None
        valid = (
            found.get("switch") == self.switch
            and isinstance(text, str)
            and type(revision) is int
            and revision >= 0
            and math.isfinite(read_at)
            and read_at <= now + _FUTURE_SLACK_SECONDS
        )
        return Cached(text, revision, read_at) if valid else None


def _private(status: os.stat_result) -> bool:
    """A file of this user that neither group nor others may write."""
    return status.st_uid == os.getuid() and not status.st_mode & (
        stat.S_IWGRP | stat.S_IWOTH
    )
