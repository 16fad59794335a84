"""A switch in a file (file:///path): one document, replaced by a rename, and
the fleet's reports as files in a directory beside it."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import SplitResult, unquote

from envmaintenance.stores.base import (
    HISTORY_LENGTH,
    MAX_DOCUMENT_BYTES,
    MAX_ENTRY_BYTES,
    Conflict,
    Member,
    StoreError,
    SwitchLocation,
    decode_document,
    expected_url,
)
from envmaintenance.stores.disk import read_regular, write_atomically

# A report is a few hundred bytes; a larger file is not one of ours.
MAX_REPORT_BYTES = 4096
_REPORT_NAME = re.compile(r"([0-9a-f]{16})\.([0-9]{1,10})\.([0-9]{1,20})\.json")


def parse_location(text: str, parts: SplitResult) -> SwitchLocation:
    path = unquote(parts.path)
    if parts.netloc not in ("", "localhost") or parts.query:
        raise ValueError(expected_url(text, "a file URL has no host or query"))
    target = Path(path)
    if not path.startswith("/") or path.endswith("/") or target.name in ("", ".", ".."):
        raise ValueError(expected_url(text, "give an absolute path to a file"))
    if not target.parent.is_dir():
        raise ValueError(
            expected_url(text, f"the directory {str(target.parent)!r} does not exist")
        )
    return SwitchLocation("file", text, text, target)


def connect(location: SwitchLocation, key: str, timeout_seconds: float) -> FileStore:
    """A file needs no key and no timeout: its reads never block."""
    return FileStore(location)


class FileStore:
    def __init__(self, location: SwitchLocation) -> None:
        assert location.path is not None
        self.location = location
        self.path = location.path
        self.members = FileMembers(self.path.with_name(self.path.name + ".processes"))
        self.lock = self.path.with_name(self.path.name + ".lock")
        self.history = FileHistory(
            self.path.with_name(self.path.name + ".history"), self.lock
        )

    def read(self) -> str | None:
        """The file's text; None only when there is no file at all.

        Opened anew each time (a Kubernetes ConfigMap swaps a symlink), and read
        only if it is a regular file: a FIFO, a device, a socket or a directory
        at the path is a failed read, never a hang. A symlink to nothing is a
        failed read too, not "no document": a ConfigMap swap or a deploy in
        progress must not flip the state.
        """
        try:
            data, _status = read_regular(self.path, MAX_DOCUMENT_BYTES + 1)
            return decode_document(data)
        except FileNotFoundError:
            if self.path.is_symlink():
                raise StoreError(
                    f"{self.path} is a symlink to {os.readlink(self.path)!r}, "
                    f"which does not exist"
                ) from None
            return None
        except (OSError, StoreError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise StoreError(f"cannot read {self.path}: {reason}") from None

    def write(
        self,
        text: str,
        expected: str | None,
        *,
        force: bool = False,
        entry: bytes = b"",
    ) -> None:
        """Compare and replace under a lock beside the file, which only writers
        take: readers see the old document or the new one, never half."""
        problem = f"cannot write {self.path}"
        try:
            with _locked(self.lock):
                current = self.read()
                if current != expected and not force:
                    raise Conflict(current)
                write_atomically(self.path, text.encode(), mode=0o644, sync=True)
                if entry:
                    self.history.append_locked(entry)
        except OSError as exc:
            raise StoreError(f"{problem}: {exc.strerror or exc}") from None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # and the lock with it


class FileHistory:
    """<switch>.history: one JSON entry per line, oldest first, appended under
    the writers' lock and cut back to HISTORY_LENGTH entries now and then."""

    def __init__(self, path: Path, lock: Path) -> None:
        self.path, self.lock = path, lock

    def append(self, entry: bytes) -> None:
        try:
            with _locked(self.lock):
                self.append_locked(entry)
        except OSError as exc:
            raise StoreError(
                f"cannot write {self.path}: {exc.strerror or exc}"
            ) from None

    def append_locked(self, entry: bytes) -> None:
        """Under the lock: one line more, and the oldest cut when too many."""
        with self.path.open("ab") as history:
            history.write(entry.replace(b"\n", b" ") + b"\n")
        lines = self._lines()
        if len(lines) > HISTORY_LENGTH * 1.1:
            kept = b"".join(line + b"\n" for line in lines[-HISTORY_LENGTH:])
            write_atomically(self.path, kept, mode=0o644)

    def read(self, count: int) -> list[bytes]:
        try:
            lines = self._lines()
        except OSError as exc:
            raise StoreError(
                f"cannot read {self.path}: {exc.strerror or exc}"
            ) from None
        kept = [line for line in reversed(lines) if len(line) <= MAX_ENTRY_BYTES]
        return kept[: min(count, HISTORY_LENGTH)]

    def _lines(self) -> list[bytes]:
        limit = 2 * HISTORY_LENGTH * (MAX_ENTRY_BYTES + 1)
        try:
            data, _status = read_regular(self.path, limit, follow_symlinks=False)
        except FileNotFoundError:
            return []
        return [line for line in data.split(b"\n") if line]


class FileMembers:
    """<switch>.processes/<host key>/<id>.<pid>.<started>.json, one per process.

    The name says who the process is, so that a sibling can tell it has gone
    without reading it; the content is its last report.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.where = str(directory)

    def can_report(self) -> bool:
        """A directory that cannot be written (a ConfigMap volume) takes no
        report: try, leaving nothing behind."""
        try:
            self.directory.mkdir(exist_ok=True)
            probe = tempfile.mkstemp(dir=self.directory, prefix=".probe.")
        except OSError:
            return False
        os.close(probe[0])
        Path(probe[1]).unlink(missing_ok=True)
        return True

    def report(self, member: Member, revision: int, data: bytes) -> None:
        host = self.directory / member.host_key
        try:
            host.mkdir(parents=True, exist_ok=True)
            write_atomically(host / _name(member), data, mode=0o644)
        except OSError as exc:
            raise StoreError(f"cannot report to {self.where}: {exc}") from None

    def leave(self, member: Member) -> None:
        (self.directory / member.host_key / _name(member)).unlink(missing_ok=True)

    def forget(self, ids: Iterable[str]) -> None:
        wanted = set(ids)
        for path in self._files():
            found = _REPORT_NAME.fullmatch(path.name)
            if found and found[1] in wanted:
                path.unlink(missing_ok=True)

    def read(self) -> list[tuple[str, bytes]]:
        reports = []
        for path in self._files():
            found = _REPORT_NAME.fullmatch(path.name)
            data = _read_small(path) if found else None
            if found and data is not None:
                reports.append((found[1], data))
        return reports

    def siblings(self, host_key: str) -> list[Member]:
        try:
            names = os.listdir(self.directory / host_key)
        except OSError:
            return []
        found = (_REPORT_NAME.fullmatch(name) for name in names)
        return [
            Member(match[1], host_key, int(match[2]), int(match[3]))
            for match in found
            if match
        ]

    def highest_revision(self) -> int | None:
        reports = self.read()
        highest = 0
        for _id, data in reports:
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                revision = json.loads(data).get("revision")
                if isinstance(revision, int) and not isinstance(revision, bool):
                    highest = max(highest, revision)
        return highest if reports else None

    def _files(self) -> list[Path]:
        try:
            hosts = [p for p in self.directory.iterdir() if p.is_dir()]
            return [path for host in hosts for path in host.iterdir()]
        except OSError as exc:
            if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
                return []  # no member has reported here
            raise StoreError(f"cannot read {self.where}: {exc}") from None


def _name(member: Member) -> str:
    return f"{member.id}.{member.pid}.{member.started}.json"


def _read_small(path: Path) -> bytes | None:
    """A report file's bytes; None when it went away (that process left) or is
    not a report."""
    try:
        return read_regular(path, MAX_REPORT_BYTES + 1, follow_symlinks=False)[0]
    except OSError:
        return None
