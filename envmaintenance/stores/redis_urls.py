"""Redis URLs, parsed strictly at start-up: one server (redis://), the primary a
set of sentinels names (redis+sentinel://) or a cluster (redis+cluster://),
each with TLS (rediss…), an ACL user and TLS options in the query.

    redis://[user:password@]host[:port][/db]
    redis+sentinel://[user:password@]host[:port][,host[:port]…]/service[/db]
    redis+cluster://[user:password@]host[:port][,host[:port]…]

Errors are one line naming the problem, with the URL shown as redact_url shows
it: never its password, never its query.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, parse_qsl, unquote

from envmaintenance.stores.base import expected_url, redact_url

SERVER, SENTINEL, CLUSTER = "server", "sentinel", "cluster"
# scheme -> (topology, TLS)
SCHEMES = {
    "redis": (SERVER, False),
    "rediss": (SERVER, True),
    "redis+sentinel": (SENTINEL, False),
    "rediss+sentinel": (SENTINEL, True),
    "redis+cluster": (CLUSTER, False),
    "rediss+cluster": (CLUSTER, True),
}
DEFAULT_PORTS = {SERVER: 6379, SENTINEL: 26379, CLUSTER: 6379}
CERT_REQS = ("required", "optional", "none")
# The query parameters, as redis-py and Celery name them.
TLS_OPTIONS = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs")
SENTINEL_OPTIONS = ("sentinel_username", "sentinel_password")
_EXAMPLES = {
    SENTINEL: "redis+sentinel://sentinel-1:26379,sentinel-2:26379/mymaster/0",
    CLUSTER: "redis+cluster://node-1:6379,node-2:6379",
}
_HOST_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?")
_NODE = re.compile(r"(\[(?P<v6>[^\]]*)\]|(?P<name>[^:]*))(:(?P<port>.*))?")
_SERVICE = re.compile(r"[A-Za-z0-9._~-]{1,128}")
_OPTION_NAME = re.compile(r"[a-z_]{1,32}")


@dataclass(frozen=True)
class Tls:
    """TLS as the query asks for it: certificates verified unless
    ssl_cert_reqs says otherwise, the host name too when required."""

    cert_reqs: str = "required"
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None


@dataclass(frozen=True)
class RedisTarget:
    """What a Redis URL names: where to connect, as whom, how."""

    topology: str  # SERVER, SENTINEL or CLUSTER
    nodes: tuple[tuple[str, int], ...]  # the server, the sentinels or the seeds
    username: str | None
    password: str | None
    database: int = 0
    service: str | None = None  # the name the sentinels know the primary by
    tls: Tls | None = None
    sentinel_username: str | None = None
    sentinel_password: str | None = None


def parse_redis_url(text: str, parts: SplitResult) -> RedisTarget:
    """A RedisTarget, or ValueError saying in one line what is wrong."""
    topology, secure = SCHEMES[parts.scheme]
    userinfo, _, hosts = parts.netloc.rpartition("@")
    username, password = _credentials(userinfo)
    nodes: tuple[tuple[str, int], ...]
    if topology == SERVER:
        nodes = (_server(text, parts),)
        database = _database(text, parts.path.lstrip("/"))
        service = None
    else:
        nodes = _nodes(text, hosts, topology)
        service, database = _path(text, parts.path, topology)
    options = _query(text, parts.query, topology, secure)
    tls = _tls(text, options, topology) if secure else None
    return RedisTarget(
        topology,
        nodes,
        username,
        password,
        database,
        service,
        tls,
        options.get("sentinel_username"),
        options.get("sentinel_password"),
    )


def _credentials(userinfo: str) -> tuple[str | None, str | None]:
    """user:password, :password or user, percent-decoded (as redis-py does)."""
    if not userinfo:
        return None, None
    user, colon, password = userinfo.partition(":")
    return unquote(user) or None, unquote(password) if colon else None


def _server(text: str, parts: SplitResult) -> tuple[str, int]:
    """One server: read by urlsplit, with the messages redis:// always had."""
    try:
        port = parts.port
    except ValueError:
        port = 0
    if not parts.hostname:
        raise ValueError(expected_url(text, "a Redis URL needs a host"))
    if port == 0:
        raise ValueError(expected_url(text, "its port is not a number from 1 to 65535"))
    return unquote(parts.hostname), port or DEFAULT_PORTS[SERVER]


def _database(text: str, database: str) -> int:
    if database and not (database.isascii() and database.isdigit()):
        raise ValueError(expected_url(text, "the database is a number, like /0"))
    return int(database or 0)


def _nodes(text: str, hosts: str, topology: str) -> tuple[tuple[str, int], ...]:
    """host[:port],host[:port]…: each a host name, an IPv4 or a [bracketed] IPv6
    address; a port from 1 to 65535 (the topology's default when left out)."""
    what = "sentinel" if topology == SENTINEL else "node"
    if not hosts:
        raise ValueError(_expected(text, topology, f"give at least one {what}"))
    nodes: list[tuple[str, int]] = []
    for item in hosts.split(","):
        found = _NODE.fullmatch(item)
        host = "" if found is None else (found["v6"] or found["name"] or "")
        if found is None or not _is_host(host, bracketed=found["v6"] is not None):
            shown = repr(item) if item else "an empty one (two commas?)"
            raise ValueError(_expected(text, topology, f"{shown} is not a {what}"))
        port_text = found["port"]
        port = DEFAULT_PORTS[topology] if port_text is None else _port(port_text)
        if port is None:
            problem = f"the port of {item!r} is not a number from 1 to 65535"
            raise ValueError(_expected(text, topology, problem))
        if (host, port) in nodes:
            raise ValueError(_expected(text, topology, f"{item!r} is given twice"))
        nodes.append((host, port))
    return tuple(nodes)


def _is_host(host: str, *, bracketed: bool) -> bool:
    if bracketed:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return False
        return True
    return _HOST_NAME.fullmatch(host) is not None


def _port(text: str) -> int | None:
    if not (text.isascii() and text.isdigit()) or len(text) > 5:
        return None
    port = int(text)
    return port if 1 <= port <= 65535 else None


def _path(text: str, path: str, topology: str) -> tuple[str | None, int]:
    """Sentinel: /service[/db]. Cluster: nothing (or /0: a cluster has one
    database)."""
    segments = path.split("/")[1:] if path else []
    if topology == CLUSTER:
        if segments not in ([], [""], ["0"]):
            problem = "a cluster has database 0 only: leave the path out"
            raise ValueError(_expected(text, topology, problem))
        return None, 0
    if not segments or not segments[0]:
        problem = "name the service after the sentinels, like /mymaster"
        raise ValueError(_expected(text, topology, problem))
    if not _SERVICE.fullmatch(segments[0]):
        problem = "the service name is letters, digits, '.', '_', '~' or '-'"
        raise ValueError(_expected(text, topology, problem))
    if len(segments) > 2:
        problem = "the path is /service or /service/db, nothing more"
        raise ValueError(_expected(text, topology, problem))
    database = segments[1] if len(segments) == 2 else ""
    if database and not (database.isascii() and database.isdigit()):
        raise ValueError(_expected(text, topology, "the database is a number"))
    return segments[0], int(database or 0)


def _query(text: str, query: str, topology: str, secure: bool) -> dict[str, str]:
    """The query's options: each known, given once, with a value."""
    allowed = (TLS_OPTIONS if secure else ()) + (
        SENTINEL_OPTIONS if topology == SENTINEL else ()
    )
    if not query:
        return {}
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        problem = "the query is not name=value pairs joined by &"
        raise ValueError(_expected(text, topology, problem)) from None
    options: dict[str, str] = {}
    for name, value in pairs:
        # A name is shown only when it cannot be a secret pasted in its place.
        shown = repr(name) if _OPTION_NAME.fullmatch(name) else "a parameter"
        if name not in allowed:
            raise ValueError(_expected(text, topology, _unknown(shown, name, allowed)))
        if name in options:
            raise ValueError(_expected(text, topology, f"{shown} is given twice"))
        if not value:
            raise ValueError(_expected(text, topology, f"{shown} has no value"))
        options[name] = value
    return options


def _unknown(shown: str, name: str, allowed: tuple[str, ...]) -> str:
    if name in TLS_OPTIONS:
        return f"{shown} is a TLS option: it needs rediss://, rediss+sentinel:// or rediss+cluster://"
    if name in SENTINEL_OPTIONS:
        return f"{shown} is for redis+sentinel:// and rediss+sentinel:// only"
    if not allowed:
        return "query parameters are not supported here (TLS options need rediss://)"
    return f"query parameters are {', '.join(allowed)}; not {shown}"


def _tls(text: str, options: dict[str, str], topology: str) -> Tls:
    cert_reqs = options.get("ssl_cert_reqs", "required")
    if cert_reqs not in CERT_REQS:
        problem = f"ssl_cert_reqs is one of {', '.join(CERT_REQS)}"
        raise ValueError(_expected(text, topology, problem))
    files = {}
    for name in ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile"):
        path = options.get(name)
        if path is not None:
            if not path.startswith("/") or not Path(path).is_file():
                problem = f"{name}: {path!r} is not an absolute path to a file"
                raise ValueError(_expected(text, topology, problem))
            files[name] = path
    if "ssl_keyfile" in files and "ssl_certfile" not in files:
        problem = "ssl_keyfile needs ssl_certfile"
        raise ValueError(_expected(text, topology, problem))
    return Tls(
        cert_reqs,
        files.get("ssl_ca_certs"),
        files.get("ssl_certfile"),
        files.get("ssl_keyfile"),
    )


def _expected(text: str, topology: str, problem: str) -> str:
    """As expected_url() says it, with an example of this kind of URL."""
    if topology == SERVER:
        return expected_url(text, problem)
    return f"{redact_url(text)!r}: {problem}; expected a URL like {_EXAMPLES[topology]}"
