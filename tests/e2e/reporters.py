"""Light processes that report exactly as web processes do, for a fleet simulated
against a real Redis: `python -m tests.e2e.reporters URL COUNT FIRST_PID`.

Each of COUNT switches has the package's own Reporter, with a pid of its own
from FIRST_PID on; they read and report until stdin closes.
"""

from __future__ import annotations

import sys

from envmaintenance.conf import load_config
from envmaintenance.fleet import InFlight, Reporter, reports_for
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
        reports = reports_for(store)
        assert reports is not None
        reporter = Reporter(reports, InFlight())
        reporter.pid = first_pid + number
        switches.append(Switch(config, store, None, reporter))
    for switch in switches:
        switch.start()
    print("reporting", flush=True)
    sys.stdin.read()  # until the test closes it
    for switch in switches:
        switch.stop()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
