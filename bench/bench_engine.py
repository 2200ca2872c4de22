"""Benchmark of the reference engine: backtests per second, 100 symbols × 10 years, one core."""

from __future__ import annotations

import os

# One core: pin the math libraries before numpy is imported.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import logging  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from airflow_backtest_framework.catalog import STRATEGIES  # noqa: E402
from airflow_backtest_framework.config import SweepConfig  # noqa: E402
from backtest_engine import load_market_data, run_point, synthetic_market  # noqa: E402

logger = logging.getLogger("bench_engine")

TARGET_PER_SECOND = 20.0
SYMBOLS = 100
START_DATE = "2014-01-01"
END_DATE = "2023-12-31"  # 10 years of business days
FACTORS = ["PriceToEarnings", "NewsSentiment"]
ROUNDS = 3
POINTS_PER_ROUND = 30


def sweep(strategy: str) -> SweepConfig:
    """The catalog's default grid of `strategy` on the benchmark universe."""
    return SweepConfig(
        name="bench_engine",
        strategy=strategy,
        params=STRATEGIES[strategy].default_params(),
        universe=[f"SYM{number:03d}" for number in range(SYMBOLS)],
        factors=FACTORS,
        start_date=START_DATE,
        end_date=END_DATE,
    )


def measure(config: SweepConfig, rounds: int, points: int) -> tuple[list[float], list[float]]:
    """Backtests per second of each round, by CPU time and by wall-clock time.

    Every round runs `points` distinct grid points (cycling through the grid), after one warm-up
    point that fills the per-process caches a real chunk also fills once.
    """
    data = load_market_data(config)
    run_point(config, 0, data)
    by_cpu, by_wall = [], []
    index = 0
    for _ in range(rounds):
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(points):
            run_point(config, index % config.grid_size, data)
            index += 1
        by_cpu.append(points / max(time.process_time() - cpu, 1e-9))
        by_wall.append(points / max(time.perf_counter() - wall, 1e-9))
    return by_cpu, by_wall


def main() -> int:
    """Print one line per strategy; exit 1 when a strategy misses the target."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--points", type=int, default=POINTS_PER_ROUND, help="backtests per round")
    parser.add_argument("--target", type=float, default=TARGET_PER_SECOND)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)

    first = sweep(next(iter(STRATEGIES)))
    synthetic_market.cache_clear()
    started = time.perf_counter()
    data = load_market_data(first)
    logger.info(
        "data generation (synthetic, %d symbols x %d days, %d factors): %.3fs, once per process",
        data.n_symbols,
        data.n_days,
        len(FACTORS),
        time.perf_counter() - started,
    )
    missed = []
    for strategy in STRATEGIES:
        by_cpu, by_wall = measure(sweep(strategy), args.rounds, args.points)
        best = max(by_cpu)
        logger.info(
            "engine %s: %.1f backtests/s (target >= %g)  [best of %d rounds by CPU time; median %.1f; "
            "wall-clock best %.1f]",
            strategy,
            best,
            args.target,
            args.rounds,
            statistics.median(by_cpu),
            max(by_wall),
        )
        if best < args.target:
            missed.append(strategy)
    if missed:
        logger.error("below target: %s", ", ".join(missed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
