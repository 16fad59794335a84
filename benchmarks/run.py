"""make bench: every figure in one run, as ratios, each variant in its own process.

Rounds are interleaved (every variant once per round, in a new shuffled order
each round) and each figure is the median of its rounds, so a slow spell of a
noisy machine lands on every variant alike instead of always on the same one.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import django

from benchmarks.variants import VARIANTS

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "9"))
HTTP_ROUNDS = int(os.environ.get("BENCH_HTTP_ROUNDS", "3"))
HTTP_SECONDS = int(os.environ.get("BENCH_HTTP_SECONDS", "4"))
HTTP_CONNECTIONS = 4
HTTP_VARIANTS = [
    "bare",
    "floor",
    "envmaintenance 503",
    "django-maintenance-mode 503",
    "django-maintenancemode 503",
]
ALLOWLIST_SIZES = [1, 1_000, 100_000]
# Instruction counts (valgrind): deterministic, so they back the timed ratios on
# a noisy machine. Opt-in: about 20 s per variant.
COUNT_INSTRUCTIONS = os.environ.get("BENCH_INSTRUCTIONS") == "1"
COUNTED_VARIANTS = [
    "floor",
    "floor behind SecurityMiddleware",
    "bare",
    "envmaintenance off",
    "envmaintenance 503",
    "envmaintenance allowed",
    "envmaintenance allowed, 20,000 CIDRs",
    "envmaintenance 503, 10-hop proxy walk",
    "django-maintenance-mode 503",
]
COUNTED_REQUESTS = 500


def environment(name: str, state_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAINTENANCE_")}
    env.update(BENCH_VARIANT=name, BENCH_STATE_DIR=str(state_dir), PYTHONPATH=str(ROOT))
    return env


def run_json(args: list[str], env: dict[str, str]) -> dict[str, object]:
    out = subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=True
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def in_process(state_dir: Path) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in VARIANTS}
    order = list(VARIANTS)
    shuffle = random.Random(2026).shuffle  # the same orders in every run
    for round_number in range(1, ROUNDS + 1):
        print(f"  in-process round {round_number}/{ROUNDS}", file=sys.stderr)
        shuffle(order)
        for name in order:
            variant = VARIANTS[name]
            variant.prepare(state_dir)
            result = run_json(
                [PYTHON, "-m", "benchmarks.inprocess", name],
                environment(name, state_dir),
            )
            status = int(str(result["status"]).split()[0])
            if status != variant.expected_status:
                raise SystemExit(
                    f"{name}: answered {status}, not {variant.expected_status}"
                )
            samples[name].append(float(str(result["us"])))
    return {name: statistics.median(values) for name, values in samples.items()}


def instructions(state_dir: Path) -> dict[str, float]:
    """Instructions per request: two runs that differ only in request count."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    counts: dict[str, float] = {}
    for name in COUNTED_VARIANTS:
        VARIANTS[name].prepare(state_dir)
        totals = []
        for requests in (0, COUNTED_REQUESTS):
            result = subprocess.run(
                [
                    valgrind,
                    "--tool=callgrind",
                    "--callgrind-out-file=/dev/null",
                    PYTHON,
                    "-m",
                    "benchmarks.inprocess",
                    name,
                    "--count",
                    str(requests),
                ],
                cwd=ROOT,
                env={**environment(name, state_dir), "PYTHONHASHSEED": "0"},
                capture_output=True,
                text=True,
                timeout=600,
                check=True,
            )
            totals.append(int(re.search(r"Collected : (\d+)", result.stderr).group(1)))  # type: ignore[union-attr]
        counts[name] = (totals[1] - totals[0]) / COUNTED_REQUESTS
        print(f"  counted {name}", file=sys.stderr)
    return counts


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
    raise SystemExit(f"gunicorn did not answer {url}")


def parse_wrk(output: str) -> tuple[float, float]:
    """Requests per second and p99 latency in milliseconds."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", output).groups()  # type: ignore[union-attr]
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return rps, float(value) * scale


def over_http(state_dir: Path) -> dict[str, tuple[float, float]]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in HTTP_VARIANTS}
    order = list(HTTP_VARIANTS)
    shuffle = random.Random(2026).shuffle
    for round_number in range(1, HTTP_ROUNDS + 1):
        print(f"  HTTP round {round_number}/{HTTP_ROUNDS}", file=sys.stderr)
        shuffle(order)
        for name in order:
            VARIANTS[name].prepare(state_dir)
            port = free_port()
            server = subprocess.Popen(
                [
                    PYTHON,
                    "-m",
                    "gunicorn",
                    "--workers",
                    "1",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "benchmarks.project.wsgi:application",
                ],
                cwd=ROOT,
                env=environment(name, state_dir),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                url = f"http://127.0.0.1:{port}/"
                wait_for(url)
                result = subprocess.run(
                    [
                        wrk,
                        "-t1",
                        f"-c{HTTP_CONNECTIONS}",
                        f"-d{HTTP_SECONDS}s",
                        "--latency",
                        "-H",
                        "Accept: text/html",
                        url,
                    ],
                    capture_output=True,
                    text=True,
                    timeout=HTTP_SECONDS + 30,
                    check=True,
                )
                if "Socket errors" in result.stdout:
                    raise SystemExit(f"{name}: wrk saw socket errors\n{result.stdout}")
                samples[name].append(parse_wrk(result.stdout))
            finally:
                server.send_signal(signal.SIGTERM)
                server.wait(timeout=20)
    return {
        name: (
            statistics.median(rps for rps, _ in values),
            statistics.median(p99 for _, p99 in values),
        )
        for name, values in samples.items()
    }


def start_up() -> dict[int, tuple[float, float]]:
    samples: dict[int, list[tuple[float, float]]] = {n: [] for n in ALLOWLIST_SIZES}
    env = environment("bare", Path(tempfile.gettempdir()))
    for _ in range(3):
        for count in ALLOWLIST_SIZES:
            result = run_json([PYTHON, "-m", "benchmarks.startup", str(count)], env)
            samples[count].append(
                (float(str(result["seconds"])), float(str(result["rss_mb"])))
            )
    return {
        n: (statistics.median(s for s, _ in v), statistics.median(m for _, m in v))
        for n, v in samples.items()
    }


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def chart(us: dict[str, float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in VARIANTS if n not in ("floor", "bare")]
    ratios = [us[n] / us["bare"] for n in names]
    colours = [
        "#2f6fed" if n.startswith("envmaintenance") else "#9aa3b2" for n in names
    ]
    figure, axes = plt.subplots(figsize=(9, 5.5))
    axes.barh(names[::-1], ratios[::-1], color=colours[::-1])
    axes.axvline(1.0, color="#1b2130", linewidth=1)
    axes.axvline(us["floor"] / us["bare"], color="#d9822b", linewidth=1, linestyle="--")
    axes.text(us["floor"] / us["bare"], len(names) - 0.4, " floor", color="#d9822b")
    axes.text(1.0, len(names) - 0.4, " bare", color="#1b2130")
    for index, ratio in enumerate(ratios[::-1]):
        axes.text(ratio, index, f" {ratio:.2f}", va="center", fontsize=8)
    axes.set_xlabel("time per request ÷ bare startproject stack (lower is better)")
    axes.set_title("In-process WSGI, median of interleaved rounds")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        state_dir = Path(directory)
        print("Measuring in-process...", file=sys.stderr)
        us = in_process(state_dir)
        print("Measuring over HTTP...", file=sys.stderr)
        http = over_http(state_dir)
        counted = {}
        if COUNT_INSTRUCTIONS:
            print("Counting instructions...", file=sys.stderr)
            counted = instructions(state_dir)
    print("Measuring start-up...", file=sys.stderr)
    startup = start_up()

    floor, bare = us["floor"], us["bare"]
    report = [
        f"Python {sys.version.split()[0]}, Django {django.get_version()}, "
        f"{os.cpu_count()} cores; {ROUNDS} interleaved rounds in-process, "
        f"{HTTP_ROUNDS} over HTTP.",
        "",
        "In-process WSGI (handler built once, called with a prepared environ; each "
        "figure is the median over rounds of the fastest of 10 batches of 1,000, "
        "in CPU time):",
        "",
        table(
            ["variant", "µs/request", "÷ floor", "÷ bare"],
            [
                [n, f"{v:.1f}", f"{v / floor:.2f}", f"{v / bare:.2f}"]
                for n, v in us.items()
            ],
        ),
    ]
    if counted:
        report += [
            "",
            "Instructions per request (valgrind callgrind, deterministic):",
            "",
            table(
                ["variant", "instructions", "÷ floor", "÷ bare"],
                [
                    [
                        n,
                        f"{v:,.0f}",
                        f"{v / counted['floor']:.3f}",
                        f"{v / counted['bare']:.3f}",
                    ]
                    for n, v in counted.items()
                ],
            ),
        ]
    report += [
        "",
        f"Over HTTP (gunicorn, 1 sync worker; wrk, {HTTP_CONNECTIONS} connections, "
        f"{HTTP_SECONDS} s):",
        "",
        table(
            ["system", "requests/s", "p99 ms", "req/s ÷ bare", "p99 ÷ bare"],
            [
                [
                    n,
                    f"{r:.0f}",
                    f"{p:.2f}",
                    f"{r / http['bare'][0]:.2f}",
                    f"{p / http['bare'][1]:.2f}",
                ]
                for n, (r, p) in http.items()
            ],
        ),
        "",
        "Start-up: load_config for an allowlist of N blocks that do not merge:",
        "",
        table(
            ["blocks", "load time", "RSS growth"],
            [
                [f"{n:,}", f"{s * 1000:.1f} ms", f"{m:.1f} MB"]
                for n, (s, m) in startup.items()
            ],
        ),
    ]
    # figure, numerator, denominator, target: the ratio must stay at or below it.
    targets = [
        ("off ÷ bare", "envmaintenance off", "bare", 1.01),
        ("503 ÷ floor", "envmaintenance 503", "floor", 1.20),
        ("allowed ÷ bare", "envmaintenance allowed", "bare", 1.03),
        (
            "allowed, 20,000 CIDRs ÷ allowed, 1 CIDR",
            "envmaintenance allowed, 20,000 CIDRs",
            "envmaintenance allowed",
            1.02,
        ),
        (
            "10-hop proxy walk ÷ direct, 503",
            "envmaintenance 503, 10-hop proxy walk",
            "envmaintenance 503",
            1.05,
        ),
        # Inverted so that every row reads "at most": theirs ÷ ours ≥ 4.
        (
            "envmaintenance 503 ÷ django-maintenance-mode 503",
            "envmaintenance 503",
            "django-maintenance-mode 503",
            0.25,
        ),
    ]

    def ratio(figures: dict[str, float], top: str, bottom: str) -> str:
        if top not in figures or bottom not in figures:
            return "not counted"
        return f"{figures[top] / figures[bottom]:.3f}"

    rows = [
        [
            figure,
            ratio(us, top, bottom),
            ratio(counted, top, bottom),
            f"≤ {limit}",
            "yes" if us[top] / us[bottom] <= limit else "NO",
        ]
        for figure, top, bottom, limit in targets
    ]
    seconds, megabytes = startup[100_000]
    rows.append(
        [
            "config load, 100,000 CIDRs",
            f"{seconds:.2f} s, {megabytes:.1f} MB",
            "",
            "≤ 2 s, ≤ 50 MB",
            "yes" if seconds <= 2 and megabytes <= 50 else "NO",
        ]
    )
    report += [
        "",
        "Targets (met is judged on time; instructions back it where counted):",
        "",
        table(["figure", "time", "instructions", "target", "met"], rows),
    ]
    text = "\n".join(report)
    print(text)
    (ROOT / "benchmarks" / "results.md").write_text(text + "\n")
    chart(us, ROOT / "docs" / "benchmark.png")
    print("\nWrote benchmarks/results.md and docs/benchmark.png", file=sys.stderr)


if __name__ == "__main__":
    main()
