"""The last good switch document, kept on local disk, so that a process that
starts while the store cannot be read starts where its predecessors were, not
where the environment is (as Envoy's and feature-flag SDKs' on-disk caches do).

Written after every successful read, atomically; read only at start-up, and
only when the store does not answer. The file is trusted only if it is a
regular file of this user that no one else may write.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from envmaintenance.stores import MAX_DOCUMENT_BYTES

# The JSON around a document: its text (or null: no document) and when it was read.
_MAX_CACHE_BYTES = 2 * MAX_DOCUMENT_BYTES + 1024


def default_cache_path(url: str, key: str) -> Path:
    """In the system's temporary directory, named after the switch it caches, so
    two sites on one host never share one."""
    digest = hashlib.sha256(f"{url}\n{key}".encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"envmaintenance-switch-{digest}.json"


@dataclass(frozen=True)
class Cached:
    """A document as a process last read it: None when the store held none."""

    text: str | None
    read_at: float


class SwitchCache:
    """One JSON file: {"switch": display, "document": text|null, "read_at": ts}."""

    def __init__(self, path: Path, switch: str) -> None:
        self.path, self.switch = path, switch

    def save(self, text: str | None, read_at: float) -> None:
        """Replace the file in one rename; OSError when it cannot be written."""
        content = json.dumps(
            {"switch": self.switch, "document": text, "read_at": read_at}
        )
        handle, temporary = tempfile.mkstemp(
            dir=self.path.parent, prefix=f".{self.path.name}."
        )
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as target:
                target.write(content)
            os.replace(temporary, self.path)  # mkstemp made it 0600: ours alone
        except OSError:
            Path(temporary).unlink(missing_ok=True)
            raise

    def load(self) -> Cached | None:
        """The cached document, or None when there is none to trust."""
        try:
            descriptor = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return None
        with os.fdopen(descriptor, "rb") as source:
            status = os.fstat(source.fileno())
            if not _trusted(status):
                return None
            data = source.read(_MAX_CACHE_BYTES + 1)
        try:
            found = json.loads(data)
            text, read_at = found["document"], float(found["read_at"])
        except (ValueError, KeyError, TypeError):
            return None
        if found.get("switch") != self.switch or not isinstance(text, str | None):
            return None
        return Cached(text, read_at)


def _trusted(status: os.stat_result) -> bool:
    """A regular file of this user that neither group nor others may write."""
    return (
        stat.S_ISREG(status.st_mode)
        and status.st_uid == os.getuid()
        and not status.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )
