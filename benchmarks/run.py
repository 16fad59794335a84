"""make bench: every figure in one run, as ratios, from pyperf's results.

Each variant is a pyperf benchmark, run in processes of its own; the rounds are
interleaved (every benchmark once per round, in a new shuffled order, appended
to one file), so a slow spell of a noisy machine lands on every variant alike.
The latencies with Redis stopped need two servers asked in turn: they are
measured by benchmarks/stalled.py and appended to the same file.
The targets are judged on the ratios; a missed one makes the exit status 1.
``python -m benchmarks.run --check`` judges the file of an earlier run again.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyperf

from benchmarks.targets import OWN_COSTS, PAIRS, report
from benchmarks.variants import (
    ASGI_VARIANTS,
    HTTP_VARIANTS,
    SITES,
    STALLED_VARIANT,
    VARIANTS,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results.json.gz"
PYTHON = sys.executable
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "4"))
PYPERF = ["--quiet", "--copy-env", "--append"]
IN_PROCESS = ["--processes", "3", "--values", "3", "--loops", "500"]
PAIRED = ["--processes", "6", "--values", "3", "--loops", "500"]
OWN_COST = ["--processes", "3", "--values", "3", "--loops", "20000"]
# Over HTTP, the server and its client share one CPU: a round trip between two
# vCPUs of a VM waits, in spells, for the other to wake (measured here: up to a
# quarter fewer requests per second, three to five times as many over 4 ms).
HTTP_CPU = min(os.sched_getaffinity(0))
OVER_HTTP = ["--processes", "3", "--values", "3", "--loops", "100"]
OVER_HTTP += ["--affinity", str(HTTP_CPU)]
# Blocks of benchmarks/stalled.py, per server and round.
STALLED_BLOCKS = 25


def pyperf_run(module: str, *args: str, options: list[str]) -> None:
    command = [PYTHON, "-m", module, *args, *PYPERF, str(RESULTS), *options]
    subprocess.run(command, cwd=ROOT, check=True, timeout=900)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 - loopback only
            return
        except urllib.error.HTTPError:
            return  # a 503 is an answer
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the server did not answer {url}")


def server_command(server: str, port: int) -> list[str]:
    """gunicorn with one sync worker, or uvicorn with one worker."""
    if server == "gunicorn":
        bind = ["--workers", "1", "--bind", f"127.0.0.1:{port}"]
        return [PYTHON, "-m", "gunicorn", *bind, "benchmarks.project.wsgi:application"]
    listen = ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    quiet = ["--no-access-log", "--log-level", "warning"]
    return [
        PYTHON,
        "-m",
        "uvicorn",
        *listen,
        *quiet,
        "benchmarks.project.asgi:application",
    ]


@contextlib.contextmanager
def serving(server: str, name: str, redis: Redis | None = None) -> Iterator[str]:
    """One server process serving one variant (following this Redis, if it is
    not the run's); yields its URL."""
    VARIANTS[name].prepare(Path(os.environ["BENCH_STATE_DIR"]))
    port = free_port()
    process = subprocess.Popen(
        server_command(server, port),
        cwd=ROOT,
        env={**os.environ, "BENCH_VARIANT": name, **(redis.env if redis else {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=pinned,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_for(url)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


def pinned() -> None:
    os.sched_setaffinity(0, {HTTP_CPU})


@dataclass(frozen=True)
class Redis:
    pid: int
    env: dict[str, str]  # what points a server at it


@contextlib.contextmanager
def redis_server(directory: Path) -> Iterator[Redis]:
    """A redis-server on loopback, for the Redis switch rows."""
    program = shutil.which("redis-server")
    if program is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    options = ["--save", "", "--appendonly", "no", "--dir", str(directory)]
    server = subprocess.Popen(
        [program, "--port", str(port), "--bind", "127.0.0.1", *options],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            if time.monotonic() > deadline:
                raise SystemExit("redis-server did not start")
            time.sleep(0.05)
        yield Redis(server.pid, {"BENCH_REDIS_URL": f"redis://127.0.0.1:{port}/0"})
    finally:
        server.terminate()
        server.wait(timeout=10)


def one_round(shuffled: list[str], stalled: Redis, round_number: int) -> None:
    state_dir = Path(os.environ["BENCH_STATE_DIR"])
    for name in shuffled:
        VARIANTS[name].prepare(state_dir)
        pyperf_run("benchmarks.wsgi", name, options=IN_PROCESS)
    for top, bottom in random.Random(round_number).sample(PAIRS, len(PAIRS)):
        VARIANTS[top].prepare(state_dir)
        VARIANTS[bottom].prepare(state_dir)
        pyperf_run("benchmarks.paired", top, bottom, options=PAIRED)
    for name in random.Random(round_number).sample(OWN_COSTS, len(OWN_COSTS)):
        VARIANTS[name].prepare(state_dir)
        pyperf_run("benchmarks.own_cost", name, options=OWN_COST)
        pyperf_run("benchmarks.own_cost", "view", options=OWN_COST)
    rows = [("gunicorn", n) for n in HTTP_VARIANTS]
    rows += [("uvicorn", n) for n in ASGI_VARIANTS]
    random.Random(round_number).shuffle(rows)
    for server, name in rows:
        with serving(server, name) as url:
            status = str(VARIANTS[name].expected_status)
            pyperf_run("benchmarks.http_client", f"{server}: {name}", url, status,
                       options=OVER_HTTP)  # fmt: skip
    for server in ("gunicorn", "uvicorn"):
        latencies_with_redis_stopped(server, stalled)


def latencies_with_redis_stopped(server: str, stalled: Redis) -> None:
    """benchmarks/stalled.py against two servers of the variant: one follows the
    run's Redis, the other a Redis SIGSTOPped once both have read it."""
    with (
        serving(server, STALLED_VARIANT) as healthy,
        serving(server, STALLED_VARIANT, stalled) as stopped,
    ):
        os.kill(stalled.pid, signal.SIGSTOP)
        try:
            client = ["benchmarks.stalled", server, stopped, healthy]
            command = [PYTHON, "-m", *client, str(STALLED_BLOCKS), str(RESULTS)]
            subprocess.run(
                command, cwd=ROOT, check=True, timeout=900, preexec_fn=pinned
            )
        finally:
            os.kill(stalled.pid, signal.SIGCONT)


def start_up() -> None:
    once = ["--processes", "3", "--values", "1", "--loops", "1"]
    for count in ("1", "100000"):
        pyperf_run("benchmarks.startup", "config", count, options=once)
        memory = ["--track-memory", "--warmups", "0", *once]
        pyperf_run("benchmarks.startup", "config", count, options=memory)
    cold = ["--warmups", "0", "--processes", "5", "--values", "1", "--loops", "1"]
    for name in SITES.values():
        pyperf_run("benchmarks.startup", "languages", name, options=cold)


def measure() -> None:
    RESULTS.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as directory:
        os.environ["BENCH_STATE_DIR"] = directory
        os.environ["PYTHONPATH"] = str(ROOT)
        with (
            redis_server(Path(directory)) as redis,
            redis_server(Path(directory)) as stalled,
        ):
            os.environ.update(redis.env)
            names = list(VARIANTS)
            for round_number in range(1, ROUNDS + 1):
                print(f"Round {round_number} of {ROUNDS}...", file=sys.stderr)
                random.Random(round_number).shuffle(names)
                one_round(names, stalled, round_number)
        # The start-up figures are run with a memory tracker: not in a round.
        start_up()


def main() -> None:
    if "--check" not in sys.argv[1:]:
        measure()
    text, missed = report(pyperf.BenchmarkSuite.load(str(RESULTS)))
    print(text)
    if "--check" not in sys.argv[1:]:
        (ROOT / "benchmarks" / "results.md").write_text(text + "\n")
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
