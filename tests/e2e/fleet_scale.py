"""A fleet simulated at scale against a real redis-server: light processes that
report exactly as web processes do (tests/e2e/reporters.py, 500 to a process),
what they cost the store per interval, and how long `processes` and `--wait`
take with all of them.

The 1,000-process case is a test (test_fleet_scale.py: everything confirmed
and listed) and a target of `make bench` (within an interval and a second);
10,000 is run once by hand, on a machine with the cores for it:

    .venv/bin/python -m tests.e2e.fleet_scale 10000 10

(count, then MAINTENANCE_SWITCH_INTERVAL). It starts its own redis-server on
127.0.0.1 in a temporary directory, prints FIGURE lines, then the figures as
one line of JSON, and stops everything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envmaintenance.fleet import read_fleet
from tests.e2e.conftest import free_port, require
from tests.e2e.redis_topologies import Node, server_command
from tests.e2e.switching import command, confirmed_seconds, switch_store
from tests.processes import ROOT

# Simulated processes to one Python process, driven in turn by one thread
# (reporters.py's "driven" mode): the store sees what it would see from as
# many web processes, and the machine runs a few Python processes, not
# thousands of threads.
PER_PROCESS = 500
FIRST_PID = 100_000
# A hang guard, not a measure.
DEADLINE_SECONDS = 300


@contextmanager
def simulated_fleet(url: str, count: int, interval: int) -> Iterator[None]:
    """``count`` reporters on the switch at ``url``, every one reporting, until
    the block ends (then each leaves, as a process that exits cleanly)."""
    processes = []
    try:
        for first in range(0, count, PER_PROCESS):
            size = min(PER_PROCESS, count - first)
            arguments = [url, str(size), str(FIRST_PID + first), str(interval)]
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "tests.e2e.reporters", *arguments, "driven"],
                    cwd=ROOT,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=None,
                    text=True,
                )
            )
        for process in processes:  # started together, waited for in turn
            assert process.stdout is not None
            assert process.stdout.readline() == "reporting\n"
        yield
    finally:
        for process in processes:
            if process.stdin is not None:
                process.stdin.close()
        for process in processes:
            try:
                process.wait(timeout=DEADLINE_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            if process.stdout is not None:
                process.stdout.close()


def reported(client: Any, count: int) -> None:
    """Until ``count`` processes have reported."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while client.hlen("{envmaintenance:switch}:members") < count:
        assert time.monotonic() < deadline, "the simulated fleet never reported"
        time.sleep(0.2)


@dataclass(frozen=True)
class Cost:
    """What one process costs the store per interval, on average."""

    commands: dict[str, float]  # by command
    bytes_in: float  # requests, as the server reads them
    bytes_out: float  # replies
    cpu_microseconds: float  # the server's CPU

    def __str__(self) -> str:
        calls = ", ".join(f"{name} {n:.2f}" for name, n in self.commands.items())
        return (
            f"{sum(self.commands.values()):.2f} commands ({calls}), "
            f"{self.bytes_in:.0f} bytes in and {self.bytes_out:.0f} out, "
            f"{self.cpu_microseconds:.0f} µs of the server's CPU"
        )


def measure(client: Any, seconds: float) -> Cost:
    """The server's counters over ``seconds`` of the fleet alone, per read and
    report (each process reads once an interval: one GET is one interval of
    one process, even where the simulation runs late and catches up)."""

    def counters() -> tuple[dict[str, Any], dict[str, Any], float]:
        stats, cpu = client.info("stats"), client.info("cpu")
        used = cpu["used_cpu_sys"] + cpu["used_cpu_user"]
        return stats, client.info("commandstats"), used

    before = counters()
    time.sleep(seconds)
    after = counters()
    calls = {
        name.removeprefix("cmdstat_").upper(): now["calls"]
        - before[1].get(name, {"calls": 0})["calls"]
        for name, now in sorted(after[1].items())
        if name not in ("cmdstat_info", "cmdstat_hlen")  # the test's own
    }
    intervals = calls["GET"]
    return Cost(
        {name: count / intervals for name, count in calls.items() if count},
        (after[0]["total_net_input_bytes"] - before[0]["total_net_input_bytes"])
        / intervals,
        (after[0]["total_net_output_bytes"] - before[0]["total_net_output_bytes"])
        / intervals,
        (after[2] - before[2]) * 1e6 / intervals,
    )


def timed(*args: str, url: str) -> tuple[float, Any]:
    """The command as an operator runs it (its own interval does not matter:
    a member is judged by the interval it reports): seconds, and its result."""
    started = time.monotonic()
    result = command(*args, url=url)
    return time.monotonic() - started, result


def run(count: int, interval: int) -> dict[str, float]:
    """The whole simulation, against a redis-server of its own: its figures."""
    program = require("redis-server", "redis-server")
    with tempfile.TemporaryDirectory() as directory:
        # The commands' private cache directory goes there too, not in /tmp.
        os.environ["TMPDIR"] = directory
        port = free_port()
        options = ("--maxclients", str(count + 1000))
        command = server_command(program, "--port", str(port), *options)
        node = Node(command, Path(directory), port)
        try:
            node.start()
            url = f"redis://127.0.0.1:{port}/0"
            with simulated_fleet(url, count, interval):
                reported(node.client(), count)
                return report(node.client(), url, count, interval)
        finally:
            node.kill()


def report(client: Any, url: str, count: int, interval: int) -> dict[str, float]:
    """Print what the simulation measured: the cost with a document in the
    store (every read brings it), then a confirmed write, then the listing (and
    the start of a command alone, which is not the listing's)."""
    seconds, result = timed("on", url=url)
    assert result.returncode == 0, result.stdout + result.stderr
    # Ten intervals: a process checks its host's other members once in ten.
    cost = measure(client, 10 * interval)
    print(f"FIGURE {count} processes, each per interval of {interval} s: {cost}")
    assert {"GET", "HSET", "ZADD", "HGETALL"} <= cost.commands.keys()
    seconds, result = timed("off", "--wait", "120", url=url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"All {count} processes (every process seen" in result.stdout
    confirmed = confirmed_seconds(result.stdout)
    print(
        f"FIGURE {count} processes: off --wait confirmed in "
        f"{confirmed:.1f} s (the whole command {seconds:.1f} s)"
    )
    starting, _version = timed("--version", url=url)
    seconds, result = timed("processes", "--json", url=url)
    assert result.returncode == 0, result.stderr
    listed = len(json.loads(result.stdout)["processes"])
    assert listed == count, result.stderr
    memory = client.info("memory")["used_memory_human"]
    print(
        f"FIGURE {count} processes: processes --json listed {listed} in "
        f"{seconds:.1f} s (the whole command); the server holds {memory}"
    )
    print(f"FIGURE {count} processes: one poll of --wait {poll(client, url)}")
    return {
        "confirmed": confirmed,
        "listed": seconds - starting,
        "listed_count": listed,
    }


def poll(client: Any, url: str) -> str:
    """What one poll of --wait costs: it reads every report (HSCAN, 1,000 a
    call) and checks each; the time here, and the server's time in HSCAN."""
    members = switch_store(url).members
    payload = sum(len(key) + len(data) for key, data in members.read())
    before = client.info("commandstats")["cmdstat_hscan"]
    started = time.monotonic()
    fleet = read_fleet(members, time.time(), float("inf"))
    seconds = time.monotonic() - started
    after = client.info("commandstats")["cmdstat_hscan"]
    return (
        f"reads {len(fleet.reports)} reports ({payload / 1e6:.1f} MB) in "
        f"{seconds:.2f} s, {after['calls'] - before['calls']} HSCAN taking "
        f"{(after['usec'] - before['usec']) / 1000:.0f} ms of the server's time"
    )


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]), int(sys.argv[2]))))
