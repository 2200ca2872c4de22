"""Shared helpers for the benchmarks: timing, reporting a figure against its target."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

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
