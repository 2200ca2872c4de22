"""No look-ahead: what happens after bar k never changes returns before k; quoted ranges, frequency, lags."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from airflow_backtest_framework import engine_contract as ec
from airflow_backtest_framework.config import SweepConfig
from backtest_engine import load_market_data, main, run_point
from backtest_engine.data import MarketData
from backtest_engine.execution import Execution, fills
from backtest_engine.metrics import Book
from backtest_engine.positions import simulate
from backtest_engine.strategies import build_strategy
from tests.support.sweeps import grid_params

SAMPLE_UNIVERSE = ["AAPL", "GOOG", "IBM", "MSFT"]  # GOOG quotes from 2004-08-19: a late listing
LATE_FACTOR_START = 150  # bars without any value of the factor
PARAMS = {
    "MeanReversionStrategy": "20,1.0,0.03,2",
    "MomentumStrategy": "10,0.01,0.03,1",
    "LongShortEquityStrategy": "5,0.05,0.03,3",
}


def sweep(strategy: str, factors: list[str] | None = None, **fields: object) -> SweepConfig:
    values = PARAMS[strategy].split(",")
    return SweepConfig(
        name="causality_test",
        strategy=strategy,
        params=grid_params(strategy, *values),
        universe=fields.pop("universe", SAMPLE_UNIVERSE),
        factors=factors or [],
        start_date=fields.pop("start_date", "2004-01-01"),
        end_date=fields.pop("end_date", "2006-06-30"),
        **fields,
    )


def beta_sweep(**fields: object) -> SweepConfig:
    """The long-short sweep over AAA and BBB in 2023's first quarter, ranking on a Beta factor."""
    return sweep(
        "LongShortEquityStrategy",
        factors=["Beta"],
        universe=["AAA", "BBB"],
        start_date="2023-01-01",
        end_date="2023-03-31",
        **fields,
    )


def with_late_factor(data: MarketData, seed: int = 7) -> MarketData:
    values = np.random.default_rng(seed).normal(size=data.close.shape)
    values[:LATE_FACTOR_START] = np.nan
    return dataclasses.replace(data, factors={"PriceToBook": values})


def changed_after(data: MarketData, k: int, seed: int) -> MarketData:
    """The same data, with every price and factor value from bar k on moved at random."""
    rng = np.random.default_rng(seed)
    scale = np.ones_like(data.close)
    scale[k:] = np.exp(rng.normal(0.0, 0.04, size=scale[k:].shape))
    prices = {name: getattr(data, name) * scale for name in ("close", "open", "high", "low")}
    factors = {}
    for name, values in data.factors.items():
        moved = values.copy()
        moved[k:] = rng.normal(size=moved[k:].shape)
        factors[name] = moved
    return dataclasses.replace(data, factors=factors, **prices)


@pytest.mark.parametrize("strategy", sorted(PARAMS))
@pytest.mark.parametrize("fill", ["next_open", "next_close", "same_close"])
def test_changes_after_bar_k_leave_every_earlier_return_unchanged(strategy: str, fill: str) -> None:
    config = sweep(strategy, fill=fill)
    data = load_market_data(config, "sample")
    if strategy == "LongShortEquityStrategy":
        config = sweep(strategy, factors=["PriceToBook"], fill=fill)
        data = with_late_factor(data)
    before = run_point(config, 0, data).returns
    assert before.traded.sum() > 0
    strategy = build_strategy(config.strategy, config.point(0))
    decided = strategy.signals(data, config.factors)
    for k in (LATE_FACTOR_START - 20, 300, 500):
        moved = changed_after(data, k, seed=k)
        after = run_point(config, 0, moved).returns
        for name in ("net", "gross", "exposure", "traded", "benchmark"):
            np.testing.assert_array_equal(getattr(after, name)[:k], getattr(before, name)[:k], err_msg=name)
        assert not np.array_equal(after.gross[k:], before.gross[k:])
        # Orders decided at closes before k (filled at k at the earliest with next-bar fills) too.
        again = strategy.signals(moved, config.factors)
        for name in ("entry", "exit_long", "exit_short"):
            np.testing.assert_array_equal(
                getattr(again, name)[:, :k], getattr(decided, name)[:, :k], err_msg=name
            )


def test_a_factor_that_begins_late_is_not_used_before_it_begins() -> None:
    config = sweep("LongShortEquityStrategy", factors=["PriceToBook"])
    data = with_late_factor(load_market_data(sweep("LongShortEquityStrategy"), "sample"))
    changed = dataclasses.replace(
        data, factors={"PriceToBook": with_late_factor(data, seed=99).factors["PriceToBook"]}
    )
    first, second = (run_point(config, 0, d).returns.net for d in (data, changed))
    np.testing.assert_array_equal(first[:LATE_FACTOR_START], second[:LATE_FACTOR_START])


def write_csv(folder: Path, symbol: str, dates, close, **columns) -> None:
    folder.mkdir(exist_ok=True)
    pd.DataFrame({"date": dates, "close": close, **columns}).to_csv(folder / f"{symbol}.csv", index=False)


def test_a_delisted_symbol_is_closed_at_its_last_quote_and_never_traded_after(tmp_path: Path) -> None:
    days = pd.bdate_range("2023-01-02", "2023-06-30")
    rng = np.random.default_rng(3)
    last = 60
    for symbol, count in (("AAA", days.size), ("BBB", last + 1)):
        walk = 50 * np.exp(np.cumsum(rng.normal(0.002, 0.02, count)))
        write_csv(tmp_path / "data", symbol, days[:count], walk)
    config = sweep(
        "MomentumStrategy", universe=["AAA", "BBB"], start_date="2023-01-01", end_date="2023-06-30"
    )
    config = config.model_copy(update={"params": {**config.params, "signal_threshold": "0"}})
    data = load_market_data(config, str(tmp_path / "data"))
    assert data.last_quote.tolist() == [days.size - 1, last]
    signals = build_strategy(config.strategy, config.point(0)).signals(data)
    execution = Execution.of(config, data)
    book = simulate(data.log_close_by_symbol, signals, prices=execution.fill_prices(data))
    trade_fills = fills(book, data, signals, execution)
    of_bbb = book.symbol == 1
    assert of_bbb.any() and (trade_fills.entry_bar[of_bbb] <= last).all()
    assert (trade_fills.exit_bar[of_bbb] <= last).all()
    held = Book(
        2,
        data.n_days,
        book.symbol,
        trade_fills.entry_bar,
        trade_fills.exit_bar,
        book.direction,
        book.risk_exit,
    )
    assert not held.positions()[1, last:].any()


def test_monthly_bars_are_annualised_with_12_and_hourly_bars_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    months = pd.date_range("2015-01-31", "2022-12-31", freq="ME")
    rng = np.random.default_rng(5)
    for symbol in ("AAA", "BBB"):
        write_csv(
            tmp_path / "monthly", symbol, months, 20 * np.exp(np.cumsum(rng.normal(0.01, 0.05, months.size)))
        )
    config = sweep(
        "MomentumStrategy", universe=["AAA", "BBB"], start_date="2015-01-01", end_date="2022-12-31"
    )
    data = load_market_data(config, str(tmp_path / "monthly"))
    assert data.frequency == "monthly" and data.bars_per_year == 12
    result = run_point(config, 0, data)
    net = result.returns.net
    assert result.metrics["annual_volatility"] == pytest.approx(net.std(ddof=1) * np.sqrt(12))
    hours = pd.date_range("2023-01-02 09:00", periods=200, freq="h")
    for symbol in ("AAA", "BBB"):
        write_csv(tmp_path / "hourly", symbol, hours, np.linspace(10, 11, hours.size))
    env = {
        ec.ENV_SPEC: config.to_json(),
        ec.ENV_STRATEGY: config.strategy,
        ec.ENV_CHUNK_START: "0",
        ec.ENV_CHUNK_COUNT: "1",
        ec.ENV_RESULTS_URI: str(tmp_path / "out"),
        ec.ENV_DAG_ID: config.dag_id,
        ec.ENV_RUN_ID: "run",
        ec.ENV_DATA_SOURCE: str(tmp_path / "hourly"),
    }
    assert main(env) == 2
    assert "hourly bars" in capsys.readouterr().err
    fortnightly = pd.date_range("2020-01-01", periods=60, freq="15D")
    for symbol in ("AAA", "BBB"):
        write_csv(tmp_path / "odd", symbol, fortnightly, np.linspace(10, 11, fortnightly.size))
    assert main({**env, ec.ENV_DATA_SOURCE: str(tmp_path / "odd")}) == 2
    assert "15 days apart" in capsys.readouterr().err


def test_factor_publication_lag_shifts_the_values_later(tmp_path: Path) -> None:
    days = pd.bdate_range("2023-01-02", "2023-03-31")
    for symbol in ("AAA", "BBB"):
        write_csv(
            tmp_path, symbol, days, np.linspace(10, 12, days.size), Beta=np.arange(days.size, dtype=float)
        )
    config = beta_sweep(factor_lags={"Beta": 3})
    beta = load_market_data(config, str(tmp_path)).factors["Beta"][:, 0]
    assert np.isnan(beta[:3]).all() and beta[3:].tolist() == list(range(days.size - 3))


def test_the_bundled_sample_is_real_adjusted_daily_data(tmp_path: Path) -> None:
    config = sweep("MomentumStrategy", start_date="2005-01-01", end_date="2012-12-31")
    env = {
        ec.ENV_SPEC: config.to_json(),
        ec.ENV_STRATEGY: config.strategy,
        ec.ENV_CHUNK_START: "0",
        ec.ENV_CHUNK_COUNT: "1",
        ec.ENV_RESULTS_URI: str(tmp_path),
        ec.ENV_DAG_ID: config.dag_id,
        ec.ENV_RUN_ID: "run",
        ec.ENV_DATA_SOURCE: "sample",
    }
    assert main(env) == 0
    record = json.loads((tmp_path / ec.point_key(config.dag_id, "run", 0)).read_text())
    assert record["data_source"] == "sample" and record["synthetic"] is False
    assert record["fill"] == "next_open" and record["stops"] == "intraday" and record["optimistic"] is False
    data = load_market_data(config, "sample")
    assert data.has_ohlc and data.frequency == "daily"
    # Adjusted: AAPL's 2:1 split of 2005-02-28 is no -50 % day.
    assert np.abs(data.returns_by_symbol).max() < 0.35
    assert (data.low <= np.minimum(data.open, data.close) + 1e-9).all()


def test_the_sample_refuses_symbols_and_factors_it_does_not_hold(capsys: pytest.CaptureFixture) -> None:
    from backtest_engine import DataSourceError

    with pytest.raises(DataSourceError, match="not TSLA"):
        load_market_data(sweep("MomentumStrategy", universe=["AAPL", "TSLA"]), "sample")
    with pytest.raises(DataSourceError, match="no factor Beta"):
        load_market_data(sweep("LongShortEquityStrategy", factors=["Beta"]), "sample")


def test_the_loader_never_back_fills_a_factor(tmp_path: Path) -> None:
    days = pd.bdate_range("2023-01-02", "2023-03-31")
    late = np.where(np.arange(days.size) < 20, np.nan, 2.0)
    for symbol in ("AAA", "BBB"):
        write_csv(tmp_path, symbol, days, np.linspace(10, 12, days.size), Beta=late)
    config = beta_sweep()
    beta = load_market_data(config, str(tmp_path)).factors["Beta"]
    assert np.isnan(beta[:20]).all() and (beta[20:] == 2.0).all()
