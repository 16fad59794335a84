"""The figures of one run, as tables and as targets met or missed."""

from __future__ import annotations

import platform
import statistics

import django
import pyperf

from benchmarks.stalled import BLOCK_SECONDS
from benchmarks.variants import ASGI_VARIANTS, HTTP_VARIANTS, SITES, VARIANTS

# figure, numerator, denominator, target: the ratio must stay at or below it
# (None: reported, not judged).
RATIOS = [
    ("off ÷ bare", "envmaintenance off", "bare", 1.01),
    ("off, file switch ÷ bare", "envmaintenance off, file switch", "bare", 1.01),
    ("off, Redis switch ÷ bare", "envmaintenance off, Redis switch", "bare", 1.01),
    ("503 ÷ floor", "envmaintenance 503", "floor", None),
    # Of the 503's cost, the decision (who, which body, which language) is at
    # most a tenth; the rest is the answer itself, where the quick start places it.
    ("503 ÷ the blind 503", "envmaintenance 503", "blind 503", 1.10),
    ("503, switch ÷ the blind 503", "envmaintenance 503, switch", "blind 503", 1.10),
    ("read-only, write ÷ floor", "envmaintenance read-only, write", "floor", None),
    ("read-only, read ÷ bare", "envmaintenance read-only, read", "bare", 1.03),
    ("off, status path ÷ bare", "envmaintenance off, status path", "bare", 1.01),
    ("allowed ÷ bare", "envmaintenance allowed", "bare", 1.05),
    (
        "allowed, switch ÷ allowed (the in-flight count)",
        "envmaintenance allowed, switch",
        "envmaintenance allowed",
        1.02,
    ),
    (
        "allowed, ten languages ÷ allowed",
        "envmaintenance allowed, ten languages",
        "envmaintenance allowed",
        1.01,
    ),
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
MB = 1024 * 1024


def pairable(top: str, bottom: str) -> bool:
    """Whether two variants can share a process: no other package's apps."""
    return {*VARIANTS[top].apps, *VARIANTS[bottom].apps} <= {"envmaintenance"}


def decomposed(top: str, bottom: str) -> bool:
    """Whether a ratio is judged on the middleware's own cost (own_cost.py):
    a request let through, against the bare stack or another let through."""
    passes = VARIANTS[top].expected_status == 200
    return passes and bottom in ("bare", "envmaintenance allowed")


JUDGED = [(t, b) for _, t, b, limit in RATIOS if limit is not None]
# What own_cost.py measures (besides its baseline, the view alone), and the
# other judged in-process ratios, measured in pairs (paired.py).
OWN_COSTS = sorted(
    {n for t, b in JUDGED if decomposed(t, b) for n in (t, b)} - {"bare"}
)
PAIRS = [(t, b) for t, b in JUDGED if pairable(t, b) and not decomposed(t, b)]


# The latency of requests while the store is SIGSTOPped, over the same with it
# healthy: no request waits on a hung store.
STALLED_TARGET = 1.1
# figure, value (judged), value (shown), target
Measured = tuple[str, float, str, float]


def plain(figure: str, value: float, limit: float) -> Measured:
    return figure, value, f"{value:.3f}", limit


def median_of(ratios: list[float], what: str) -> tuple[float, str]:
    """The median of paired ratios, shown with its quartiles."""
    low, median, high = statistics.quantiles(ratios, n=4)
    return median, f"{median:.3f} ({low:.3f} to {high:.3f}, {len(ratios)} {what})"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return ["", *lines, *("| " + " | ".join(row) + " |" for row in rows), ""]


class Figures:
    """pyperf's results by benchmark name."""

    def __init__(self, suite: pyperf.BenchmarkSuite) -> None:
        self.benchmarks = {b.get_name(): b for b in suite.get_benchmarks()}

    def mean(self, name: str) -> float:
        return float(self.benchmarks[name].mean())

    def ratio(self, top: str, bottom: str) -> float:
        """Of the means, each variant measured in processes of its own."""
        return self.mean(top) / self.mean(bottom)

    def own_cost(self, name: str) -> float:
        """Seconds per request the middleware adds (0: it removed itself)."""
        if name == "bare":
            return 0.0
        return self.mean(f"own cost: {name}") - self.mean("own cost: view")

    def judged(self, top: str, bottom: str) -> tuple[float, str]:
        """The ratio a target is judged on: from the middleware's own cost for
        requests let through; else the median of the paired runs' ratios
        (benchmarks/paired.py), with their quartiles; else (another package's
        apps) the ratio of the means."""
        if decomposed(top, bottom):
            extra = self.own_cost(top) - self.own_cost(bottom)
            ratio = 1 + extra / self.mean(bottom)
            shown = f"{extra * 1e9:+.0f} ns on {self.mean(bottom) * 1e6:.0f} µs"
            return ratio, f"{ratio:.3f} ({shown})"
        paired = self.benchmarks.get(f"{top} | {bottom}")
        if paired is None:
            ratio = self.ratio(top, bottom)
            return ratio, f"{ratio:.3f} (unpaired)"
        ratios = [
            statistics.mean(run.values) / run.get_metadata()["denominator"]
            for run in paired.get_runs()
            if run.values
        ]
        return median_of(ratios, "runs")

    def in_process(self) -> list[str]:
        rows = []
        for name in (n for n in VARIANTS if n in self.benchmarks):
            deviation = self.benchmarks[name].stdev() * 1e6
            floor, bare = self.ratio(name, "floor"), self.ratio(name, "bare")
            rows.append([name, f"{self.mean(name) * 1e6:.1f} ± {deviation:.1f}",
                         f"{floor:.2f}", f"{bare:.2f}"])  # fmt: skip
        return table(["variant", "µs/request", "÷ floor", "÷ bare"], rows)

    def over_http(self) -> list[str]:
        rows = []
        for server, names in (("gunicorn", HTTP_VARIANTS), ("uvicorn", ASGI_VARIANTS)):
            for name in names:
                row = f"{server}: {name}"
                bare = self.ratio(row, f"{server}: bare")
                milliseconds = self.mean(row) * 1e3
                rows.append([server, name, f"{milliseconds:.2f}", f"{bare:.2f}"])
        return table(["server", "variant", "ms/request", "÷ bare"], rows)

    def stalled(self) -> list[Measured]:
        """p99 and max latency, Redis SIGSTOPped ÷
        Redis healthy, on each server: of each block of benchmarks/stalled.py
        (the same seconds for both), the median judged."""
        rows = []
        for server in ("gunicorn", "uvicorn"):
            for what in ("p99", "max"):
                name = f"{server}: {what} latency, Redis"
                stopped = self.benchmarks[f"{name} stopped"].get_runs()
                healthy = self.benchmarks[f"{name} healthy"].get_runs()
                ratios = [s.values[0] / h.values[0]
                          for s, h in zip(stopped, healthy, strict=True)]  # fmt: skip
                shown = median_of(ratios, f"blocks of {BLOCK_SECONDS:.0f} s")
                rows.append((f"{name} stopped ÷ healthy", *shown, STALLED_TARGET))
        return rows

    def memory_of_blocks(self) -> float:
        """Megabytes 100,000 blocks take, over an allowlist of one."""
        top, bottom = "config memory, 100,000 blocks", "config memory, 1 blocks"
        return (self.mean(top) - self.mean(bottom)) / MB

    def start_up(self) -> list[str]:
        rows = [
            [
                f"config load, {count}",
                f"{self.mean(f'config load, {count}') * 1e3:.1f} ms",
            ]
            for count in ("1 blocks", "100,000 blocks")
        ]
        rows.append(["memory of 100,000 blocks", f"{self.memory_of_blocks():.1f} MB"])
        for site, variant in SITES.items():
            seconds = self.mean(f"pre-render, {variant}")
            rows.append([f"pre-render, {site}", f"{seconds * 1e3:.1f} ms"])
        return table(["start-up", "measured"], rows)

    def targets(self) -> tuple[list[str], bool]:
        rows, missed = [], False
        for figure, top, bottom, limit in RATIOS:
            ratio, shown = self.judged(top, bottom)
            met = limit is None or ratio <= limit
            missed |= not met
            judged = "reported" if limit is None else f"≤ {limit}"
            verdict = "—" if limit is None else ("yes" if met else "NO")
            rows.append([figure, shown, judged, verdict])
        load = self.mean("config load, 100,000 blocks")
        eleven = self.mean("pre-render, envmaintenance 503, ten languages")
        measured = [
            *self.stalled(),
            plain("config load, 100,000 blocks (s)", load, 2.0),
            plain("memory of 100,000 blocks (MB)", self.memory_of_blocks(), 50.0),
            plain("pre-render, ten languages (ms)", eleven * 1e3, 100.0),
        ]
        for figure, value, shown, limit in measured:
            met = value <= limit
            missed |= not met
            rows.append([figure, shown, f"≤ {limit}", "yes" if met else "NO"])
        return table(["figure", "measured", "target", "met"], rows), missed


def report(suite: pyperf.BenchmarkSuite) -> tuple[str, bool]:
    """The run's tables in Markdown, and whether a target was missed."""
    figures = Figures(suite)
    targets, missed = figures.targets()
    header = (
        f"Python {platform.python_version()}, Django {django.get_version()}; "
        "pyperf, rounds interleaved; times are means ± standard deviation per "
        "request. A ratio for requests let through is judged on the middleware's "
        "own cost per request (in brackets) over the denominator's time; one for "
        "503s on the median of its paired runs (quartiles in brackets)."
    )
    lines = [
        header,
        "",
        "Targets:",
        *targets,
        "In-process WSGI (the handler called in the benchmark's process, CPU time):",
        *figures.in_process(),
        "Over HTTP (one sync gunicorn worker, one uvicorn worker; one client, "
        "requests one after another):",
        *figures.over_http(),
        "Start-up:",
        *figures.start_up(),
    ]
    return "\n".join(lines).rstrip(), missed
