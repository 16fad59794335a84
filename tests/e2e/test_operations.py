"""The operator's maintenance (issue 27), with real servers: one redis-server and
one gunicorn of 4 workers following it, shared by this module's tests, whose
allowlist leaves out 127.0.0.1 (every client here is blocked). `maintenance run`
around a command that succeeds, fails or is interrupted; a staff pass followed,
then revoked, in headless Chromium; the hook run once per event by the command
that writes, never by the workers, which have it in their environment too; and
the history of every write the module made. The waits' times are printed as
FIGURE lines (pytest -s)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from envmaintenance.documents import revision_of, settings_of
from envmaintenance.fleet import ProcessReport, read_fleet
from envmaintenance.history import PASS_ISSUED, PASS_REVOKED, SWITCHED
from tests.e2e.browser import Browser
from tests.e2e.conftest import RedisServer, Server, Start, request
from tests.e2e.switching import (
    INTERVAL,
    MANAGE,
    command,
    command_environment,
    reporting,
    switch_store,
    until,
    wait_for_workers,
)
from tests.processes import ROOT

WORKERS = 4
HOST = socket.gethostname()  # where the commands run, as the history names it
# The argument of every --wait: a hang guard, far above what a wait takes.
WAIT = "20"
# The command's line after each write, and after each confirmed wait.
_WRITTEN = re.compile(r", revision ([0-9]+)\b.*: every process follows within ")
_CONFIRMED = re.compile(
    rf"^All {WORKERS} processes \(every process seen in the last hour\) serve "
    r"revision ([0-9]+)(?:, after [^;]*)?; confirmed in ([0-9.]+) s\.",
    re.MULTILINE,
)
# What the history calls the state each action leaves.
STATE_AFTER = {"on": "on", "off": "off", "env": "environment"}
# The client `run` wraps: eight requests over new connections, their statuses
# one a line. Run as: sh -c '"$0" -c "$1" "$2" > "$3"' python PROBE port file.
PROBE = """
import http.client, sys
for _ in range(8):
    connection = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
    connection.request("GET", "/")
    print(connection.getresponse().status)
    connection.close()
"""
# The hook: one line per event it is told of.
HOOK = """#!/bin/sh
echo "$ENVMAINTENANCE_EVENT $ENVMAINTENANCE_REVISION $ENVMAINTENANCE_STATE" >> {record}
"""


@dataclass(frozen=True)
class Written:
    """One entry the history must hold."""

    event: str
    by: str
    reason: str
    revision: int = 0
    state: str = ""
    holder: str = ""
    pass_id: str = ""

    def line(self) -> re.Pattern[str]:
        """Its line in `history`: when (the group), what, who, where and why."""
        holder, by = re.escape(self.holder), re.escape(self.by)
        if self.event == PASS_ISSUED:
            what = rf"pass {self.pass_id} issued to {holder}, until \S+"
        elif self.event == PASS_REVOKED:
            what = rf"pass {self.pass_id} of {holder} revoked"
        else:
            what = rf"revision {self.revision}: {self.state}(?: until \S+)?"
        why = rf" \(reason: {re.escape(self.reason)}\)" if self.reason else ""
        return re.compile(rf"(\S+) {what} by {by} on {re.escape(HOST)}{why}")


@dataclass
class Site:
    url: str  # the switch
    server: Server
    pids: set[int]  # its workers, each reporting
    hook: Path  # in the workers' environment; the commands' only when a test says
    record: Path  # what the hook was told
    ledger: list[Written]  # every history entry the module's commands made

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"


@pytest.fixture(scope="module")
def site(
    start_module_app: Start,
    module_redis_server: RedisServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Site:
    directory = tmp_path_factory.mktemp("hook")
    hook, record = directory / "hook", directory / "events"
    hook.write_text(HOOK.format(record=record))
    hook.chmod(0o755)
    url = module_redis_server.url
    server = start_module_app(
        "gunicorn",
        workers=WORKERS,
        switch_url=url,
        switch_interval=str(INTERVAL),
        allowed_ips="192.0.2.1",  # not 127.0.0.1: every client here is blocked
        switch_hook=str(hook),
    )
    wait_for_workers(server, WORKERS)
    pids = reporting(url, server, WORKERS)
    return Site(url, server, pids, hook, record, [])


def answers(site: Site, path: str = "/", n: int = 8) -> set[int]:
    """The statuses a blocked client gets, over new connections."""
    return {request(site.server.port, path).status for _ in range(n)}


def revisions_written(output: str) -> list[int]:
    return [int(found) for found in _WRITTEN.findall(output)]


def switch(
    site: Site,
    action: str,
    by: str,
    reason: str,
    *,
    wait: bool = True,
    hook: bool = False,
) -> int:
    """`action --wait` (or without the wait), which must succeed, with the hook
    if asked: the revision written."""
    args = (action, "--by", by, "--reason", reason, *(("--wait", WAIT) if wait else ()))
    result = (
        command(*args, url=site.url, switch_hook=str(site.hook))
        if hook
        else command(*args, url=site.url)
    )
    written = revisions_written(result.stdout)
    state = STATE_AFTER[action]
    site.ledger += [Written(SWITCHED, by, reason, r, state) for r in written]
    assert result.returncode == 0, result.stdout + result.stderr
    (revision,) = written
    confirmed = [int(r) for r, _ in _CONFIRMED.findall(result.stdout)]
    assert confirmed == ([revision] if wait else []), result.stdout
    return revision


def stored(site: Site) -> str | None:
    return switch_store(site.url).read()


def workers(site: Site) -> list[ProcessReport]:
    store = switch_store(site.url)
    fleet = read_fleet(store.members, time.time(), float("inf"))
    return [report for report in fleet.reports if report.pid in site.pids]


def read_again_since(site: Site, moment: float) -> list[ProcessReport]:
    """Once every worker has read the switch after ``moment`` (wall clock):
    their reports."""

    def fresh() -> list[ProcessReport] | None:
        reports = workers(site)
        read = [r for r in reports if r.last_read_at and r.last_read_at > moment]
        return reports if len(read) == WORKERS else None

    return until(fresh, f"each of the {WORKERS} workers reading the switch again")


def serving(site: Site, revision: int) -> list[ProcessReport]:
    """Once every worker serves ``revision`` or a later one: their reports."""

    def switched() -> list[ProcessReport] | None:
        reports = [r for r in workers(site) if r.revision >= revision]
        return reports if len(reports) == WORKERS else None

    return until(switched, f"each of the {WORKERS} workers serving {revision}")


def assert_stays_on(site: Site, revision: int, since: float) -> None:
    """Nothing was written after ``revision``, maintenance is on in it, and
    every worker, having read the switch again, still serves it: 503."""
    text = stored(site)
    assert revision_of(text) == revision
    assert settings_of(text)["MAINTENANCE_MODE"] == "1"
    for report in read_again_since(site, since):
        assert (report.revision, report.state) == (revision, "on")
    assert answers(site) == {503}


# -- maintenance run ---------------------------------------------------------------


@pytest.mark.parametrize("before", ["env", "off"])
def test_run_switches_on_runs_the_command_and_puts_back_what_was_in_force(
    site: Site, tmp_path: Path, before: str
) -> None:
    """The command (sh running a client that exits 0) runs once every worker
    serves maintenance, and gets the 503 its visitors get; then what was in
    force before comes back, confirmed by every worker too."""
    switch(site, before, "ops", f"{before} before the run")
    assert answers(site) == {200}
    statuses = tmp_path / "statuses"
    started = time.monotonic()
    result = command(
        *("run", "--wait", WAIT, "--for", "20m", "--by", "ops", "--reason", "0042"),
        *("--", "sh", "-c", '"$0" -c "$1" "$2" > "$3"', sys.executable, PROBE),
        *(str(site.server.port), str(statuses)),
        url=site.url,
    )
    seconds = time.monotonic() - started
    written = revisions_written(result.stdout)
    site.ledger += [
        Written(SWITCHED, "ops", "0042", revision, state)
        for revision, state in zip(written, ("on", STATE_AFTER[before]), strict=False)
    ]
    assert result.returncode == 0, result.stdout + result.stderr
    on, back = written
    assert back == on + 1
    confirmed = [(int(r), float(s)) for r, s in _CONFIRMED.findall(result.stdout)]
    assert [revision for revision, _ in confirmed] == [on, back]  # every worker, twice
    assert statuses.read_text().split() == ["503"] * 8  # during the command
    assert answers(site) == {200}  # after it
    text = stored(site)
    assert revision_of(text) == back
    assert settings_of(text) == ({} if before == "env" else {"MAINTENANCE_MODE": "0"})
    (_, on_seconds), (_, back_seconds) = confirmed
    print(
        f"FIGURE run from {before}: on confirmed by {WORKERS} workers in "
        f"{on_seconds:.1f} s, {before} confirmed in {back_seconds:.1f} s; run took "
        f"{seconds:.2f} s (two command start-ups, two writes, two waits, the command)"
    )


def test_run_leaves_maintenance_on_when_the_command_fails(site: Site) -> None:
    switch(site, "env", "ops", "env before the run", wait=False)
    result = command(
        *("run", "--wait", WAIT, "--by", "ops", "--reason", "0043"),
        *("--", "sh", "-c", "exit 3"),
        url=site.url,
    )
    ended = time.time()
    written = revisions_written(result.stdout)
    site.ledger += [Written(SWITCHED, "ops", "0043", r, "on") for r in written]
    assert result.returncode == 3, result.stdout + result.stderr
    (revision,) = written  # on, and nothing after
    assert result.stderr.splitlines() == [
        f"sh exited with status 3: maintenance stays on (revision {revision}); "
        f"lift it with: manage.py maintenance env --wait"
    ]
    assert_stays_on(site, revision, ended)


def test_an_interrupted_run_ends_the_command_and_leaves_maintenance_on(
    site: Site, tmp_path: Path
) -> None:
    """SIGINT to `run` itself, no terminal (stdin is /dev/null, a session of its
    own): `run` forwards it to the command, which ends; `run` exits 128 + 2."""
    switch(site, "off", "ops", "off before the run", wait=False)
    started = tmp_path / "started"  # the command's pid, once it runs
    script = 'echo $$ > "$0.new" && mv "$0.new" "$0" && exec sleep 300'
    sleeper = ["sh", "-c", script, str(started)]
    running = subprocess.Popen(
        [
            *MANAGE,
            "run",
            "--wait",
            WAIT,
            "--by",
            "ops",
            "--reason",
            "0044",
            "--",
            *sleeper,
        ],
        cwd=ROOT,
        env=command_environment(site.url),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    child = 0
    try:
        until(
            lambda: started.exists() or running.poll() is not None,
            "the command started under run",
        )
        assert started.exists(), running.communicate(timeout=10)
        child = int(started.read_text())
        interrupted = time.monotonic()
        running.send_signal(signal.SIGINT)
        out, err = running.communicate(timeout=60)
        ended = time.time()
        print(
            f"FIGURE run interrupted: exit {running.returncode} "
            f"{time.monotonic() - interrupted:.2f} s after SIGINT"
        )
    finally:
        if running.poll() is None:
            running.kill()
            running.communicate(timeout=10)
        if child:
            with contextlib.suppress(ProcessLookupError):  # ended, as it should
                os.kill(child, signal.SIGKILL)
    written = revisions_written(out)
    site.ledger += [Written(SWITCHED, "ops", "0044", r, "on") for r in written]
    assert running.returncode == 128 + signal.SIGINT, out + err
    assert not Path(f"/proc/{child}").exists()  # the command ended
    (revision,) = written
    assert err.splitlines() == [
        f"sh was stopped by SIGINT: maintenance stays on (revision {revision}); "
        f"lift it with: manage.py maintenance off --wait"
    ]
    assert_stays_on(site, revision, ended)


# -- staff passes --------------------------------------------------------------------


def visit(browser: Browser, url: str) -> tuple[list[int], str]:
    """The statuses of the documents a navigation went through (redirects
    first), and the address it ended at."""
    browser.open(url, 1280, 800)
    chain = []
    for event in browser.events:
        params = event.get("params", {})
        if params.get("type") != "Document":
            continue
        method = event["method"]
        if method == "Network.requestWillBeSent" and "redirectResponse" in params:
            chain.append(params["redirectResponse"]["status"])
        elif method == "Network.responseReceived":
            chain.append(params["response"]["status"])
    return chain, str(browser.evaluate("location.href"))


def test_a_staff_pass_lets_its_browser_in_until_it_is_revoked(
    site: Site, browser: Browser
) -> None:
    switch(site, "on", "ops", "passes")
    # Pages without max-age only: under /pages/ (public, max-age=300) the browser
    # keeps what it was shown, and shows it again without asking the server.
    page = f"{site.base}/catalogue/?page=2"
    browser.page("Network.enable")
    assert visit(browser, f"{site.base}/") == ([503], f"{site.base}/")
    issued = command("pass", "alice", "--url", page, "--by", "ops", url=site.url)
    assert issued.returncode == 0, issued.stdout + issued.stderr
    heading, link, revoke_line = issued.stdout.splitlines()
    found = re.fullmatch(
        r"A pass for alice \(id ([0-9a-f]{8})\), valid until .*", heading
    )
    assert found, heading
    pass_id = found[1]
    site.ledger.append(Written(PASS_ISSUED, "ops", "", holder="alice", pass_id=pass_id))
    assert revoke_line == f"Revoke it with: manage.py maintenance revoke {pass_id}"
    link = link.strip()
    assert link.startswith(f"{page}&maintenance_pass=")

    # Followed: redirected to the same page without the pass, which answers.
    assert visit(browser, link) == ([302, 200], page)
    cookies = browser.page("Network.getCookies", urls=[f"{site.base}/"])["cookies"]
    (cookie,) = [c for c in cookies if c["name"] == "maintenance_pass"]
    assert (cookie["httpOnly"], cookie.get("sameSite"), cookie["secure"]) == (
        True,
        "Lax",
        False,  # plain HTTP
    )
    assert not cookie["session"]  # it lasts until the pass expires: 8 hours
    assert time.time() < cookie["expires"] <= time.time() + 8 * 3600 + 60
    for path in ("/", "/contact", "/catalogue/"):
        assert visit(browser, f"{site.base}{path}") == ([200], f"{site.base}{path}")
    assert answers(site) == {503}  # everyone else
    assert f"let in alice by a staff pass ({pass_id})" in site.server.log_text()

    revoked = command(
        "revoke", "alice", "--by", "ops", "--reason", "lost laptop", url=site.url
    )
    revision = revision_of(stored(site))
    site.ledger += [
        Written(SWITCHED, "ops", "lost laptop", revision, "on"),
        Written(PASS_REVOKED, "ops", "lost laptop", holder="alice", pass_id=pass_id),
    ]
    assert revoked.returncode == 0, revoked.stdout + revoked.stderr
    assert revoked.stdout.startswith(f"Revoked the pass {pass_id} of alice: ")
    started = time.monotonic()
    serving(site, revision)
    print(
        f"FIGURE revoke: every worker serves revision {revision} (the pass revoked) "
        f"{time.monotonic() - started:.1f} s after the command returned"
    )
    for url in (
        f"{site.base}/",
        f"{site.base}/contact",
        f"{site.base}/catalogue/",
        page,
    ):
        assert visit(browser, url) == ([503], url)
    listed = command("passes", url=site.url)
    assert listed.stdout.startswith(f"{pass_id} alice: revoked until "), listed.stdout


# -- events ------------------------------------------------------------------------


def test_the_hook_hears_each_event_once_from_the_command_never_from_the_workers(
    site: Site,
) -> None:
    for pid in site.pids:  # the workers could run it: it is in their environment
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert f"MAINTENANCE_SWITCH_HOOK={site.hook}".encode() in environ
    on = switch(site, "on", "ops", "hook", hook=True)
    off = switch(site, "off", "ops", "hook", hook=True)
    assert off == on + 1
    # Every worker has followed both writes (the waits confirmed it): had any
    # run the hook, its lines would be here too.
    assert site.record.read_text().splitlines() == [
        f"switched {on} on",
        f"confirmed {on} on",
        f"switched {off} off",
        f"confirmed {off} off",
    ]


def test_the_history_shows_every_write_with_who_and_why_newest_first(
    site: Site,
) -> None:
    switch(site, "env", "carol", "after the release", wait=False)
    listed = command("history", "-n", "1000", url=site.url)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    newest_first = list(reversed(site.ledger))
    assert len(lines) == len(newest_first), lines
    moments = []
    for line, written in zip(lines, newest_first, strict=True):
        found = written.line().fullmatch(line)
        assert found, (line, written)
        moments.append(datetime.fromisoformat(found[1]))
    assert moments == sorted(moments, reverse=True)
    revisions = [w.revision for w in newest_first if w.event == SWITCHED]
    assert revisions == sorted(set(revisions), reverse=True)
