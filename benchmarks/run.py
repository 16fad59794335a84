"""make bench: every figure in one run, kept in benchmarks/results.json and
shown in benchmarks/results.md; the exit status is 1 when a target is missed.
``python -m benchmarks.run --check`` judges benchmarks/results.json again.

Per request, instructions counted by valgrind, and beside them the wall-clock
time of the same script without it; wall-clock is judged only where time is
the point: latency with the switch's store hung, start-up, and a fleet of
1,000 processes on one Redis (tests/e2e/fleet_scale.py, in the dev virtualenv).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from subprocess import PIPE
from typing import Any

from benchmarks.report import report
from benchmarks.stalled import redis_server
from benchmarks.variants import ALL, STARTUP, VARIANTS
from benchmarks.wsgi import WARM_UP

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results.json"
COUNTED = 200  # requests counted after the warm-up
LAYOUTS = 4  # the median of their counts is judged
TIMED = 2000  # requests timed after the warm-up, without valgrind
BLOCKS = 100  # of benchmarks/stalled.py, per server
STARTS = 5  # processes per start-up figure
DEV_PYTHON = ROOT / ".venv" / "bin" / "python"  # the fleet's tests import pytest
FLEET = [str(DEV_PYTHON), "-m", "tests.e2e.fleet_scale", "1000", "1"]  # interval 1 s
VALGRIND = ["valgrind", "--tool=cachegrind", "--cache-sim=no"]


def python(*args: str) -> subprocess.Popen[bytes]:
    """python -m ARGS, started, its output kept for output_of()."""
    return subprocess.Popen([sys.executable, "-m", *args], stdout=subprocess.PIPE)


def output_of(process: subprocess.Popen[bytes]) -> Any:
    """The last line the process prints, as JSON, once it has ended."""
    output = process.communicate()[0]
    if process.returncode:
        raise SystemExit(f"failed: {process.args!r}")
    return json.loads(output.splitlines()[-1])


def instructions(name: str, layout: int, directory: Path) -> float:
    """Per request: the variant's script serving WARM_UP requests and WARM_UP +
    COUNTED, side by side under valgrind; the difference of the two counts over
    COUNTED (start-up, imports and warm-up cancel out). Where the interpreter's
    objects land in memory decides how often its attribute cache misses, up to
    a percent per request: the layout is set by the objects the script keeps
    from its start (BENCH_LAYOUT), and both processes start alike (the same
    hash seed, no bytecode written, python -S: only directories nothing writes
    to on sys.path)."""
    env = {**os.environ, "BENCH_LAYOUT": str(40 * layout)}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    outputs = {count: directory / f"cachegrind.{count}" for count in (0, COUNTED)}
    processes = [
        subprocess.Popen(
            [*VALGRIND, f"--cachegrind-out-file={out}", f"--log-file={out}.log",
             sys.executable, "-S", "-m", ALL[name].script, name, str(count)],
            env=env, stdout=subprocess.DEVNULL,
        )
        for count, out in outputs.items()
    ]  # fmt: skip
    if [process.wait() for process in processes] != [0, 0]:
        logs = "".join(Path(f"{out}.log").read_text() for out in outputs.values())
        raise SystemExit(f"{name} failed under valgrind:\n{logs}")
    low, high = (
        next(int(line[9:]) for line in out.open() if line.startswith("summary: "))
        for out in outputs.values()
    )
    return (high - low) / COUNTED


def latencies() -> dict[str, Any]:
    """benchmarks/stalled.py on both servers at once, each on a CPU of its own
    (with one CPU, the same one)."""
    cpus = sorted(os.sched_getaffinity(0)) * 2
    processes = {
        server: python("benchmarks.stalled", server, str(cpu), str(BLOCKS))
        for server, cpu in zip(("gunicorn", "uvicorn"), cpus, strict=False)
    }
    return {server: output_of(process) for server, process in processes.items()}


def measure(directory: Path, environ: dict[str, str]) -> dict[str, Any]:
    """Every figure; environ: the fleet simulation's, in its own interpreter."""
    requests = {}
    with redis_server() as (_, url):
        os.environ["BENCH_REDIS_URL"] = url
        for name in VARIANTS:
            for file, text in ALL[name].files.items():
                (directory / file).write_text(text)
            seconds = output_of(python(ALL[name].script, name, str(TIMED)))
            counts = [instructions(name, i, directory) for i in range(LAYOUTS)]
            requests[name] = {"instructions": counts, "seconds": seconds}
            print(name, round(statistics.median(counts)), file=sys.stderr)
    print("Latency, Redis stopped and healthy...", file=sys.stderr)
    latency = latencies()
    startup = {
        what: [output_of(python("benchmarks.startup", what)) for _ in range(STARTS)]
        for what in STARTUP
    }
    print("1,000 processes on one Redis...", file=sys.stderr)
    fleet = output_of(subprocess.Popen(FLEET, cwd=ROOT, env=environ, stdout=PIPE))
    import django

    valgrind = subprocess.run([VALGRIND[0], "--version"], capture_output=True).stdout
    versions = f"Python {platform.python_version()}, Django {django.get_version()}"
    return {
        "versions": f"{versions}, {valgrind.decode().strip()}",
        "method": {"warm_up": WARM_UP, "counted": COUNTED, "layouts": LAYOUTS,
                   "timed": TIMED, "blocks": BLOCKS, "starts": STARTS},
        "requests": requests,
        "latency": latency,
        "startup": startup,
        "fleet": fleet,
    }  # fmt: skip


def main() -> None:
    check = "--check" in sys.argv[1:]
    if not check:
        if shutil.which(VALGRIND[0]) is None:
            raise SystemExit("valgrind is missing: scripts/system-packages bench")
        if not DEV_PYTHON.exists():
            raise SystemExit(f"{DEV_PYTHON} is missing: make venv")
        # The fleet's environment: the dev virtualenv's own, none of the below.
        environ = dict(os.environ)
        with tempfile.TemporaryDirectory(prefix="bench-") as directory:
            # The package and the benchmarks as they are now, copied where
            # nothing else writes: the run measures one version, and the
            # directories a process lists as it imports do not change under it.
            # What the package writes (the switch's cache...) stays in the run's.
            source = Path(directory, "source")
            for name in ("envmaintenance", "benchmarks"):
                ignore = shutil.ignore_patterns("__pycache__")
                shutil.copytree(ROOT / name, source / name, ignore=ignore)
            path = os.pathsep.join([str(source), sysconfig.get_paths()["purelib"]])
            os.environ.update(PYTHONPATH=path, PYTHONHASHSEED="0")
            os.environ.update(BENCH_STATE_DIR=directory, TMPDIR=directory)
            os.chdir(source)  # python -m puts it first on sys.path
            results = measure(Path(directory), {**environ, "TMPDIR": directory})
            os.chdir(ROOT)
        RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    text, missed = report(json.loads(RESULTS.read_text()))
    print(text)
    if not check:
        RESULTS.with_suffix(".md").write_text(text + "\n")
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
