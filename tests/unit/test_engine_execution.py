"""Fills and costs: next-open, next-close and same-close fills, intraday stops with gaps, costs on trades."""

from __future__ import annotations

import dataclasses

import numpy as np

from airflow_backtest_framework.config import SweepConfig
from backtest_engine import load_market_data, run_point
from backtest_engine.data import MarketData
from backtest_engine.execution import Execution, fills
from backtest_engine.metrics import evaluate
from backtest_engine.positions import Signals, simulate
from backtest_engine.strategies import build_strategy
from tests.support.sweeps import grid_params

DATES = np.arange("2024-01-01", "2024-01-11", dtype="datetime64[D]")


def bars(close: list[float], open_: list[float] | None = None, low=None, high=None) -> MarketData:
    """One symbol's bars; high/low default to the larger/smaller of open and close."""
    close_a = np.array(close, dtype=float)[:, None]
    if open_ is None:
        return MarketData(symbols=("ABC",), dates=DATES[: close_a.size], close=close_a)
    open_a = np.array(open_, dtype=float)[:, None]
    low_a = np.minimum(open_a, close_a) if low is None else np.array(low, dtype=float)[:, None]
    high_a = np.maximum(open_a, close_a) if high is None else np.array(high, dtype=float)[:, None]
    return MarketData(
        symbols=("ABC",), dates=DATES[: close_a.size], close=close_a, open=open_a, high=high_a, low=low_a
    )


def signals(n_days: int, entry_day: int, exit_day: int | None, side: int = 1, stop: float = 0.5) -> Signals:
    entry = np.zeros((1, n_days), dtype=np.int8)
    entry[0, entry_day] = side
    exits = np.zeros((1, n_days), dtype=bool)
    if exit_day is not None:
        exits[0, exit_day] = True
    return Signals(entry, exits, exits.copy(), 1.0, stop, None, 0, 0)


def execution(fill: str, cost_bps: float = 0.0, borrow_bps: float = 0.0, has_ohlc: bool = True) -> Execution:
    stops = "intraday" if has_ohlc and fill != "same_close" else "close"
    return Execution(fill, fill, stops, cost_bps * 1e-4, borrow_bps * 1e-4, 0.0)


def gross(data: MarketData, sig: Signals, exe: Execution) -> np.ndarray:
    book = simulate(data.log_close_by_symbol, sig, prices=exe.fill_prices(data))
    performance = evaluate(data, book, 1.0, 1.0, exe, fills(book, data, sig, exe))
    return performance.returns.gross


MOMENTUM_PARAMS = grid_params("MomentumStrategy", "10", "0.02", "0.05", "1")


def fills_sweep(
    strategy: str, params: dict[str, str], universe: list[str], start_date: str, end_date: str
) -> SweepConfig:
    """A one-point sweep run through the engine's loader and fills."""
    return SweepConfig(
        name="fills_test",
        strategy=strategy,
        params=params,
        universe=universe,
        start_date=start_date,
        end_date=end_date,
    )


CLOSE = [100.0, 101.0, 104.0, 110.0, 108.0, 112.0]
OPEN = [100.0, 100.5, 102.0, 105.0, 111.0, 109.0]


def test_next_open_buys_at_the_next_open_and_sells_at_the_open_after_the_exit_signal() -> None:
    data = bars(CLOSE, OPEN)
    returns = gross(data, signals(6, entry_day=1, exit_day=3), execution("next_open"))
    expected = [0, 0, 104 / 102 - 1, 110 / 104 - 1, 111 / 110 - 1, 0]
    np.testing.assert_allclose(returns, expected, atol=1e-12)


def test_next_close_and_same_close_fill_at_closes() -> None:
    data = bars(CLOSE, OPEN)
    later = gross(data, signals(6, 1, 3), execution("next_close"))
    np.testing.assert_allclose(later, [0, 0, 0, 110 / 104 - 1, 108 / 110 - 1, 0], atol=1e-12)
    same = gross(data, signals(6, 1, 3), execution("same_close"))
    np.testing.assert_allclose(same, [0, 0, 104 / 101 - 1, 110 / 104 - 1, 0, 0], atol=1e-12)


def test_an_intraday_stop_fills_at_its_level_and_a_gap_through_it_at_the_open() -> None:
    close = [100.0, 100.0, 100.0, 99.0, 97.0, 96.0]
    open_ = [100.0, 100.0, 100.0, 99.5, 98.0, 96.0]
    low = [100.0, 100.0, 99.0, 96.0, 94.0, 95.0]  # 5 % under the 100 entry: 95, reached on bar 4
    data = bars(close, open_, low=low)
    returns = gross(data, signals(6, 1, None, stop=0.05), execution("next_open"))
    np.testing.assert_allclose(returns[4], 95 / 99 - 1, atol=1e-12)
    assert returns[5] == 0.0  # flat after the stop
    gapped = bars(close, [100.0, 100.0, 100.0, 99.5, 93.0, 96.0], low=[100, 100, 99, 96, 92, 95])
    returns = gross(gapped, signals(6, 1, None, stop=0.05), execution("next_open"))
    np.testing.assert_allclose(returns[4], 93 / 99 - 1, atol=1e-12)  # the open, below the level


def test_a_short_stop_watches_the_highs() -> None:
    close = [100.0, 100.0, 100.0, 101.0, 103.0, 103.0]
    open_ = [100.0, 100.0, 100.0, 100.5, 102.0, 103.0]
    high = [100.0, 100.0, 101.0, 102.0, 106.0, 104.0]  # stop at 105 (5 % above the 100 entry)
    data = bars(close, open_, high=high)
    returns = gross(data, signals(6, 1, None, side=-1, stop=0.05), execution("next_open"))
    np.testing.assert_allclose(returns[4], -(105 / 101 - 1), atol=1e-12)
    assert returns[5] == 0.0


def test_without_ohlc_stops_fill_at_the_close_and_next_open_becomes_next_close() -> None:
    config = fills_sweep("MomentumStrategy", MOMENTUM_PARAMS, ["AAA", "BBB"], "2022-01-01", "2022-12-31")
    data = dataclasses.replace(load_market_data(config), open=None, high=None, low=None)
    record = run_point(config, 0, data).execution
    assert record["fill"] == "next_close" and record["requested_fill"] == "next_open"
    assert record["stops"] == "close" and record["optimistic"] is False and record["synthetic"] is True
    same = run_point(config.model_copy(update={"fill": "same_close"}), 0, data).execution
    assert same["fill"] == "same_close" and same["optimistic"] is True


def test_commission_slippage_and_borrow_are_charged() -> None:
    data = bars(CLOSE, OPEN)
    sig = signals(6, entry_day=1, exit_day=3, side=-1)
    free = gross(data, sig, execution("next_open"))
    book = simulate(data.log_close_by_symbol, sig, prices=execution("next_open").fill_prices(data))
    costly = execution("next_open", cost_bps=10.0, borrow_bps=252 * 100.0)
    daily = evaluate(data, book, 1.0, 1.0, costly, fills(book, data, sig, costly)).returns
    # Costs change returns before them only through the size of the entry: 1 / (1 + 10 bps) of equity.
    np.testing.assert_allclose(daily.gross, free * [1, 1, 1 / 1.001, 1, 1, 1])
    # The open entry at bar 2 sells short 1/(1 + 10 bps) of equity and pays 10 bps on it; at closes 2
    # and 3 the short is traded back to its weight; the exit at bar 4's open buys back what it is
    # worth then. Borrow: 1 % a bar for each bar the short is held over (3 and 4).
    c = 0.001
    size = 1 / (1 + c)
    before = daily.gross[2] - c * size
    back_2 = abs(size * 104 / 102 - (1 + before))
    back_3 = abs((110 / 104 - 1) - daily.gross[3])
    charges = np.array([0, 0, c * (size + back_2), 0.01 + c * back_3, 0.01 + c * 111 / 110, 0])
    np.testing.assert_allclose(daily.gross - daily.net, charges, atol=1e-12)
    np.testing.assert_allclose(daily.traded, [0, 0, size + back_2, back_3, 111 / 110, 0], atol=1e-12)
    np.testing.assert_allclose(daily.exposure, [0, 0, 1, 1, 0, 0])


def test_synthetic_bars_have_consistent_ohlc_and_run_next_open_with_intraday_stops() -> None:
    params = grid_params("MeanReversionStrategy", "20", "1.5", "0.03", "1")
    config = fills_sweep("MeanReversionStrategy", params, ["AAA", "BBB", "CCC"], "2021-01-01", "2022-12-31")
    data = load_market_data(config)
    assert data.has_ohlc and data.synthetic
    assert (data.low <= np.minimum(data.open, data.close)).all()
    assert (data.high >= np.maximum(data.open, data.close)).all()
    result = run_point(config, 0, data)
    assert result.execution["fill"] == "next_open" and result.execution["stops"] == "intraday"
    assert result.execution["synthetic"] is True and "requested_fill" not in result.execution


def test_stop_losses_lose_the_stop_exactly_unless_the_bar_gaps_through_it() -> None:
    universe = [f"S{number:02d}" for number in range(20)]
    config = fills_sweep("MomentumStrategy", MOMENTUM_PARAMS, universe, "2015-01-01", "2020-12-31")
    data = load_market_data(config)
    sig = build_strategy(config.strategy, config.point(0)).signals(data)
    exe = Execution.of(config, data)
    book = simulate(data.log_close_by_symbol, sig, prices=exe.fill_prices(data))
    trade_fills = fills(book, data, sig, exe)
    stopped = book.risk_exit
    assert stopped.sum() >= 20
    loss = -(book.direction * np.expm1(trade_fills.exit_price - trade_fills.entry_price))[stopped]
    log_open = np.log(data.open.T)[book.symbol[stopped], trade_fills.exit_bar[stopped]]
    gapped = np.isclose(trade_fills.exit_price[stopped], log_open, rtol=0, atol=1e-12)
    np.testing.assert_allclose(loss[~gapped], 0.05, rtol=1e-9)
    assert (loss[gapped] >= 0.05 - 1e-9).all()
