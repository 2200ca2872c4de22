"""Benchmark of the reference engine: backtests per second (100 symbols × 10 years, one core, next-open
fills and costs on) and points per second against backtesting.py on a 108-point Momentum grid on GOOG."""

from __future__ import annotations

import os

# One core: pin the math libraries before numpy is imported.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from airflow_backtest_framework.catalog import STRATEGIES  # noqa: E402
from airflow_backtest_framework.config import SweepConfig  # noqa: E402
from backtest_engine import load_market_data, run_chunk, synthetic_market  # noqa: E402
from bench.common import failures, report, section  # noqa: E402

TARGET_PER_SECOND = 200.0
SYMBOLS = 100
START_DATE = "2014-01-01"
END_DATE = "2023-12-31"  # 10 years of business days
FACTORS = ["PriceToEarnings", "NewsSentiment"]
COSTS = {"fill": "next_open", "commission_bps": 5.0, "slippage_bps": 2.0, "borrow_bps": 50.0}
ROUNDS = 3
POINTS_PER_ROUND = 30
# backtesting.py side by side: one symbol, the same 108-point Momentum grid in both engines.
GOOG_GRID = {
    "momentum_period": "10,20,40",
    "signal_threshold": "0.02,0.05,0.1,0.15",
    "stop_loss_pct": "0.05,0.08,0.1",
    "cooldown_period": "0,3,7",
}
SPEEDUP_FLOOR = 13.0  # the ratio measured before next-open fills and costs: keep at least this
SPEEDUP_TARGET = 30.0
BACKTESTING_PY_POINTS = 12  # backtesting.py is slow: its rate is measured on a slice of the grid


def sweep(strategy: str) -> SweepConfig:
    """The catalog's default grid of `strategy` on the benchmark universe, next-open fills, costs on."""
    return SweepConfig(
        name="bench_engine",
        strategy=strategy,
        params=STRATEGIES[strategy].default_params(),
        universe=[f"SYM{number:03d}" for number in range(SYMBOLS)],
        factors=FACTORS,
        start_date=START_DATE,
        end_date=END_DATE,
        **COSTS,
    )


def measure(config: SweepConfig, rounds: int, points: int, data=None) -> list[float]:
    """Backtests per CPU second of each round: `points` grid points run as one chunk (the engine's
    per-chunk sharing of signals included), after one warm-up chunk that fills per-process caches."""
    data = data if data is not None else load_market_data(config)
    points = min(points, config.grid_size)
    run_chunk(config, 0, 1, data, lambda result: None)
    rates = []
    for round_number in range(rounds):
        start = (round_number * points) % max(config.grid_size - points + 1, 1)
        cpu = time.process_time()
        outcome = run_chunk(config, start, points, data, lambda result: None)
        assert not outcome.failed, outcome.failed
        rates.append(points / max(time.process_time() - cpu, 1e-9))
    return rates


def engine_throughput(rounds: int, points: int, target: float) -> None:
    section("engine: backtests/s, 100 symbols x 10 years daily, one core, next-open fills, costs on")
    synthetic_market.cache_clear()
    started = time.perf_counter()
    data = load_market_data(sweep(next(iter(STRATEGIES))))
    print(f"data generation (synthetic OHLC, {data.n_symbols} x {data.n_days} bars): "
          f"{time.perf_counter() - started:.3f}s, once per process")  # fmt: skip
    for strategy in STRATEGIES:
        rates = measure(sweep(strategy), rounds, points)
        spread = f"median {statistics.median(rates):.1f}, rounds {min(rates):.1f}-{max(rates):.1f}"
        report(f"engine {strategy} ({spread})", max(rates), "backtests/s", target, True)


def versus_backtesting_py() -> None:
    section("engine vs backtesting.py: 108-point Momentum grid on GOOG (backtesting.test), one symbol")
    try:
        from bench.backtesting_py import goog_market_data, run_backtesting_py
    except ImportError as exc:  # backtesting is a dev dependency
        print(f"skipped: {exc}")
        return
    config = SweepConfig(
        name="bench_goog",
        strategy="MomentumStrategy",
        params=GOOG_GRID,
        universe=["GOOG"],
        start_date="2004-08-19",
        end_date="2013-03-01",
        **COSTS,
    )
    data = goog_market_data()
    rates = measure(config, ROUNDS, config.grid_size, data)
    ours = max(rates)
    theirs = run_backtesting_py(config, BACKTESTING_PY_POINTS, COSTS["commission_bps"])
    print(
        f"this engine: {ours:.1f} points/s (rounds {min(rates):.1f}-{ours:.1f}); "
        f"backtesting.py: {theirs:.2f} points/s ({BACKTESTING_PY_POINTS} points), same run"
    )
    report("engine / backtesting.py speed-up (floor)", ours / theirs, "x", SPEEDUP_FLOOR, True)
    report("engine / backtesting.py speed-up (target)", ours / theirs, "x", SPEEDUP_TARGET, True)


def main() -> int:
    """Print each figure with its target; exit 1 when one is missed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--points", type=int, default=POINTS_PER_ROUND, help="backtests per round")
    parser.add_argument("--target", type=float, default=TARGET_PER_SECOND)
    args = parser.parse_args()
    engine_throughput(args.rounds, args.points, args.target)
    versus_backtesting_py()
    if failures:
        print(f"below target: {', '.join(failures)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
