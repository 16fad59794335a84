"""Local files, read and replaced safely: the file switch, its reports and the
local cache all go through here.

A read never blocks and never follows what it should not: it opens without
waiting (a FIFO), reads only a regular file, and at most a given size. A
replacement is a temporary file and a rename: readers see the old content or
the new, never half, and a write that fails leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFDIR: "a directory",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFLNK: "a symlink",
}


class NotARegularFile(OSError):
    """Something else stands at the path; the message says what."""


def read_regular(
    path: Path, limit: int, *, follow_symlinks: bool = True
) -> tuple[bytes, os.stat_result]:
    """At most ``limit`` bytes of a regular file, and its status; OSError
    otherwise (FileNotFoundError when nothing is there)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY
    if not follow_symlinks:
        flags |= os.O_NOFOLLOW
    descriptor = os.open(path, flags)
    try:
        status = os.fstat(descriptor)
        kind = stat.S_IFMT(status.st_mode)
        if kind != stat.S_IFREG:
            raise NotARegularFile(
                f"not a regular file ({_KINDS.get(kind, 'a special file')})"
            )
        chunks, size = [], 0
        while size < limit:
            chunk = os.read(descriptor, limit - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks), status
    finally:
        os.close(descriptor)


def write_atomically(path: Path, data: bytes, *, mode: int, sync: bool = False) -> None:
    """A temporary file beside ``path``, then a rename; OSError on failure.

    ``sync`` flushes the data to disk before the rename, for a document that
    must survive a power cut; reports and caches are rewritten soon anyway.
    """
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as target:
            target.write(data)
            if sync:
                target.flush()
                os.fsync(target.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
