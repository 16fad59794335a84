"""A TCP forwarder on 127.0.0.1 that a test can cut and restore: a network
partition between some processes and a server, as the processes see it.

Cut, it drops nothing and answers nothing: connections already open stop
carrying bytes, and new ones are accepted but never reach the server, so the
processes behind it see timeouts, as across a partition (not the quick refusal
of a server that is down). Restored, bytes flow again and new connections reach
the server.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Callable, Iterator

# How often a blocked thread looks at whether it should carry on or stop.
_TICK_SECONDS = 0.05


class Forwarder:
    """Listens on a free port of 127.0.0.1 and forwards to ``upstream_port``."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(_TICK_SECONDS)
        self.port: int = self._listener.getsockname()[1]
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._spawn(self._accept)

    def cut(self) -> None:
        self._flowing.clear()

    def restore(self) -> None:
        self._flowing.set()

    def close(self) -> None:
        """Stop for good: every socket closed, every thread ended."""
        self._closed.set()
        self._flowing.set()
        with self._lock:
            sockets, self._sockets = list(self._sockets), set()
        for each in [self._listener, *sockets]:
            with contextlib.suppress(OSError):
                each.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _keep(self, each: socket.socket) -> bool:
        with self._lock:
            if self._closed.is_set():
                each.close()
                return False
            self._sockets.add(each)
            return True

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _address = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed
            if self._keep(client):
                self._spawn(self._connect, client)

    def _connect(self, client: socket.socket) -> None:
        """Reach the server once bytes may flow; a client that waited longer
        than it wanted has gone by then, and is dropped."""
        while not self._flowing.wait(_TICK_SECONDS):
            if self._closed.is_set():
                return
        if self._closed.is_set():
            return
        try:
            server = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            client.close()
            return
        if self._keep(server):
            self._spawn(self._pump, client, server)
            self._spawn(self._pump, server, client)

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            for data in self._received(source):
                target.sendall(data)
        except OSError:
            pass
        for each in (source, target):
            with contextlib.suppress(OSError):
                each.shutdown(socket.SHUT_RDWR)

    def _received(self, source: socket.socket) -> Iterator[bytes]:
        """What ``source`` sends, while bytes may flow; until it closes."""
        while not self._closed.is_set():
            if not self._flowing.wait(_TICK_SECONDS):
                continue  # cut: leave the bytes where they are
            readable, _, _ = select.select([source], [], [], _TICK_SECONDS)
            if readable:
                data = source.recv(65536)
                if not data:
                    return
                yield data
