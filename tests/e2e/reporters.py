"""Light processes that report exactly as web processes do, for a fleet simulated
against a real Redis: `python -m tests.e2e.reporters URL COUNT FIRST_PID`.

Each of COUNT switches has the package's own Reporter, with a pid of its own
from FIRST_PID on, on a host of its own (a process whose pid does not exist
would otherwise be removed by its siblings, as a killed worker is); they read
and report until stdin closes.
"""

from __future__ import annotations

import dataclasses
import sys

from envmaintenance.conf import load_config
from envmaintenance.fleet import Reporter
from envmaintenance.stores import open_store
from envmaintenance.switch import Switch


def main(url: str, count: int, first_pid: int) -> None:
    config = load_config(
        {"MAINTENANCE_SWITCH_URL": url, "MAINTENANCE_SWITCH_INTERVAL": "1"}
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
    for switch in switches:
        switch.start()
    print("reporting", flush=True)
    sys.stdin.read()  # until the test closes it
    for switch in switches:
        switch.stop()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
