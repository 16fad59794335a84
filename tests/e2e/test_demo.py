"""`make demo` as a new user runs it: the hints it prints, the site it serves,
and a stop that leaves no gunicorn holding the port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port, request
from tests.processes import ROOT, child_environment


class Demo:
    def __init__(self, port: int, log: Path, **variables: str) -> None:
        self.port, self.log = port, log
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                ["make", "-s", "demo", f"PORT={port}"],
                cwd=ROOT,
                env=child_environment(**variables),
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches make and gunicorn alike
            )

    def wait_until_serving(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if request(self.port, "/healthz").status == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"the demo did not start:\n{self.text()}")

    def interrupt(self) -> int:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=20)

    def text(self) -> str:
        return self.log.read_text(errors="replace")


StartDemo = Callable[..., Demo]


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[StartDemo]:
    started: list[Demo] = []

    def start(port: int, **variables: str) -> Demo:
        running = Demo(port, tmp_path / f"demo-{len(started)}.log", **variables)
        started.append(running)
        return running

    yield start
    for running in started:
        if running.process.poll() is None:
            os.killpg(running.process.pid, signal.SIGKILL)
            running.process.wait(timeout=10)


def port_is_free(port: int) -> bool:
    """Nothing listens on the port (within gunicorn's graceful stop).

    SO_REUSEADDR lets the bind ignore closed connections in TIME_WAIT; it still
    fails while a listener holds the port.
    """
    deadline = time.monotonic() + 15
    while True:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                if time.monotonic() > deadline:
                    return False
            else:
                return True
        time.sleep(0.2)


def test_demo_with_maintenance_on_says_so_and_serves_it(demo: StartDemo) -> None:
    port = free_port()
    running = demo(port, MAINTENANCE_MODE="1")
    running.wait_until_serving()
    assert request(port, "/", source="127.0.0.1").status == 200
    assert request(port, "/", source="127.0.0.2").status == 503
    german = request(port, "/", source="127.0.0.2", headers={"Accept-Language": "de"})
    assert german.headers["content-language"] == "de"  # as the hint below says
    text = running.text()
    assert "-H 'Accept-Language: de'" in text
    assert "Maintenance is ON (MAINTENANCE_MODE=1). Allowed: 127.0.0.1,::1." in text
    assert "Switch it off: MAINTENANCE_MODE=0 make demo" in text
    assert f"kill $(cat .venv/demo-{port}.pid)" in text
    assert running.interrupt() is not None
    assert port_is_free(port)
    assert not (ROOT / ".venv" / f"demo-{port}.pid").exists()


def test_demo_with_maintenance_off_says_how_to_switch_it_on(demo: StartDemo) -> None:
    port = free_port()
    running = demo(port, MAINTENANCE_MODE="off")
    running.wait_until_serving()
    assert request(port, "/", source="127.0.0.2").status == 200
    text = running.text()
    assert "Maintenance is off (MAINTENANCE_MODE=off)." in text
    assert "Switch it on: MAINTENANCE_MODE=1 make demo" in text
    assert "503" not in text
    running.interrupt()
    assert port_is_free(port)


def test_a_second_demo_on_the_same_port_says_how_to_stop_the_first(
    demo: StartDemo,
) -> None:
    port = free_port()
    first = demo(port)
    first.wait_until_serving()
    second = demo(port)
    assert second.process.wait(timeout=30) != 0
    assert f"A demo is already serving port {port}" in second.text()
    assert "kill " in second.text()
    first.interrupt()


def test_a_bad_mode_stops_the_demo_with_the_parsers_message(demo: StartDemo) -> None:
    running = demo(free_port(), MAINTENANCE_MODE="maybe")
    assert running.process.wait(timeout=30) != 0
    assert "MAINTENANCE_MODE: 'maybe' is not a switch" in running.text()


def test_the_switch_command_the_demo_prints_switches_it_at_once(
    demo: StartDemo,
) -> None:
    port = free_port()
    running = demo(port, MAINTENANCE_MODE="0")
    running.wait_until_serving()
    printed = running.text().split("no restart:\n", 1)[1].split("\n  (then", 1)[0]
    command = printed.replace("\\\n", " ").split()
    assert command[-3:] == ["maintenance", "on", "--for", "10m"][-3:]
    environment, program = command[:2], command[2:]
    result = subprocess.run(
        program,
        cwd=ROOT,
        env=child_environment(**dict(pair.split("=", 1) for pair in environment)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "every process follows within 3 s once it can read file://" in result.stdout
    deadline = time.monotonic() + 15  # interval 2 s: a liveness bound, not a speed
    while request(port, "/", source="127.0.0.2").status != 503:
        assert time.monotonic() < deadline, "the demo did not follow its switch"
        time.sleep(0.1)
    running.interrupt()


def leave_switch(port: int, text: str) -> Path:
    """The switch file an earlier demo on this port left behind."""
    switch = ROOT / ".venv" / f"demo-{port}.switch"
    switch.write_text(text)
    return switch


def test_a_mode_given_is_not_overridden_by_a_leftover_switch(demo: StartDemo) -> None:
    port = free_port()
    switch = leave_switch(port, "MAINTENANCE_MODE=0\nSET_BY=earlier\n")
    running = demo(port, MAINTENANCE_MODE="1")
    running.wait_until_serving()
    assert request(port, "/", source="127.0.0.2").status == 503
    text = running.text()
    assert "Removed the switch an earlier demo left" in text
    assert "Maintenance is ON (MAINTENANCE_MODE=1)." in text
    assert not switch.exists()
    running.interrupt()


def test_the_hints_say_what_a_leftover_switch_decides(demo: StartDemo) -> None:
    port = free_port()
    switch = leave_switch(port, "MAINTENANCE_MODE=1\nSET_BY=earlier\n")
    try:
        running = demo(port)  # no MAINTENANCE_MODE: .env.example says 0
        running.wait_until_serving()
        assert request(port, "/", source="127.0.0.2").status == 503
        text = running.text()
        assert f"Maintenance is ON (the switch at file://{switch} says so" in text
        assert "Removed" not in text
        running.interrupt()
    finally:
        switch.unlink(missing_ok=True)


def test_a_leftover_switch_is_kept_when_asked(demo: StartDemo) -> None:
    port = free_port()
    switch = leave_switch(port, "MAINTENANCE_MODE=0\n")
    try:
        running = demo(port, MAINTENANCE_MODE="1", DEMO_KEEP_SWITCH="1")
        running.wait_until_serving()
        assert request(port, "/", source="127.0.0.2").status == 200
        assert "Maintenance is off (the switch at" in running.text()
        running.interrupt()
    finally:
        switch.unlink(missing_ok=True)
