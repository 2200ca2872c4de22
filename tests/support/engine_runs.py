"""Sweep configs, engine environments and result paths shared by the engine's end-to-end tests."""

from __future__ import annotations

import json
from pathlib import Path

from airflow_backtest_framework.config import SweepConfig

RUN_ID = "manual__2024-05-01T12:00:00+00:00"
SYMBOLS = ["AAPL", "MSFT", "GOOGL", "AMZN", "JPM", "XOM"]


def make_config(strategy: str = "MeanReversionStrategy", **overrides: object) -> SweepConfig:
    params = {
        "MeanReversionStrategy": {
            "lookback_period": "10,20",
            "entry_threshold": "1.0,1.5",
            "stop_loss_pct": "0.05",
            "cooldown_period": "2",
        },
        "MomentumStrategy": {
            "momentum_period": "10,30",
            "signal_threshold": "0.02",
            "stop_loss_pct": "0.05,0.1",
            "cooldown_period": "3",
        },
        "LongShortEquityStrategy": {
            "rebalance_period": "5,21",
            "take_profit_pct": "0.1,0.2",
            "stop_loss_pct": "0.05",
            "cooldown_period": "5",
        },
    }[strategy]
    fields = {
        "name": "engine_test",
        "strategy": strategy,
        "params": params,
        "universe": SYMBOLS,
        "start_date": "2022-01-01",
        "end_date": "2023-12-31",
        "space_filling": False,  # chunks of the grid's own order: tests name a chunk's points by index
        **overrides,
    }
    return SweepConfig(**fields)


def make_env(
    config: SweepConfig, results: str, start: int = 0, count: int = 3, **extra: str
) -> dict[str, str]:
    return {
        "BACKTEST_SPEC": config.to_json(),
        "BACKTEST_STRATEGY": config.strategy,
        "BACKTEST_CHUNK_START": str(start),
        "BACKTEST_CHUNK_COUNT": str(count),
        "BACKTEST_RESULTS_URI": results,
        "BACKTEST_DAG_ID": config.dag_id,
        "BACKTEST_RUN_ID": RUN_ID,
        "DB_HOST": "marketdata.internal",
        **extra,
    }


def run_dir(root: Path, config: SweepConfig) -> Path:
    return root / config.dag_id / RUN_ID


def read_point(root: Path, config: SweepConfig, index: int) -> dict:
    return json.loads((run_dir(root, config) / "points" / f"{index}.json").read_text())
