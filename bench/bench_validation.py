"""`summarize` with the sweep validation report: a 10,000-point sweep of 10 years of daily returns, one core.

The run's files are written as the engine writes them (one returns Parquet and one point record per
point, chunks of CHUNK points) from synthetic noise returns; the figure is the wall time of the DAG's
whole `summarize` task (table, summary and validation.json with PBO at S = 16), single-threaded BLAS.
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"  # one core, set before numpy loads

import sys  # noqa: E402 - after the thread settings
import tempfile  # noqa: E402 - after the thread settings
import time  # noqa: E402 - after the thread settings
from pathlib import Path  # noqa: E402 - after the thread settings

import numpy as np  # noqa: E402 - after the thread settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from airflow_backtest_framework.config import SweepConfig  # noqa: E402 - after the thread settings
from airflow_backtest_framework.results_store import ResultsStore, open_results_store  # noqa: E402 - after the thread settings
from bench.common import failures, report, section  # noqa: E402 - after the thread settings

POINTS_SIDE = 100  # 100 x 100 grid: 10,000 points
BARS = 2_520  # 10 years of daily bars
CHUNK = 10
TARGET_S = 60.0
RUN_ID = "bench_run"


def validation_sweep(
    name: str = "validation_bench", side: int = POINTS_SIDE, **fields: object
) -> SweepConfig:
    """A side x side MeanReversion grid over ten years (lookback 10.., threshold 0.5..)."""
    return SweepConfig(
        name=name,
        strategy="MeanReversionStrategy",
        params={
            "lookback_period": f"10:{9 + side}:{side}",
            "entry_threshold": f"0.5:4.0:{side}",
            "stop_loss_pct": "0.05",
            "cooldown_period": "5",
        },
        universe=["AAPL"],
        start_date="2014-01-01",
        end_date="2023-12-31",
        **fields,
    )


def business_days(bars: int, start: str = "2014-01-02") -> np.ndarray:
    return np.busday_offset(np.datetime64(start, "D"), np.arange(bars), roll="forward")


def write_run(
    store: ResultsStore,
    config: SweepConfig,
    run_id: str,
    returns: np.ndarray,
    dates: np.ndarray,
    chunk: int = CHUNK,
    first: int = 0,
) -> None:
    """The files the engine writes for points first.. first+N-1 with these (N, bars) net returns: point
    records (parameters, annualised Sharpe, bars_per_year) and one returns Parquet per chunk."""
    points, bars = returns.shape
    for start in range(first, first + points, chunk):
        rows = range(start, min(start + chunk, first + points))
        for index in rows:
            daily = returns[index - first]
            sharpe = float(daily.mean() / daily.std(ddof=1) * np.sqrt(252))
            record = {"index": index, "params": config.point(index), "metrics": {"sharpe": sharpe}}
            store.write_point(config.dag_id, run_id, index, {**record, "bars_per_year": 252})
        columns = {
            "point": np.repeat(np.array(rows, dtype=np.int64), bars),
            "date": np.tile(dates, len(rows)),
            "net_return": returns[start - first : start - first + len(rows)].ravel(),
        }
        zeros = np.zeros(columns["point"].size)
        extra = {name: zeros for name in ("gross_return", "exposure", "benchmark_return", "traded")}
        store.write_returns(config.dag_id, run_id, start, {**columns, **extra})


def main() -> int:
    from airflow_backtest_framework.dag_factory import _summarize

    section("summarize with validation, 10,000 points x 10 years daily, one core")
    config = validation_sweep()
    with tempfile.TemporaryDirectory(prefix="bench-validation-") as root:
        store = open_results_store(root)
        returns = np.random.default_rng(3).normal(0.0002, 0.01, size=(config.grid_size, BARS))
        write_run(store, config, RUN_ID, returns, business_days(BARS))
        del returns
        clock = time.perf_counter()
        _summarize(config, root, RUN_ID)
        seconds = time.perf_counter() - clock
        validation = store.read_validation(config.dag_id, RUN_ID)
    print(
        f"points {validation['points_done']:,}, combinations {validation['overfitting']['combinations']:,}, "
        f"report computed in {validation['seconds']:.1f}s"
    )
    report("summarize_with_validation_10k_points", seconds, "s", TARGET_S)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
