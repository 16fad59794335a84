"""Light processes that report exactly as web processes do, for a fleet simulated
against a real Redis: `python -m tests.e2e.reporters URL COUNT FIRST_PID
[INTERVAL [MODE]]` (MAINTENANCE_SWITCH_INTERVAL, 1 s unless given).

Each of COUNT switches has the package's own Reporter, with a pid of its own
from FIRST_PID on, on a host of its own (a process whose pid does not exist
would otherwise be removed by its siblings, as a killed worker is); they read
and report until stdin closes.

MODE "threads" (the default): each switch has its reader thread, as a web
process has. MODE "driven": one thread ticks every switch in turn, each once an
interval, spread evenly over it, reading inline as a process without threads
does (uWSGI without --enable-threads): the store sees the same commands, and a
two-core machine can simulate thousands without thousands of threads.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import time

from envmaintenance import state
from envmaintenance.conf import load_config
from envmaintenance.fleet import Reporter
from envmaintenance.stores import open_store
from envmaintenance.switch import Switch


def main(
    url: str, count: int, first_pid: int, interval: str = "1", mode: str = "threads"
) -> None:
    config = load_config(
        {"MAINTENANCE_SWITCH_URL": url, "MAINTENANCE_SWITCH_INTERVAL": interval}
    )
    assert config.switch is not None
    switches = []
    for number in range(count):
        store = open_store(config.switch, config.switch_key)  # as a process does
        reporter = Reporter(store.members)
        pid = first_pid + number
        reporter.member = dataclasses.replace(
            reporter.member, host_key=f"{reporter.member.host_key}~{pid}", pid=pid
        )
        switches.append(Switch(config, store, None, reporter))
    stopped = threading.Event()
    if mode == "driven":
        driver = threading.Thread(
            target=drive, args=(switches, int(interval), stopped), daemon=True
        )
        driver.start()
    else:
        for switch in switches:
            switch.start()
    print("reporting", flush=True)
    sys.stdin.read()  # until the test closes it
    stopped.set()
    for switch in switches:
        switch.stop()


def drive(switches: list[Switch], interval: int, stopped: threading.Event) -> None:
    """Switch.tick for each switch once an interval, inline, spread evenly."""
    step = interval / len(switches)
    due = time.monotonic()
    while not stopped.is_set():
        for switch in switches:
            now = state.clock()
            switch.refresh(now, inline=True)
            if switch.reporter is not None:
                switch.reporter.report(switch.report_fields(now))
            due += step
            if (late := due - time.monotonic()) > 0:
                stopped.wait(late)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), *sys.argv[4:6])
