"""Redis as teams run it for high availability, on 127.0.0.1 with free ports:
a primary with two replicas watched by three sentinels, a cluster of three
primaries with a replica each, and a server that speaks only TLS, to clients
holding a certificate of a CA the test makes in its own directory.

Every process is started with a deadline, waited for until it answers, and
killed when its fixture ends (SIGCONT first: a stopped one too), whatever
happened in the test.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from envmaintenance.stores import StoreError
from tests.e2e import switching
from tests.e2e.conftest import STARTUP_SECONDS, free_port, require

SERVICE = "switch"  # the name the sentinels know the primary by
DOWN_AFTER_MS = 1000  # a primary silent this long is down, for a sentinel
# Long enough that a failover never overlaps the next one in a test; a vote
# that splits is tried again after twice this.
FAILOVER_TIMEOUT_MS = 5000
CLUSTER_NODE_TIMEOUT_MS = 1000
# A hang guard, not a measure: a failover takes a few seconds on any machine.
DEADLINE_SECONDS = 60

T = TypeVar("T")


def until(condition: Callable[[], T | None], what: str) -> T:
    """switching.until, with a store or server that cannot answer yet counted
    as no, for DEADLINE_SECONDS."""
    import redis

    tolerating = (redis.RedisError, StoreError, OSError)
    return switching.until(
        condition, what, seconds=DEADLINE_SECONDS, tolerating=tolerating
    )


@dataclass
class Node:
    """One redis-server (or sentinel) process of a fixture's own."""

    command: list[str]
    directory: Path
    port: int
    connect: dict[str, Any] = field(default_factory=dict)  # the test's client
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Node:
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=self.directory,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited:\n{self.log_text()}")
            try:
                self.client().ping()
                return self
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def client(self, **options: Any) -> Any:
        """A client of the test's (not the package's), generous timeouts."""
        import redis

        settings = {"socket_timeout": 5, "socket_connect_timeout": 5, **self.connect}
        return redis.Redis(host="127.0.0.1", port=self.port, **settings, **options)

    def info(self, section: str) -> dict[str, Any]:
        return dict(self.client().info(section))

    def log_text(self) -> str:
        return (self.directory / "redis.log").read_text(errors="replace")

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        if self.alive:
            assert self.process is not None
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait(timeout=10)

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


def server_command(program: str, *options: str) -> list[str]:
    """redis-server on 127.0.0.1, persistence off; ``options`` name the port."""
    return [
        program,
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        *options,
    ]


class SentinelGroup:
    """A primary, two replicas and three sentinels (quorum 2) that watch it;
    with certificates, every one of them speaks TLS only, to each other too."""

    def __init__(
        self, program: str, directory: Path, certificates: Certificates | None = None
    ) -> None:
        self.program, self.directory = program, directory
        self.certificates = certificates
        self.connect = {} if certificates is None else tls_client(certificates)
        self.servers: list[Node] = []
        for name in ("primary", "replica-1", "replica-2"):
            port = free_port()
            options = self._listen(port)
            if self.servers:
                options += ["--replicaof", "127.0.0.1", str(self.servers[0].port)]
            command = server_command(program, *options)
            self.servers.append(Node(command, directory / name, port, self.connect))
        self.sentinels = [self._sentinel(number) for number in (1, 2, 3)]

    def _listen(self, port: int) -> list[str]:
        """The port to listen on, and TLS's options (a port of 0: no plain one)."""
        if self.certificates is None:
            return ["--port", str(port)]
        return ["--port", "0", *tls_arguments(self.certificates, port)]

    def _sentinel(self, number: int) -> Node:
        port, where = free_port(), self.directory / f"sentinel-{number}"
        where.mkdir(parents=True)
        primary = self.servers[0].port
        listen = self._listen(port)
        (where / "sentinel.conf").write_text(
            "".join(f"{name[2:]} {value}\n" for name, value in pairs(listen))
            + f"bind 127.0.0.1\ndir {where}\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {primary} 2\n"
            f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {SERVICE} {FAILOVER_TIMEOUT_MS}\n"
        )
        command = [self.program, str(where / "sentinel.conf"), "--sentinel"]
        return Node(command, where, port, self.connect)

    @property
    def url(self) -> str:
        sentinels = ",".join(f"127.0.0.1:{node.port}" for node in self.sentinels)
        if self.certificates is None:
            return f"redis+sentinel://{sentinels}/{SERVICE}/0"
        query = tls_query(self.certificates)
        return f"rediss+sentinel://{sentinels}/{SERVICE}/0?{query}"

    def start(self) -> SentinelGroup:
        for node in [*self.servers, *self.sentinels]:
            node.start()
        until(self._ready, "the sentinels knowing each other and both replicas")
        return self

    def _ready(self) -> bool:
        for replica in self.servers[1:]:
            if replica.info("replication").get("master_link_status") != "up":
                return False
        for sentinel in self.sentinels:
            state = sentinel.client().sentinel_master(SERVICE)
            if state["num-other-sentinels"] != 2 or state["num-slaves"] != 2:
                return False
        return True

    def primary_port(self) -> int:
        """Where the sentinels say the primary is (every one of them alike)."""
        answers = {
            int(sentinel.client().sentinel_get_master_addr_by_name(SERVICE)[1])
            for sentinel in self.sentinels
            if sentinel.alive
        }
        assert len(answers) == 1, answers
        return answers.pop()

    @property
    def primary(self) -> Node:
        return self.node_at(self.primary_port())

    def node_at(self, port: int) -> Node:
        return next(node for node in self.servers if node.port == port)

    def promoted(self, old: Node) -> Node:
        """Once every sentinel names another primary, and it says it is one."""

        def found() -> Node | None:
            port = self.primary_port()
            node = self.node_at(port)
            role = node.info("replication")["role"]
            return node if port != old.port and role == "master" else None

        return until(found, f"a replica promoted in place of {old.port}")

    def replicated(self, replicas: int = 2) -> None:
        """Until the primary's writes so far have reached ``replicas``."""
        assert self.primary.client().wait(replicas, 10_000) >= replicas

    def stop(self) -> None:
        for node in [*self.sentinels, *self.servers]:
            node.kill()


class Cluster:
    """Three primaries with a replica each, made by redis-cli --cluster create."""

    def __init__(self, program: str, cli: str, directory: Path) -> None:
        self.cli = cli
        self.nodes = []
        for number in range(6):
            port = free_port()
            command = server_command(
                program,
                "--port",
                str(port),
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                str(CLUSTER_NODE_TIMEOUT_MS),
                # Not the port + 10000 default: free, and below 65536.
                "--cluster-port",
                str(free_port()),
            )
            self.nodes.append(Node(command, directory / f"node-{number}", port))

    @property
    def url(self) -> str:
        """Three of the six as seeds: the client finds the rest."""
        seeds = ",".join(f"127.0.0.1:{node.port}" for node in self.nodes[:3])
        return f"redis+cluster://{seeds}"

    def start(self) -> Cluster:
        for node in self.nodes:
            node.start()
        addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
        replicas = ["--cluster-replicas", "1", "--cluster-yes"]
        subprocess.run(
            [self.cli, "--cluster", "create", *addresses, *replicas],
            check=True,
            capture_output=True,
            timeout=DEADLINE_SECONDS,
        )
        until(self._ready, "every node of the cluster agreeing it is up")
        return self

    def _ready(self) -> bool:
        for node in self.live:
            if node.client().cluster("info")["cluster_state"] != "ok":
                return False
            replication = node.info("replication")
            if replication["role"] == "slave" and (
                replication.get("master_link_status") != "up"
            ):
                return False
        return True

    @property
    def live(self) -> list[Node]:
        return [node for node in self.nodes if node.alive]

    def node_id(self, node: Node) -> str:
        return str(node.client().cluster("myid").decode())

    def owner(self, slot: int) -> Node:
        """The primary that serves the slot, as the live nodes all say."""

        def agreed() -> Node | None:
            owners = set()
            for node in self.live:
                for start, end, primary, *_ in node.client().execute_command(
                    "CLUSTER", "SLOTS"
                ):
                    if start <= slot <= end:
                        owners.add(int(primary[1]))
            return self.at(owners.pop()) if len(owners) == 1 else None

        return until(agreed, f"the live nodes agreeing who serves slot {slot}")

    def at(self, port: int) -> Node:
        return next(node for node in self.nodes if node.port == port)

    def primaries(self) -> list[Node]:
        return [n for n in self.live if n.info("replication")["role"] == "master"]

    def replica_of(self, primary: Node) -> Node:
        primary_id = self.node_id(primary)
        for node in self.live:
            replication = node.info("replication")
            if replication["role"] == "slave" and (
                int(replication["master_port"]) == primary.port
            ):
                return node
        raise AssertionError(f"no replica of {primary_id}")

    def migrate(self, slot: int, target: Node, between_keys: Callable[[], None]) -> int:
        """Move the slot to ``target`` one key at a time (the keys already moved
        answer ASK, a command on several keys TRYAGAIN), calling
        ``between_keys()`` after each; returns how many keys moved."""
        source = self.owner(slot)
        source_id, target_id = self.node_id(source), self.node_id(target)
        target.client().cluster("setslot", slot, "IMPORTING", source_id)
        source.client().cluster("setslot", slot, "MIGRATING", target_id)
        moved = 0
        while keys := source.client().cluster("getkeysinslot", slot, 1):
            source.client().migrate("127.0.0.1", target.port, keys, 0, 5000)
            moved += 1
            between_keys()
        for node in [target, source, *self.primaries()]:
            node.client().cluster("setslot", slot, "NODE", target_id)
        return moved

    def stop(self) -> None:
        for node in self.nodes:
            node.kill()


@dataclass(frozen=True)
class Certificates:
    """A CA, a certificate for 127.0.0.1 signed by it, and a client's."""

    ca: Path
    server: Path
    server_key: Path
    client: Path
    client_key: Path


def make_certificates(directory: Path) -> Certificates:
    """With openssl, in ``directory``: EC keys, valid for two days."""
    openssl = require("openssl", "openssl")
    directory.mkdir(parents=True, exist_ok=True)

    def run(*arguments: str) -> None:
        subprocess.run(
            [openssl, *arguments],
            cwd=directory,
            check=True,
            capture_output=True,
            timeout=60,
        )

    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=envmaintenance test CA")  # fmt: skip
    for name, extension in (
        # A server is a client too: of its primary, or of the sentinels.
        (
            "server",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n",
        ),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ):
        (directory / f"{name}.ext").write_text(extension)
        run("req", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", f"/CN=envmaintenance test {name}")  # fmt: skip
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-set_serial", str(time.time_ns()), "-days", "2",
            "-extfile", f"{name}.ext", "-out", f"{name}.pem")  # fmt: skip
    return Certificates(
        directory / "ca.pem",
        directory / "server.pem",
        directory / "server.key",
        directory / "client.pem",
        directory / "client.key",
    )


def tls_arguments(certificates: Certificates, port: int) -> list[str]:
    """redis-server's options for TLS on ``port``, asking clients for a
    certificate, and replicating (or watching, for a sentinel) over TLS."""
    return [
        *("--tls-port", str(port), "--tls-replication", "yes"),
        *("--tls-cert-file", str(certificates.server)),
        *("--tls-key-file", str(certificates.server_key)),
        *("--tls-ca-cert-file", str(certificates.ca)),
    ]


def tls_client(certificates: Certificates) -> dict[str, Any]:
    """How the test's own client connects."""
    return {
        "ssl": True,
        "ssl_ca_certs": str(certificates.ca),
        "ssl_certfile": str(certificates.client),
        "ssl_keyfile": str(certificates.client_key),
    }


def tls_query(certificates: Certificates, *, client: bool = True) -> str:
    """The TLS options of a switch URL."""
    query = f"ssl_ca_certs={certificates.ca}"
    if client:
        query += f"&ssl_certfile={certificates.client}"
        query += f"&ssl_keyfile={certificates.client_key}"
    return query


def pairs(options: list[str]) -> list[tuple[str, str]]:
    return list(zip(options[::2], options[1::2], strict=True))


def tls_server(program: str, directory: Path, certificates: Certificates) -> Node:
    """redis-server on a TLS port only, asking clients for a certificate."""
    port = free_port()
    command = server_command(program, "--port", "0", *tls_arguments(certificates, port))
    return Node(command, directory, port, tls_client(certificates))
