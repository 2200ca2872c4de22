"""Audit-ready outputs: a chunk's daily returns file holds every bar of every point, and the point files'
metrics are recomputed from it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from airflow_backtest_framework import engine_contract as ec
from airflow_backtest_framework.catalog import STRATEGIES
from airflow_backtest_framework.config import SweepConfig
from airflow_backtest_framework.results_store import open_results_store
from backtest_engine import main

RUN_ID = "manual__audit"


def recomputed(rows, risk_free_rate: float, bars_per_year: int) -> dict[str, float]:
    """The metrics of one point from its returns rows, written out plainly (not the engine's code).

    These are the metrics the audit checks: every name is one of the contract's METRIC_NAMES.
    """
    net = rows["net_return"].to_numpy()
    bench = rows["benchmark_return"].to_numpy()
    dates = rows["date"].to_numpy().astype("datetime64[D]")
    years = (dates[-1] - dates[0]).astype(int) / 365.25
    wealth = np.cumprod(1 + net)
    excess = net - risk_free_rate / bars_per_year
    scale = math.sqrt(bars_per_year)
    drawdown = min((wealth / np.maximum.accumulate(wealth)).min() - 1, 0.0)
    cagr = wealth[-1] ** (1 / years) - 1
    strategy, market = excess[1:], bench[1:] - risk_free_rate / bars_per_year
    beta = np.cov(strategy, market, ddof=0)[0, 1] / market.var()
    active = net[1:] - bench[1:]
    return {
        "total_return": wealth[-1] - 1,
        "cagr": cagr,
        "annual_volatility": net.std(ddof=1) * scale,
        "sharpe": excess.mean() / net.std(ddof=1) * scale,
        "sortino": excess.mean() / np.sqrt(np.mean(np.minimum(excess, 0) ** 2)) * scale,
        "max_drawdown": drawdown,
        "calmar": cagr / -drawdown if drawdown < 0 else 0.0,
        "exposure": rows["exposure"].mean(),
        "turnover": rows["traded"].sum() / years,
        "alpha": (strategy.mean() - beta * market.mean()) * bars_per_year,
        "beta": beta,
        "information_ratio": active.mean() / active.std(ddof=1) * scale,
    }


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_metrics_recomputed_from_the_returns_file_equal_the_point_files(
    tmp_path: Path, strategy: str
) -> None:
    spec = STRATEGIES[strategy]
    config = SweepConfig(
        name="audit_test",
        strategy=strategy,
        params={p.name: p.default.split(",")[0] + ("," + p.default.split(",")[-1]) for p in spec.params},
        universe=["AAA", "BBB", "CCC", "DDD", "EEE", "FFF"],
        start_date="2021-01-01",
        end_date="2023-06-30",
        commission_bps=3,
        slippage_bps=2,
        borrow_bps=50,
        risk_free_rate=0.02,
        benchmark="BBB",
    )
    env = {
        ec.ENV_SPEC: config.to_json(),
        ec.ENV_STRATEGY: strategy,
        ec.ENV_CHUNK_START: "2",
        ec.ENV_CHUNK_COUNT: "3",
        ec.ENV_RESULTS_URI: str(tmp_path),
        ec.ENV_DAG_ID: config.dag_id,
        ec.ENV_RUN_ID: RUN_ID,
    }
    assert main(env) == 0
    table = open_results_store(str(tmp_path)).read_returns(config.dag_id, RUN_ID).to_pandas()
    assert set(ec.RETURNS_COLUMNS) <= set(table.columns)
    # Positions 2 to 4 of the run order (space-filling by default): those grid points, by index.
    assert sorted(table["point"].unique()) == sorted(config.run_order()[2:5].tolist())
    for index, rows in table.groupby("point"):
        record = json.loads((tmp_path / ec.point_key(config.dag_id, RUN_ID, int(index))).read_text())
        assert record["synthetic"] is True and record["bars_per_year"] == 252
        assert len(rows) == len(np.unique(rows["date"]))  # every bar once, none thinned out
        expected = recomputed(rows, record["risk_free_rate"], record["bars_per_year"])
        assert set(expected) <= set(ec.METRIC_NAMES)
        for name, value in expected.items():
            assert record["metrics"][name] == pytest.approx(value, rel=1e-9, abs=1e-12), name
        assert (rows["gross_return"] >= rows["net_return"]).all()
