"""Hostile input: validating huge or near-miss grid expressions stays fast, does not delay other
requests, and the expansion memo keeps a bounded amount of memory.

The figures are the server's own work for one Configure edit: SweepConfig's field validation and the
grid size (the memo cleared first, as for an input never seen), and the Configure form's live check.
"""

from __future__ import annotations

import gc
import statistics
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pydantic import ValidationError

from airflow_backtest_framework import grid as grid_module
from airflow_backtest_framework.catalog import STRATEGIES
from airflow_backtest_framework.config import CONTEXT_MAX_GRID_POINTS, SweepConfig
from airflow_backtest_framework.grid import MAX_EXPRESSION_CHARS, MAX_ITEMS_PER_EXPRESSION
from bench.common import failures, median_seconds, report, section
from components.sweep_form import FormDraft, check_draft

MR = "MeanReversionStrategy"
PARAM = "lookback_period"  # an int parameter, 2 to 504
MAX_GRID_POINTS = 100_000
MIB = 1024 * 1024

VALIDATE_MS = 50.0  # one validation of any input, server time
DELAY_P95_MS = 50.0  # how much a hostile input may delay an ordinary validation (p95)
MEMO_MB = 10.0  # memory the expansion memo may keep, whatever it was fed

TIMING_ROUNDS = 7
# Ordinary validations arrive at their own pace, as other users' requests do, whatever the hostile
# thread is doing: one every ORDINARY_EVERY_S for ORDINARY_FOR_S, alone and beside the hostile loop.
ORDINARY_EVERY_S = 0.01
ORDINARY_FOR_S = 4.0
MEMO_FILL = 600  # distinct large valid expressions fed to the memo (more than lru_cache's 256 entries)


def hostile_inputs() -> dict[str, str]:
    """The expressions measured, by label; the first two are the ones that used to stall the server."""
    values = [str(100 + i) for i in range(MAX_ITEMS_PER_EXPRESSION)]  # 250 items, 999 characters
    valid_at_cap = "0" + ",".join(values)
    assert len(valid_at_cap) == MAX_EXPRESSION_CHARS
    return {
        "15,000-character near miss 111…1x": "1" * 14_999 + "x",
        "15,000-character list": ",".join(["20"] * 5_000)[:15_000],
        "1 MB expression": "2" * MIB,
        "1,000-character valid expression (at the cap)": valid_at_cap,
    }


def spec(expression: str) -> dict:
    params = {**STRATEGIES[MR].default_params(), PARAM: expression}
    return {
        "name": "bench_input",
        "strategy": MR,
        "params": params,
        "universe": "AAPL,MSFT",
        "start_date": "2020-01-01",
        "end_date": "2021-01-01",
    }


def validate(expression: str) -> int | None:
    """SweepConfig validation and grid size of a spec holding `expression`; None when refused."""
    grid_module.expand_values.cache_clear()  # cold: a new input is never in the memo
    try:
        config = SweepConfig.model_validate(
            spec(expression), context={CONTEXT_MAX_GRID_POINTS: MAX_GRID_POINTS}
        )
    except ValidationError:
        return None
    return config.grid_size


def configure_check(expression: str) -> str:
    """The Configure form's live check of a draft holding `expression` (what each edit runs)."""
    grid_module.expand_values.cache_clear()
    draft = FormDraft(strategy=MR, name="bench_input", params={MR: {PARAM: expression}})
    return check_draft(draft, MAX_GRID_POINTS).level


def bench_single(inputs: dict[str, str]) -> None:
    section("One validation of each input (median of 7, memo cleared)")
    for label, expression in inputs.items():
        outcome = "accepted" if validate(expression) is not None else "refused"
        ms = median_seconds(lambda e=expression: validate(e), repeat=TIMING_ROUNDS) * 1e3
        report(f"SweepConfig validate + grid size, {label} ({outcome})", ms, "ms", VALIDATE_MS)
        ms = median_seconds(lambda e=expression: configure_check(e), repeat=TIMING_ROUNDS) * 1e3
        report(f"Configure live check, {label}", ms, "ms", VALIDATE_MS)


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def paced_samples(func: Callable[[], object]) -> list[float]:
    """Milliseconds of `func`, called every ORDINARY_EVERY_S for ORDINARY_FOR_S (sleeping frees the GIL)."""
    samples = []
    until = time.perf_counter() + ORDINARY_FOR_S
    while time.perf_counter() < until:
        started = time.perf_counter()
        func()
        samples.append((time.perf_counter() - started) * 1e3)
        time.sleep(ORDINARY_EVERY_S)
    return samples


def bench_concurrent(inputs: dict[str, str]) -> None:
    """An ordinary validation timed alone, then while another thread validates hostile input nonstop."""
    section("An ordinary validation beside a thread validating hostile input")
    ordinary = STRATEGIES[MR].param(PARAM).default

    def small() -> object:
        return SweepConfig.model_validate(spec(ordinary))

    alone = paced_samples(small)
    stop = threading.Event()
    hostile_rounds = [0]

    def hostile_loop() -> None:
        while not stop.is_set():
            for expression in inputs.values():
                validate(expression)
            hostile_rounds[0] += 1

    worker = threading.Thread(target=hostile_loop, daemon=True)
    worker.start()
    try:
        loaded = paced_samples(small)
    finally:
        stop.set()
        worker.join()
    print(
        f"ordinary validation p95: alone {p95(alone):.2f} ms, beside the hostile loop {p95(loaded):.2f} ms "
        f"({hostile_rounds[0]} rounds of the {len(inputs)} hostile inputs meanwhile)"
    )
    report(
        "p95 delay of an ordinary validation beside hostile input",
        p95(loaded) - p95(alone),
        "ms",
        DELAY_P95_MS,
    )


def bench_memo() -> None:
    """Memory the expansion memo keeps after many distinct valid expressions, large and wide."""
    section("Memory kept by the expansion memo")
    grid_module.expand_values.cache_clear()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(MEMO_FILL):
        # Alternately a 10,000-value range and a long list: the two ways an entry can be big.
        if i % 2:
            expression = f"{i}:{i + 10_000}:10000"
        else:
            expression = ",".join([str(i), *(str(k) for k in range(MAX_ITEMS_PER_EXPRESSION - 1))])
        grid_module.expand_values(expression, "int")
    gc.collect()
    kept = (tracemalloc.get_traced_memory()[0] - before) / MIB
    tracemalloc.stop()
    info = grid_module.expand_values.cache_info()
    print(f"memo after {MEMO_FILL:,} expressions: {info.entries} entries, {info.values:,} values")
    report(f"memory kept by the memo after {MEMO_FILL:,} distinct large expressions", kept, "MB", MEMO_MB)
    grid_module.expand_values.cache_clear()


def main() -> int:
    inputs = hostile_inputs()
    bench_single(inputs)
    bench_concurrent(inputs)
    bench_memo()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
