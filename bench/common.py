"""Shared helpers for the benchmarks: timing, reporting a figure against its target, the machine's load,
and server times from gunicorn's access log."""

from __future__ import annotations

import os
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

failures: list[str] = []


def report(name: str, figure: float, unit: str, target: float, higher_is_better: bool = False) -> bool:
    """Print `name: figure unit (target …) ok|MISSED` and remember misses."""
    ok = figure >= target if higher_is_better else figure <= target
    relation = ">=" if higher_is_better else "<="
    print(
        f"{name}: {figure:.4g} {unit} (target {relation} {target:g} {unit}) {'ok' if ok else 'MISSED'}",
        flush=True,
    )
    if not ok:
        failures.append(name)
    return ok


def median_seconds(func: Callable[[], object], repeat: int = 7, number: int = 1) -> float:
    """Median wall time of `number` calls, over `repeat` rounds, per call."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(number):
            func()
        samples.append((time.perf_counter() - started) / number)
    return statistics.median(samples)


ACCESS_FORMAT = '%(p)s "%(r)s" %(s)s %(M)s'  # worker pid, request line, status, server time in ms


class AccessLog:
    """gunicorn's access log in ACCESS_FORMAT: server time per request, filtered by request-line text."""

    LINE = re.compile(r'^<?(\d+)>? "(.*)" (\d+) (\d+)$')

    def __init__(self, path: Path) -> None:
        self.path = path

    def entries(self, fragment: str) -> list[tuple[int, int, int]]:
        """(pid, status, ms) of the requests whose request line holds `fragment`."""
        found = []
        for line in self.path.read_text().splitlines():
            match = self.LINE.match(line)
            if match and fragment in match.group(2):
                found.append((int(match.group(1)), int(match.group(3)), int(match.group(4))))
        return found

    def pids(self, fragment: str) -> set[int]:
        """The workers that answered the requests whose request line holds `fragment`."""
        return {pid for pid, _, _ in self.entries(fragment)}

    def server_ms(self, fragment: str) -> list[float]:
        return [float(ms) for _, status, ms in self.entries(fragment) if status == 200]


def section(title: str) -> None:
    """A section header with the machine's load: wall-clock figures on 2 shared cores depend on it."""
    one, five, _ = os.getloadavg()
    print(f"{title}  [load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} CPUs]")
